// The cluster protocol end to end: a real server on port 0, real socket.io-client sockets.
import type { EventEmitter } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { MAX_SIGNAL_BYTES, type JoinReply, type JoinRequest, type MemberInfo } from '../runtime/protocol/signaling.ts';
import { attachClusterSignaling, type SignalingServer } from './cluster-signaling.ts';
import { listen, startServer, type RunningServer } from './server.ts';

type Client = Socket & { events: [string, unknown][] };
type Joined = Extract<JoinReply, { ok: true }>;

const TOKEN = 's3cret-token-value';

/**
 * How soon a closed connection must be noticed: at once, from the connection itself, not by the
 * heartbeat, which would take PING_INTERVAL_MS + PING_TIMEOUT_MS (5–10 s). Measured 2–35 ms on
 * the shared 2-core machine under load; 3 s leaves room for a loaded machine on either side.
 */
const NOTICE_BOUND_MS = 3_000;

let server: RunningServer;
let logs: string[];
let clients: Client[];

beforeEach(async () => {
  logs = [];
  clients = [];
  server = await startServer({ port: 0, distDir: '/nonexistent', log: (line) => logs.push(line) });
});

afterEach(async () => {
  for (const c of clients) c.close();
  await server.close();
});

/**
 * Event name of the markers `drained` has the server send; clients do not record it. Not part
 * of the protocol: the test sends it through socket.io directly.
 */
const MARKER = 'test_marker';

/** A connected socket that records every server event it receives (but `drained`'s markers). */
async function client(url = server.url): Promise<Client> {
  const s = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true }) as Client;
  s.events = [];
  s.onAny((event: string, arg: unknown) => {
    if (event !== MARKER) s.events.push([event, arg]);
  });
  clients.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return s;
}

function request(over: Partial<JoinRequest> = {}): JoinRequest {
  return { role: 'node', cluster: 'lab', token: TOKEN, resources: { CPU: 2 }, gpuFallback: false, ...over };
}

/**
 * Sends a join and resolves with the server's reply. No timeout of its own: a reply that never
 * comes fails the test at vitest's testTimeout; one that is slow on a loaded machine is no failure.
 */
function join(s: Socket, req: unknown): Promise<JoinReply> {
  return s.emitWithAck('join', req) as Promise<JoinReply>;
}

async function joined(s: Socket, req: JoinRequest): Promise<Joined> {
  const reply = await join(s, req);
  if (!reply.ok) throw new Error(`join refused: ${reply.code} ${reply.message}`);
  return reply;
}

/** Resolves with the next `event` on `s` (no timeout of its own, as for `join`). */
function next<T = unknown>(s: Socket, event: string): Promise<T> {
  return new Promise<T>((resolve) => s.once(event, resolve));
}

/** Resolves once `s` has received `count` `event`s in all, those already received included. */
function received(s: Client, event: string, count: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = (): void => {
      if (s.events.filter(([e]) => e === event).length < count) return;
      s.offAny(check);
      resolve();
    };
    s.onAny(check); // after the recorder, so the event that arrives is counted
    check();
  });
}

/** The main server's end of client `s`. */
function serverSide(s: Socket): EventEmitter {
  const socket = s.id === undefined ? undefined : server.io.of('/').sockets.get(s.id);
  if (socket === undefined) throw new Error(`the server has no socket ${s.id ?? '(not connected)'}`);
  return socket;
}

/**
 * Resolves once the server has handled the next `event` from `s` (or, for 'disconnect', noticed
 * that `s` went). Call it before sending. The server runs its listeners in the order they were
 * added, the protocol's first, so when this resolves the protocol has done all it does for it.
 */
function handled(s: Socket, event: string): Promise<void> {
  const socket = serverSide(s) as EventEmitter & { data: { settled?: () => Promise<unknown> } };
  return new Promise<void>((resolve) => socket.once(event, () => resolve()))
    .then(() => socket.data.settled?.())
    .then(() => undefined);
}

let markers = 0;

