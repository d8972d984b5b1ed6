// The volunteer page joins again on its own while its coordinator's page reloads (demo/join.ts):
// those tries must neither be struck as guesses nor lock the returning coordinator out.
import { createServer, type Server as HttpServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import type { JoinReply, JoinRequest } from '../runtime/protocol/signaling.ts';
import { attachClusterSignaling, type SignalingServer } from './cluster-signaling.ts';
import { listen } from './server.ts';

const TOKEN = 's3cret-token-value';
const REJOIN_EVERY_MS = 2_000;

let io: SignalingServer;
let http: HttpServer;
let url: string;
let clock: number;
const sockets: Socket[] = [];

beforeEach(async () => {
  clock = 0;
  http = createServer();
  io = new Server(http);
  attachClusterSignaling(io, { log: () => {}, now: () => clock });
  url = `http://127.0.0.1:${await listen(http, 0, '127.0.0.1')}`;
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  const closed = io.close();
  http.closeAllConnections();
  await closed;
});

async function client(): Promise<Socket> {
  const s = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return s;
}

const req = (over: Partial<JoinRequest> = {}): JoinRequest => ({ role: 'node', cluster: 'lab', token: TOKEN, resources: { CPU: 2 }, gpuFallback: false, ...over });
const join = (s: Socket, r: JoinRequest): Promise<JoinReply> => s.emitWithAck('join', r) as Promise<JoinReply>;

/** One try of the rejoin loop: SignalingClient.connect opens a fresh socket per join. */
async function rejoinTry(): Promise<JoinReply> {
  const s = await client();
  const reply = await join(s, req());
  s.close();
  return reply;
}

describe('a coordinator away for a moment (its page reloading)', () => {
  it('volunteers that know the token are told to come back, never struck, for as long as the name is held', async () => {
    const head = await client();
    expect((await join(head, req({ role: 'coordinator' }))).ok).toBe(true);
    head.close();
    const codes = new Set<string>();
    for (clock = REJOIN_EVERY_MS; clock < 58_000; clock += REJOIN_EVERY_MS) {
      const r = await rejoinTry();
      codes.add(r.ok ? 'ok' : r.code);
      if (!r.ok) expect(r.message).toContain('the coordinator of cluster lab is away');
    }
    expect([...codes]).toEqual(['coordinator_away']);
    // A wrong token is still the one answer for a wrong token or no cluster, and a strike.
    const guess = await client();
    expect(await join(guess, req({ token: 'not-the-token-at-all' }))).toMatchObject({ ok: false, code: 'wrong_token' });
  });

  it('a coordinator that leaves (acknowledged) is shut down, not away: volunteers get the answer for a cluster nobody runs', async () => {
    const head = await client();
    expect((await join(head, req({ role: 'coordinator' }))).ok).toBe(true);
    await head.emitWithAck('leave');
    head.close();
    clock = 1_000;
    expect(await rejoinTry()).toMatchObject({ ok: false, code: 'wrong_token' });
  });

  it('guesses from its network do not lock the coordinator out: it takes its name back with its secret', async () => {
    const head = await client();
    const headReply = await join(head, req({ role: 'coordinator' }));
    if (!headReply.ok) throw new Error(headReply.message);
    head.close();
    let throttled = false;
    for (clock = 100; clock <= 3_000; clock += 100) {
      const s = await client();
      const r = await join(s, req({ token: `guess-${clock}-xxxxxxxx` }));
      s.close();
      if (!r.ok && r.code === 'too_many_attempts') throttled = true;
    }
    expect(throttled).toBe(true);
    const back = await client();
    expect(await join(back, req({ role: 'coordinator', coordinatorSecret: headReply.coordinatorSecret! }))).toMatchObject({ ok: true });
  });
});
