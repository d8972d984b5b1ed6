// Several server processes sharing a Redis act as one signaling server: real servers (two in this
// process, each with its own socket.io server, adapter and Redis connections), a real
// redis-server, and the tabs' own SignalingClient (socket.io-client) in Node.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeId } from '../runtime/protocol/ids.ts';
import type { JoinRequest, MemberInfo } from '../runtime/protocol/signaling.ts';
import { SignalingClient, type SignalingHandlers } from '../runtime/transport/signaling-client.ts';
import { freePort, hasRedisServer, startRedis, type TestRedis } from './redis.fixture.ts';
import { startServer, type RunningServer } from './server.ts';

const TOKEN = 's3cret-token-value';

/** Everything a tab's signaling client was told, in order. */
interface Heard {
  signals: [NodeId, unknown][];
  joined: MemberInfo[];
  left: [NodeId, string][];
  closed: string[];
  lost: string[];
  reconnecting: number;
  resumed: number;
  /** The node table the last resume answered with. */
  resumedWith: readonly MemberInfo[];
  /** 'signal' and 'resumed', in the order the handlers heard them. */
  order: string[];
}

function listener(): { heard: Heard; handlers: SignalingHandlers } {
  const heard: Heard = { signals: [], joined: [], left: [], closed: [], lost: [], reconnecting: 0, resumed: 0, resumedWith: [], order: [] };
  return {
    heard,
    handlers: {
      onSignal: (from, data) => {
        heard.signals.push([from, data]);
        heard.order.push('signal');
      },
      onNodeJoined: (m) => heard.joined.push(m),
      onNodeLeft: (id, reason) => heard.left.push([id, reason]),
      onClusterClosed: (reason) => heard.closed.push(reason),
      onDisconnect: (reason) => heard.lost.push(reason),
      onReconnecting: () => heard.reconnecting++,
      onResumed: (members) => {
        heard.order.push('resumed');
        heard.resumed++;
        heard.resumedWith = members;
      },
    },
  };
}

/** Each test's own cluster name: the Redis outlives a test's servers, and what they left in it. */
let cluster = 'lab';
let tests = 0;

function request(role: JoinRequest['role']): JoinRequest {
  return { role, cluster, token: TOKEN, resources: { CPU: 2 }, gpuFallback: false };
}

let redis: TestRedis | undefined;
const servers: RunningServer[] = [];
const clients: SignalingClient[] = [];