/**
 * Resolves once `s` has received everything the main server sent it so far: the server sends a
 * marker now, and one connection delivers in order. So after `drained(s)`, `s.events` holds all
 * the server sent `s` while handling the events it has handled up to now, and an absence in it is
 * proven, not guessed from a quiet moment. Rejects if `s` is disconnected first.
 */
function drained(s: Client): Promise<void> {
  const marker = ++markers;
  const arrived = new Promise<void>((resolve, reject) => {
    const onMarker = (m: unknown): void => {
      if (m !== marker) return;
      s.off(MARKER, onMarker);
      s.off('disconnect', onGone);
      resolve();
    };
    const onGone = (): void => {
      s.off(MARKER, onMarker);
      reject(new Error(`socket ${s.id ?? ''} was disconnected before marker ${marker}`));
    };
    s.on(MARKER, onMarker);
    s.once('disconnect', onGone);
  });
  (serverSide(s) as unknown as { emit(event: string, ...args: unknown[]): boolean }).emit(MARKER, marker);
  return arrived;
}

/**
 * Resolves once the server has handled everything `s` sent so far: with 'answered' when a later
 * harmless request (a coordinator's join with an empty token: refused, neither garbage nor a
 * strike) came back, 'dropped' when the server disconnected `s` instead.
 */
async function settled(s: Client): Promise<'answered' | 'dropped'> {
  if (!s.connected) return 'dropped';
  return Promise.race([
    join(s, request({ role: 'coordinator', cluster: 'nobody-runs-this', token: '' })).then(
      (reply) => {
        expect(reply).toMatchObject({ ok: false, code: 'weak_token' });
        return 'answered' as const;
      },
      () => 'dropped' as const, // emitWithAck rejects when the socket disconnects
    ),
    next(s, 'disconnect').then(() => 'dropped' as const),
  ]);
}

/** A coordinator and two nodes in `cluster`, the coordinator told of both. */
async function cluster(name = 'lab', token = TOKEN) {
  const head = await client();
  const headReply = await joined(head, request({ role: 'coordinator', cluster: name, token, label: 'head' }));
  const a = await client();
  const aReply = await joined(a, request({ cluster: name, token }));
  const b = await client();
  const bReply = await joined(b, request({ cluster: name, token, resources: { CPU: 8, GPU: 1 } }));
  await received(head, 'node_joined', 2);
  const secret = headReply.coordinatorSecret ?? '';
  return { head, headId: headReply.nodeId, secret, a, aId: aReply.nodeId, b, bId: bReply.nodeId };
}

/** The underlying ws WebSocket of a client (engine.io-client's websocket transport). */
function rawWs(s: Socket): { terminate(): void; pause(): void } {
  return (s.io.engine.transport as unknown as { ws: { terminate(): void; pause(): void } }).ws;
}

