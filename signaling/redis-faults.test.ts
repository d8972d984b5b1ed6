// A server process whose Redis connections reset at unlucky moments (a failover, an idle timeout,
// a load balancer): a TCP proxy between the server and a real redis-server cuts the one connection
// carrying a chosen command. The process must stay up, answer, and record what it was doing.
import { createServer, connect as tcpConnect, type Server as NetServer, type Socket as NetSocket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { JoinReply, JoinRequest } from '../runtime/protocol/signaling.ts';
import { hasRedisServer, startRedis, type TestRedis } from './redis.fixture.ts';
import { startServer, type RunningServer } from './server.ts';

interface Proxy {
  readonly url: string;
  /** Cuts the next connection whose outgoing bytes contain `needle`, before forwarding them. */
  cutOn(needle: string): Promise<void>;
  close(): Promise<void>;
}

async function proxy(target: number): Promise<Proxy> {
  let armed: { needle: string; done: () => void } | undefined;
  const open = new Set<NetSocket>();
  const srv: NetServer = createServer((c) => {
    const up = tcpConnect(target, '127.0.0.1');
    open.add(c).add(up);
    c.on('data', (d) => {
      if (armed !== undefined && d.toString('latin1').includes(armed.needle)) {
        const a = armed;
        armed = undefined;
        c.destroy();
        up.destroy();
        a.done();
        return;
      }
      up.write(d);
    });
    up.on('data', (d) => c.write(d));
    const end = (): void => {
      c.destroy();
      up.destroy();
    };
    c.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    cutOn: (needle) =>
      new Promise<void>((done) => {
        armed = { needle, done };
      }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        srv.close(() => r());
      }),
  };
}

let redis: TestRedis | undefined;
let px: Proxy | undefined;
let server: RunningServer | undefined;
let logs: string[] = [];
const sockets: Socket[] = [];
const rejections: unknown[] = [];
const onRejection = (e: unknown): void => {
  rejections.push(e);
};

beforeAll(async () => {
  if (!hasRedisServer) return;
  redis = await startRedis();
  process.on('unhandledRejection', onRejection);
});
afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await redis?.stop();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await server?.close();
  await px?.close();
  logs = [];
});

async function serverBehindProxy(): Promise<RunningServer> {
  px = await proxy(redis!.port);
  server = await startServer({ port: 0, distDir: '/nonexistent', log: (l) => logs.push(l), redisUrl: px.url });
  return server;
}

async function client(): Promise<Socket> {
  const s = connect(server!.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(s);
  await new Promise<void>((res, rej) => {
    s.once('connect', () => res());
    s.once('connect_error', rej);
  });
  return s;
}
const req = (role: JoinRequest['role'], over: Partial<JoinRequest> = {}): JoinRequest => ({
  role,
  cluster: 'blip',
  token: 's3cret-token-value',
  resources: { CPU: 1 },
  gpuFallback: false,
  ...over,
});
const join = (s: Socket, r: unknown): Promise<JoinReply> => s.emitWithAck('join', r) as Promise<JoinReply>;

describe.skipIf(!hasRedisServer)('a server whose Redis connections reset', () => {
  it('loses the relayed message, not the process: a failed publish between processes is logged, never an unhandled rejection', async () => {
    await serverBehindProxy();
    const head = await client();
    const node = await client();
    const h = await join(head, req('coordinator'));
    const n = await join(node, req('node'));
    if (!h.ok || !n.ok) throw new Error('join refused');
    // The relay goes out as a PUBLISH on the adapter's publish connection, which resets.
    const cut = px!.cutOn('PUBLISH');
    node.emit('signal', { to: h.nodeId, data: 'offer' });
    await cut;
    await vi.waitFor(() => expect(logs.join('\n')).toContain('1 message(s) between server processes were lost'));
    expect(rejections.map((e) => String(e))).toEqual([]);
  });

  it('records a departure that hit a reset once Redis answers again: the coordinator that left gets its cluster back with its secret', async () => {
    const s = await serverBehindProxy();
    const head = await client();
    const h = await join(head, req('coordinator', { cluster: 'ghost' }));
    if (!h.ok) throw new Error('join refused');
    const secret = h.coordinatorSecret ?? '';
    // The coordinator's tab closes while the commands connection resets under its leave.
    const cut = px!.cutOn('EVALSHA');
    head.close();
    await cut;
    await vi.waitFor(async () => expect(await s.registry.holdsFor('ghost', secret)).toBe(true), { timeout: 10_000, interval: 100 });
    expect(await join(await client(), req('coordinator', { cluster: 'ghost', coordinatorSecret: secret }))).toMatchObject({ ok: true });
  });

  it('answers a returning coordinator whose join hits a reset with unavailable, not silence', async () => {
    const s = await serverBehindProxy();
    const first = await client();
    const h = await join(first, req('coordinator', { cluster: 'back' }));
    if (!h.ok) throw new Error('join refused');
    const secret = h.coordinatorSecret ?? '';
    first.close();
    await vi.waitFor(async () => expect(await s.registry.holdsFor('back', secret)).toBe(true));
    const again = await client();
    // The first registry call of this join (is the name held for this secret?) meets the reset.
    const cut = px!.cutOn('EVALSHA');
    const reply = join(again, req('coordinator', { cluster: 'back', coordinatorSecret: secret }));
    await cut;
    expect(await reply).toMatchObject({ ok: false, code: 'unavailable' });
  });
});