beforeAll(async () => {
  if (hasRedisServer) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(() => {
  cluster = `lab${++tests}`;
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server on a port outside the ephemeral range, so that it can be started again on it. */
async function server(port?: number, resumeGraceMs?: number): Promise<RunningServer> {
  if (redis === undefined) throw new Error('no redis-server');
  const s = await startServer({ port: port ?? (await freePort()), taskPort: await freePort(), distDir: '/nonexistent', log: () => {}, redisUrl: redis.url, ...(resumeGraceMs === undefined ? {} : { resumeGraceMs }) });
  servers.push(s);
  return s;
}

async function joinVia(s: RunningServer, role: JoinRequest['role']): Promise<{ client: SignalingClient; nodeId: NodeId; heard: Heard }> {
  const { heard, handlers } = listener();
  const { client, reply } = await SignalingClient.connect(s.url, request(role), handlers);
  clients.push(client);
  return { client, nodeId: reply.nodeId, heard };
}

describe.skipIf(!hasRedisServer)('signaling on several processes sharing Redis', () => {
  it('a coordinator on one process and a volunteer on another are one cluster: introduced, signalling both ways, told of a leave', async () => {
    const [a, b] = [await server(), await server()];
    const head = await joinVia(a, 'coordinator');
    const node = await joinVia(b, 'node');
    await vi.waitFor(() => expect(head.heard.joined.map((m) => m.nodeId)).toEqual([node.nodeId]));
    node.client.signal(head.nodeId, { type: 'offer', n: 1 });
    head.client.signal(node.nodeId, { type: 'answer', n: 2 });
    await vi.waitFor(() => expect(head.heard.signals).toEqual([[node.nodeId, { type: 'offer', n: 1 }]]));
    await vi.waitFor(() => expect(node.heard.signals).toEqual([[head.nodeId, { type: 'answer', n: 2 }]]));
    node.client.close();
    await vi.waitFor(() => expect(head.heard.left).toEqual([[node.nodeId, 'left']]));
    // A coordinator already seated through one process cannot be seated through another.
    await expect(joinVia(b, 'coordinator')).rejects.toThrow(/already has a coordinator/);
  });

  it('a process restarted mid-job loses no cluster: its tabs reconnect and resume under the same ids, and signals and joins go on', async () => {
    const a = await server();
    const b = await server();
    const head = await joinVia(a, 'coordinator');
    const node = await joinVia(a, 'node');
    await vi.waitFor(() => expect(head.heard.joined).toHaveLength(1));
    const port = a.port;
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    await vi.waitFor(() => expect(head.heard.reconnecting).toBe(1));
    await server(port);
    await vi.waitFor(() => expect([head.heard.resumed, node.heard.resumed]).toEqual([1, 1]), { timeout: 15_000 });
    expect([head.heard.lost, node.heard.lost, node.heard.closed, head.heard.left]).toEqual([[], [], [], []]);
    node.client.signal(head.nodeId, 'after the restart');
    await vi.waitFor(() => expect(head.heard.signals).toEqual([[node.nodeId, 'after the restart']]));
    // A volunteer joining through the other process now is introduced to the resumed coordinator.
    const late = await joinVia(b, 'node');
    await vi.waitFor(() => expect(head.heard.joined.map((m) => m.nodeId)).toEqual([node.nodeId, late.nodeId]));
  }, 30_000);

  it('a coordinator that resumed learns of the volunteer that joined, and of the one that left, while it was away, and gets the offer sent to it meanwhile', async () => {
    const a = await server();
    const b = await server();
    const head = await joinVia(a, 'coordinator');
    const leaving = await joinVia(b, 'node');
    await vi.waitFor(() => expect(head.heard.joined).toHaveLength(1));
    const port = a.port;
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    await vi.waitFor(() => expect(head.heard.reconnecting).toBe(1));
    // While the coordinator's process restarts, one volunteer joins (and sends its offer) and one
    // leaves through the other.
    const node = await joinVia(b, 'node');
    node.client.signal(head.nodeId, { type: 'offer', sent: 'while the coordinator was away' });
    leaving.client.close();
    await vi.waitFor(async () => expect((await b.registry.members(cluster)).map((m) => m.nodeId)).toEqual([head.nodeId, node.nodeId]));
    await server(port);
    await vi.waitFor(() => expect(head.heard.resumed).toBe(1), { timeout: 15_000 });
    expect(head.heard.resumedWith.map((m) => m.nodeId)).toEqual([head.nodeId, node.nodeId]);
    // The offer was kept for it, and arrives after the node table that names its sender.
    await vi.waitFor(() => expect(head.heard.signals).toEqual([[node.nodeId, { type: 'offer', sent: 'while the coordinator was away' }]]));
    expect(head.heard.order).toEqual(['resumed', 'signal']);
  }, 30_000);

  it('signals streamed to a coordinator across its process restart arrive in the order they were sent: the kept ones first, then the relayed ones', async () => {
    const a = await server();
    const b = await server();
    const head = await joinVia(a, 'coordinator');
    const node = await joinVia(b, 'node');
    await vi.waitFor(() => expect(head.heard.joined).toHaveLength(1));
    const port = a.port;
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    // The volunteer trickles candidates all along: kept while the coordinator is gone (the first
    // MAX_HELD_SIGNALS), relayed again once it is back — some possibly in the same read as its
    // resume answer.
    let n = 0;
    const stream = setInterval(() => node.client.signal(head.nodeId, { n: n++ }), 5);
    try {
      await vi.waitFor(() => expect(n).toBeGreaterThan(10));
      await server(port);
      await vi.waitFor(() => expect(head.heard.resumed).toBe(1), { timeout: 15_000 });
      const after = n;
      await vi.waitFor(() => expect(head.heard.signals.filter(([, d]) => (d as { n: number }).n >= after)).not.toHaveLength(0));
    } finally {
      clearInterval(stream);
    }
    const got = head.heard.signals.map(([, d]) => (d as { n: number }).n);
    expect(got[0]).toBe(0);
    expect(got).toEqual([...got].sort((x, y) => x - y));
  }, 30_000);

  it('the members of a process that stopped and whose tabs never came back are announced gone after the grace period', async () => {
    const a = await server(undefined, 500);
    const b = await server(undefined, 500);
    const head = await joinVia(a, 'coordinator');
    const ghost = await joinVia(b, 'node');
    await vi.waitFor(() => expect(head.heard.joined).toHaveLength(1));
    await b.close();
    servers.splice(servers.indexOf(b), 1);
    // Its tab vanishes too: no leave (its connection is already down), no resume.
    ghost.client.close();
    await vi.waitFor(() => expect(head.heard.left).toContainEqual([ghost.nodeId, 'disconnected']), { timeout: 20_000 });
  }, 30_000);
});