describe('joining a cluster', () => {
  it('seats the coordinator, admits two nodes and tells the coordinator about each', async () => {
    const head = await client();
    const headReply = await joined(head, request({ role: 'coordinator', resources: { CPU: 4 }, label: 'head' }));
    expect(headReply.nodeId).toMatch(/^n-[0-9a-z]{10}$/);
    expect(headReply.coordinatorId).toBe(headReply.nodeId);
    expect(headReply.members).toEqual([
      { nodeId: headReply.nodeId, role: 'coordinator', resources: { CPU: 4 }, gpuFallback: false, label: 'head' },
    ]);

    const a = await client();
    const aReply = await joined(a, request());
    const b = await client();
    const bReply = await joined(b, request({ resources: { CPU: 8, GPU: 1 }, gpuFallback: true }));

    for (const reply of [aReply, bReply]) {
      expect(reply.coordinatorId).toBe(headReply.nodeId);
      expect(reply.members.map((m) => m.nodeId)).toEqual([headReply.nodeId, reply.nodeId]);
    }
    expect(new Set([headReply.nodeId, aReply.nodeId, bReply.nodeId]).size).toBe(3);
    await received(head, 'node_joined', 2);
    await drained(head);
    const introduced: [string, MemberInfo][] = [
      ['node_joined', { nodeId: aReply.nodeId, role: 'node', resources: { CPU: 2 }, gpuFallback: false }],
      ['node_joined', { nodeId: bReply.nodeId, role: 'node', resources: { CPU: 8, GPU: 1 }, gpuFallback: true }],
    ];
    expect(head.events).toEqual(introduced);
    // Nodes are introduced to the coordinator, not to each other: both joins are handled (acked),
    // and all the server sent a and b since has arrived.
    await Promise.all([drained(a), drained(b)]);
    expect(a.events).toEqual([]);
    expect(b.events).toEqual([]);
    expect(await server.registry.members('lab')).toHaveLength(3);
  });

  it('refuses a wrong token, and the refused socket hears nothing of the cluster', async () => {
    const { head, a } = await cluster();
    const intruder = await client();
    const reply = await join(intruder, request({ token: 'guess' }));
    expect(reply).toEqual({ ok: false, code: 'wrong_token', message: expect.any(String) });
    if (reply.ok) return;
    expect(reply.message).not.toMatch(/n-[0-9a-z]{10}|head|s3cret/);

    // Cluster life goes on around it: a join, a leave, then the cluster closes.
    const c = await client();
    await joined(c, request());
    const cGone = handled(c, 'disconnect');
    const aLeft = handled(a, 'leave');
    c.close();
    a.emit('leave');
    await Promise.all([cGone, aLeft]);
    const headGone = handled(head, 'disconnect');
    head.close();
    await headGone;
    await drained(intruder);
    expect(intruder.events).toEqual([]);
    expect(intruder.connected).toBe(true);
  });

  it('refuses a second coordinator for a running cluster', async () => {
    const { head } = await cluster();
    const second = await client();
    expect(await join(second, request({ role: 'coordinator' }))).toMatchObject({ ok: false, code: 'coordinator_exists' });
    const c = await client();
    await joined(c, request());
    await received(head, 'node_joined', 3);
    await Promise.all([drained(second), drained(head)]);
    expect(second.events).toEqual([]);
    expect(head.events.map(([e]) => e)).toEqual(['node_joined', 'node_joined', 'node_joined']);
  });

  it('refuses a node before any coordinator runs the cluster, saying what to do', async () => {
    const early = await client();
    expect(await join(early, request({ cluster: 'later' }))).toEqual({
      ok: false,
      code: 'wrong_token',
      message:
        'no coordinator is running cluster later with this token (wrong token, or the cluster is not started): ' +
        'check the token in your invite link, or ask whoever started the cluster to start it',
    });
    // Once the coordinator is there, the same socket may join.
    const head = await client();
    await joined(head, request({ role: 'coordinator', cluster: 'later' }));
    expect((await join(early, request({ cluster: 'later' }))).ok).toBe(true);
  });

  it('refuses a second join on the same socket', async () => {
    const { a } = await cluster();
    expect(await join(a, request())).toMatchObject({ ok: false, code: 'already_joined' });
  });

  it('answers an invalid join with bad_request and the schema’s complaint', async () => {
    const s = await client();
    const reply = await join(s, { ...request(), cluster: '../etc' });
    expect(reply).toMatchObject({ ok: false, code: 'bad_request' });
    if (!reply.ok) expect(reply.message).toContain('cluster: a cluster name is 1–64 letters, digits, _ . -');
    expect(await join(s, 'lab')).toMatchObject({ ok: false, code: 'bad_request' });
  });
});

describe('relaying signals', () => {
  it('relays a signal between two members as { from, data }, both ways', async () => {
    const { head, headId, a, aId } = await cluster();
    const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
    const got = next(a, 'signal');
    head.emit('signal', { to: aId, data: offer });
    expect(await got).toEqual({ from: headId, data: offer });
    const back = next(head, 'signal');
    a.emit('signal', { to: headId, data: { type: 'answer' } });
    expect(await back).toEqual({ from: aId, data: { type: 'answer' } });
  });

  it('relays nothing across clusters, nor to or from a socket that is not a member', async () => {
    const lab = await cluster('lab');
    const other = await cluster('other', 'other-token-value');
    const stranger = await client();
    const sent = [handled(other.head, 'signal'), handled(lab.a, 'signal'), handled(stranger, 'signal')];
    other.head.emit('signal', { to: lab.aId, data: 'from other' });
    lab.a.emit('signal', { to: other.headId, data: 'to other' });
    stranger.emit('signal', { to: lab.headId, data: 'from nobody' });
    // Relays still work within each cluster.
    const inLab = next(lab.head, 'signal');
    lab.b.emit('signal', { to: lab.headId, data: 'ok' });
    expect(await inLab).toEqual({ from: lab.bId, data: 'ok' });
    // The server has handled the three, and everything they could have made it send has arrived.
    await Promise.all(sent);
    const everyone = [lab.head, lab.a, lab.b, other.head, other.a, other.b, stranger];
    await Promise.all(everyone.map(drained));
    for (const s of everyone) {
      expect(s.events.filter(([e, m]) => e === 'signal' && (m as { data: unknown }).data !== 'ok')).toEqual([]);
    }
  });

  it('relays a burst of 400 ICE candidates in order, without taking the burst for garbage', async () => {
    const { head, a, aId } = await cluster();
    for (let i = 0; i < 400; i++) head.emit('signal', { to: aId, data: { candidate: `candidate:${i} 1 udp 2122260223 192.168.1.${i % 250} 54321 typ host` } });
    await received(a, 'signal', 400);
    const order = a.events.filter(([e]) => e === 'signal').map(([, m]) => Number(/candidate:(\d+)/.exec((m as { data: { candidate: string } }).data.candidate)?.[1]));
    expect(order).toEqual(Array.from({ length: 400 }, (_, i) => i));
    await drained(head); // rejects if the server dropped head
    expect(logs.filter((l) => l.includes('dropped'))).toEqual([]);
  });

  it('drops a signal over MAX_SIGNAL_BYTES and keeps relaying normal ones', async () => {
    const { head, a, aId } = await cluster();
    head.emit('signal', { to: aId, data: 'x'.repeat(MAX_SIGNAL_BYTES) });
    const ok = next(a, 'signal');
    head.emit('signal', { to: aId, data: 'small' });
    expect(await ok).toMatchObject({ data: 'small' });
    // Had the big one been relayed, it would have come first: same sender, same path, in order.
    expect(a.events.filter(([e]) => e === 'signal')).toHaveLength(1);
    await drained(head); // rejects if the server dropped head
    expect(head.connected).toBe(true);
  });
});

describe('garbage', () => {
  it('forgives three invalid messages, disconnects on the fourth, and the cluster keeps working', async () => {
    const { head, headId, a, aId, b, bId } = await cluster();
    const left = next<{ nodeId: string; reason: string }>(head, 'node_left');
    const dropped = next<string>(b, 'disconnect');
    const third = handled(b, 'no_such_event');
    b.emit('signal', 'not an object');
    b.emit('signal', 42);
    b.emit('no_such_event', { x: 1 });
    await third; // the server has handled all three (one socket's events in order)
    await drained(b); // rejects if the server dropped b
    expect(b.connected).toBe(true);
    b.emit('signal', [aId, 'data']);
    expect(await dropped).toBe('io server disconnect');
    expect(await left).toEqual({ nodeId: bId, reason: 'dropped' });

    const relayed = next(a, 'signal');
    head.emit('signal', { to: aId, data: 'still here' });
    expect(await relayed).toEqual({ from: headId, data: 'still here' });
    expect((await server.registry.members('lab')).map((m) => m.nodeId)).toEqual([headId, aId]);
    expect(logs.some((l) => l.includes('dropped socket'))).toBe(true);
  });

  // 80 connections: 3.5–4.5 s on the shared 2-core machine under load, too close to the default
  // 10 s testTimeout (a hang guard here, not a bound on anything the test checks).
  it('survives every shape of nonsense from a socket that never joined', { timeout: 30_000 }, async () => {
    const { head, headId, a, aId } = await cluster();
    const payloads: unknown[] = [undefined, null, 0, 'x', true, [], [1, 2], {}, { role: 'node' }, Buffer.from('bin')];
    const events = [
      ['join', true],
      ['join', false],
      ['signal', false],
      ['leave', false],
      ['error', false],
      ['constructor', false],
      ['__proto__', false],
      ['hasOwnProperty', false],
    ] as const;
    const sent = await Promise.all(
      payloads.flatMap((p) =>
        events.map(async ([event, withAck]) => {
          const s = await client();
          for (let i = 0; i < 5; i++) {
            if (withAck) s.emit(event, p, () => {});
            else s.emit(event, p);
          }
          return { what: `${event}${withAck ? ' with ack' : ''} ${JSON.stringify(p)}`, event, s };
        }),
      ),
    );
    // Once the server has handled all of it: five invalid messages are one past the allowance,
    // so every sender is dropped, but those that sent `leave` (valid whatever its payload).
    const outcomes = await Promise.all(sent.map(({ s }) => settled(s)));
    expect(sent.map(({ what }, i) => `${what}: ${outcomes[i]}`)).toEqual(
      sent.map(({ what, event }) => `${what}: ${event === 'leave' ? 'answered' : 'dropped'}`),
    );
    const relayed = next(a, 'signal');
    head.emit('signal', { to: aId, data: 'alive' });
    expect(await relayed).toEqual({ from: headId, data: 'alive' });
    expect(await server.registry.members('lab')).toHaveLength(3);
  });

  it('does not admit a join sent without an ack, and counts it as garbage', async () => {
    const { head } = await cluster();
    const s = await client();
    const gone = next(s, 'disconnect');
    for (let i = 0; i < 4; i++) s.emit('join', request());
    expect(await gone).toBe('io server disconnect');
    // The server handled all four joins before it dropped s; all it sent head since has arrived.
    await drained(head);
    expect(head.events.filter(([e]) => e === 'node_joined')).toHaveLength(2); // a and b only
  });

  it('closes a connection that sends a message over 1 MB or an undecodable packet', async () => {
    const { head, headId, a, aId, b } = await cluster();
    const big = next(a, 'disconnect');
    a.emit('signal', { to: headId, data: 'x'.repeat(1_100_000) });
    expect(await big).toBe('transport close');
    const parse = next(b, 'disconnect');
    b.io.engine.send('2["signal",{"to":'); // a socket.io EVENT packet cut short
    expect(await parse).toBe('transport close');
    // Both were dropped from the cluster; the coordinator and a new node go on.
    await received(head, 'node_left', 2);
    await drained(head);
    expect(head.events.filter(([e]) => e === 'node_left').map(([, m]) => (m as { reason: string }).reason).sort()).toEqual([
      'disconnected',
      'dropped',
    ]);
    const c = await client();
    const cReply = await joined(c, request());
    const relayed = next(c, 'signal');
    head.emit('signal', { to: cReply.nodeId, data: 1 });
    expect(await relayed).toEqual({ from: headId, data: 1 });
    expect((await server.registry.members('lab')).map((m) => m.nodeId)).not.toContain(aId);
  });

  it('survives a signal nested too deep for socket.io’s encoder', async () => {
    const { head, headId, a, aId } = await cluster();
    const depth = 20_000; // 40 kB of JSON: under MAX_SIGNAL_BYTES, too deep to re-encode
    const deep = handled(a, 'signal');
    a.io.engine.send(`2["signal",{"to":"${headId}","data":${'['.repeat(depth)}${']'.repeat(depth)}}]`);
    await deep;
    await drained(head);
    expect(head.events.filter(([e]) => e === 'signal')).toEqual([]);
    const relayed = next(a, 'signal');
    head.emit('signal', { to: aId, data: 'after' });
    expect(await relayed).toEqual({ from: headId, data: 'after' });
    expect(a.connected).toBe(true);
  });
});

describe('leaving', () => {
  it('tells the coordinator at once, not by heartbeat, that a node’s socket closed', async () => {
    const { head, a, aId, b } = await cluster();
    const left = next<{ nodeId: string; reason: string }>(head, 'node_left');
    const toPeer = next<{ nodeId: string; reason: string }>(b, 'node_left');
    const t0 = performance.now();
    rawWs(a).terminate(); // the TCP connection drops, as when a tab is killed
    expect(await left).toEqual({ nodeId: aId, reason: 'disconnected' });
    expect(performance.now() - t0).toBeLessThan(NOTICE_BOUND_MS);
    expect(await toPeer).toEqual({ nodeId: aId, reason: 'disconnected' });
    expect(await server.registry.members('lab')).toHaveLength(2);
  });

  it('tells the coordinator about a graceful close too, just as fast', async () => {
    const { head, b, bId } = await cluster();
    const left = next(head, 'node_left');
    const t0 = performance.now();
    b.close();
    expect(await left).toEqual({ nodeId: bId, reason: 'disconnected' });
    expect(performance.now() - t0).toBeLessThan(NOTICE_BOUND_MS);
  });

  it('lets a node leave and join again on the same socket with a new id', async () => {
    const { head, a, aId } = await cluster();
    const left = next(head, 'node_left');
    a.emit('leave');
    expect(await left).toEqual({ nodeId: aId, reason: 'left' });
    expect(a.connected).toBe(true);
    const again = await joined(a, request());
    expect(again.nodeId).not.toBe(aId);
    // The relay follows the new id, not the old one.
    const got = next(a, 'signal');
    head.emit('signal', { to: aId, data: 'old' });
    head.emit('signal', { to: again.nodeId, data: 'new' });
    expect(await got).toMatchObject({ data: 'new' });
  });

  it('closes the cluster when its coordinator disconnects, and that coordinator alone can start it again', async () => {
    const { head, secret, a, b, bId } = await cluster();
    const closedA = next<{ reason: string }>(a, 'cluster_closed');
    const closedB = next<{ reason: string }>(b, 'cluster_closed');
    const t0 = performance.now();
    rawWs(head).terminate();
    expect((await closedA).reason).toMatch(/coordinator of cluster lab .*join again/);
    await closedB;
    expect(performance.now() - t0).toBeLessThan(NOTICE_BOUND_MS);
    expect(await server.registry.clusterCount()).toBe(0);
    expect(a.connected && b.connected).toBe(true);
    // Released nodes are members of nothing: their signals go nowhere.
    const bSignalled = handled(b, 'signal');
    b.emit('signal', { to: bId, data: 'x' });
    a.emit('leave');

    // A released node holding the token cannot take the seat; the coordinator's reloaded tab can.
    expect(await join(a, request({ role: 'coordinator' }))).toMatchObject({ ok: false, code: 'name_held' });
    const newHead = await client();
    const h = await joined(newHead, request({ role: 'coordinator', token: 'fresh-token-value', coordinatorSecret: secret }));
    expect(await join(a, request())).toMatchObject({ ok: false, code: 'wrong_token' });
    const again = await joined(a, request({ token: 'fresh-token-value' }));
    expect(again.coordinatorId).toBe(h.nodeId);
    await bSignalled;
    await drained(b);
    // b, no longer a member, heard nothing after cluster_closed.
    expect(b.events.map(([e]) => e)).toEqual(['cluster_closed']);
  });

  it('closes the cluster when its coordinator sends leave', async () => {
    const { head, secret, a } = await cluster();
    const closed = next<{ reason: string }>(a, 'cluster_closed');
    head.emit('leave');
    expect((await closed).reason).toBe('the coordinator of cluster lab shut it down; join again once it is started again');
    expect(await join(head, request({ role: 'coordinator', coordinatorSecret: secret }))).toMatchObject({ ok: true });
  });
});

describe('logging', () => {
  it('writes one line per join, leave and refusal, never the token', async () => {
    const { head, a } = await cluster();
    const s = await client();
    await join(s, request({ token: 'wrong-' + TOKEN }));
    // a leaves before the cluster closes, else its leave would be no one's and log nothing.
    const aLeft = handled(a, 'leave');
    a.emit('leave');
    await aLeft;
    const headGone = handled(head, 'disconnect');
    head.close();
    await headGone;
    expect(logs).toHaveLength(3 + 1 + 1 + 1);
    expect(logs.filter((l) => l.includes(' joined '))).toHaveLength(3);
    expect(logs.filter((l) => l.includes('refused'))).toEqual([expect.stringContaining('wrong_token')]);
    expect(logs.filter((l) => l.includes(' left '))).toHaveLength(2);
    for (const l of logs) expect(l).not.toContain(TOKEN);
  });
});

describe('a frozen tab', () => {
  let io: SignalingServer;
  let http: HttpServer;
  let url: string;

  beforeEach(async () => {
    http = createServer();
    // A short cycle so the frozen tab is noticed in about a second, but a timeout long enough that
    // the live coordinator's pong, read by this same (loaded) process, is never late.
    io = new Server(http, { pingInterval: 200, pingTimeout: 1000 });
    attachClusterSignaling(io, { log: () => {} });
    url = `http://127.0.0.1:${await listen(http, 0, '127.0.0.1')}`;
  });

  afterEach(async () => {
    for (const c of clients) c.close();
    const closed = io.close();
    http.closeAllConnections();
    await closed;
  });

  it('is reported as timed_out once it misses its pings', async () => {
    const head = await client(url);
    await joined(head, request({ role: 'coordinator' }));
    const a = await client(url);
    const aId = (await joined(a, request())).nodeId;
    const left = next(head, 'node_left');
    const ws = rawWs(a);
    ws.pause(); // reads nothing more, answers no ping: a frozen tab
    expect(await left).toEqual({ nodeId: aId, reason: 'timed_out' });
    ws.terminate(); // else its unread close handshake holds the port open for 30 s
  });

  it('runs the real server with a short ping cycle and a 1 MB message cap', () => {
    const opts = server.io.engine.opts;
    expect(opts.pingInterval).toBe(5000);
    expect(opts.pingTimeout).toBe(5000);
    expect(opts.maxHttpBufferSize).toBe(1_000_000);
  });
});

describe('failed joins', () => {
  let io: SignalingServer;
  let http: HttpServer;
  let url: string;
  let clock: number;
  let lines: string[];

  beforeEach(async () => {
    clock = 0;
    lines = [];
    http = createServer();
    io = new Server(http);
    attachClusterSignaling(io, { log: (l) => lines.push(l), now: () => clock });
    url = `http://127.0.0.1:${await listen(http, 0, '127.0.0.1')}`;
  });

  afterEach(async () => {
    for (const c of clients) c.close();
    const closed = io.close();
    http.closeAllConnections();
    await closed;
  });

  const guess = (i: number): JoinRequest => request({ token: `wrong-guess-number-${i}` });

  it('resume, from a hostile page: malformed requests are bad_request and garbage, guessed secrets are strikes and then refused unexamined, and the member is untouched', async () => {
    const head = await client(url);
    const h = await joined(head, request({ role: 'coordinator' }));
    const resume = (s: Socket, r: unknown): Promise<unknown> => s.emitWithAck('resume', r);
    const m = await client(url);
    // Wrong shapes: each answered bad_request, naming the field, and counted as garbage.
    expect(await resume(m, { cluster: 'lab', nodeId: h.nodeId })).toMatchObject({ ok: false, code: 'bad_request', message: expect.stringContaining('resumeSecret') });
    expect(await resume(m, { cluster: 'lab', nodeId: h.nodeId, resumeSecret: 'x'.repeat(129) })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(await resume(m, { cluster: '../../etc', nodeId: h.nodeId, resumeSecret: 'x' })).toMatchObject({ ok: false, code: 'bad_request' });
    const gone = next<string>(m, 'disconnect');
    m.emit('resume', { cluster: 'lab', nodeId: h.nodeId, resumeSecret: 'x' }); // no ack: the fourth garbage
    expect(await gone).toBe('io server disconnect');
    // Guessing the coordinator's resume secret: unknown_member, a strike each; then refused unexamined.
    const g = await client(url);
    for (let i = 0; i < 3; i++) {
      expect(await resume(g, { cluster: 'lab', nodeId: h.nodeId, resumeSecret: `guess-${i}` })).toMatchObject({ ok: false, code: 'unknown_member' });
    }
    expect(await resume(g, { cluster: 'lab', nodeId: h.nodeId, resumeSecret: h.resumeSecret })).toMatchObject({ ok: false, code: 'too_many_attempts' });
    // The real member was never displaced: a node joining is still introduced to it.
    const node = await client(url);
    const introduced = next(head, 'node_joined');
    await joined(node, request());
    await introduced;
  });

  it('are strikes: after three, a join is refused unexamined (even the right token) until the wait is over', async () => {
    const head = await client(url);
    await joined(head, request({ role: 'coordinator' }));
    const s = await client(url);
    for (let i = 0; i < 3; i++) expect(await join(s, guess(i))).toMatchObject({ ok: false, code: 'wrong_token' });
    expect(await join(s, request())).toEqual({
      ok: false,
      code: 'too_many_attempts',
      message: 'too many failed joins from this tab or its network lately: wait 1 s before trying again',
    });
    // That refusal was a strike too: the wait is now 2 s from it.
    clock = 1_999;
    expect(await join(s, request())).toMatchObject({ ok: false, code: 'too_many_attempts' });
    clock = 1_999 + 4_000;
    expect((await join(s, request())).ok).toBe(true);
    expect(lines.filter((l) => l.includes('too_many_attempts'))).toHaveLength(2);
  });

  it('disconnect a socket that keeps guessing at its tenth, and make its address wait', async () => {
    const head = await client(url);
    await joined(head, request({ role: 'coordinator' }));
    const s = await client(url);
    const gone = next<string>(s, 'disconnect');
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const reply = await join(s, guess(i));
      codes.push(reply.ok ? 'ok' : reply.code);
    }
    expect(codes).toEqual([...Array<string>(3).fill('wrong_token'), ...Array<string>(7).fill('too_many_attempts')]);
    expect(await gone).toBe('io server disconnect');
    expect(lines.some((l) => /dropped socket .* after 10 failed joins/.test(l))).toBe(true);
    // A fresh socket from the same address: the address has ten strikes, all it is allowed.
    const again = await client(url);
    expect(await join(again, request())).toMatchObject({ ok: false, code: 'too_many_attempts' });
    clock = 2_000; // 2^(11 − 10) s after the last strike
    expect((await join(again, request())).ok).toBe(true);
    await received(head, 'node_joined', 1); // the admitted one; every guess was refused above
  });

  it('hold back guesses at one cluster from an address, not other tabs of that network joining another cluster', async () => {
    const lab = await client(url);
    await joined(lab, request({ role: 'coordinator' }));
    const other = await client(url);
    await joined(other, request({ role: 'coordinator', cluster: 'other' }));
    const s = await client(url);
    for (let i = 0; i < 10; i++) await join(s, guess(i)); // the address's ten strikes at 'lab', then dropped
    const neighbour = await client(url); // another tab behind the same address
    expect(await join(neighbour, request())).toMatchObject({ ok: false, code: 'too_many_attempts' });
    expect((await join(neighbour, request({ cluster: 'other' }))).ok).toBe(true);
  });

  it('do not include refusals that are no guess: a weak token, a taken or held name', async () => {
    const head = await client(url);
    const reply = await joined(head, request({ role: 'coordinator' }));
    expect(reply.coordinatorSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const s = await client(url);
    for (let i = 0; i < 5; i++) {
      expect(await join(s, request({ role: 'coordinator', token: 'short' }))).toMatchObject({ ok: false, code: 'weak_token' });
      expect(await join(s, request({ role: 'coordinator' }))).toMatchObject({ ok: false, code: 'coordinator_exists' });
    }
    const a = await client(url);
    const aReply = await joined(a, request());
    expect(aReply).not.toHaveProperty('coordinatorSecret');
    const closed = next(a, 'cluster_closed');
    head.close();
    await closed;
    for (let i = 0; i < 5; i++) expect(await join(a, request({ role: 'coordinator' }))).toMatchObject({ ok: false, code: 'name_held' });
    expect(await join(s, request({ role: 'coordinator', coordinatorSecret: 'guessed' }))).toMatchObject({ ok: false, code: 'name_held' });
    const back = await client(url);
    expect((await join(back, request({ role: 'coordinator', coordinatorSecret: reply.coordinatorSecret }))).ok).toBe(true);
  });
});
