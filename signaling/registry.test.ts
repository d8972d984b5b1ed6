// The registry contract, held by both registries: the in-memory one and the Redis one (a real
// redis-server). Then what only a shared registry does: several processes, and sweeping the
// memberships of a process that stopped.
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JoinRequest } from '../runtime/protocol/signaling.ts';
import { ClusterRegistry } from './cluster-registry.ts';
import { MAX_HELD_BYTES, MAX_HELD_SIGNALS } from './constants.ts';
import { RedisClusterRegistry } from './redis-registry.ts';
import { hasRedisServer, startRedis, type TestRedis } from './redis.fixture.ts';
import type { Departure, Registry } from './registry.ts';

const TOKEN = 's3cret-token-value';

function req(over: Partial<JoinRequest> = {}): JoinRequest {
  return { role: 'node', cluster: 'lab', token: TOKEN, resources: { CPU: 2 }, gpuFallback: false, ...over };
}
const coordinator = (over: Partial<JoinRequest> = {}): JoinRequest => req({ role: 'coordinator', ...over });

let redis: TestRedis | undefined;
let client: ReturnType<typeof createClient> | undefined;
let prefixes = 0;

beforeAll(async () => {
  if (!hasRedisServer) return;
  redis = await startRedis();
  client = createClient({ url: redis.url });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await redis?.stop();
});

/** A Redis registry under a prefix no other test uses (a fresh, empty registry). */
function redisRegistry(prefix = `t${++prefixes}:`, over: { holdMs?: number; resumeGraceMs?: number; heartbeatMs?: number } = {}): RedisClusterRegistry {
  if (client === undefined) throw new Error('no redis-server');
  return new RedisClusterRegistry({ redis: client, prefix, holdMs: over.holdMs ?? 60_000, ...over });
}

const started: RedisClusterRegistry[] = [];
afterEach(async () => {
  for (const r of started.splice(0)) await r.stop();
});

/**
 * A Redis registry that is a live process: its heartbeat is in Redis (renewed only every minute,
 * so the test decides when a process is gone), its memberships' signals relayed, not held.
 */
async function liveRedisRegistry(prefix?: string, over: { holdMs?: number; resumeGraceMs?: number } = {}): Promise<RedisClusterRegistry> {
  const r = redisRegistry(prefix, { ...over, heartbeatMs: 60_000 });
  await r.start(() => {});
  started.push(r);
  return r;
}

const kinds: [string, (holdMs?: number) => Promise<Registry>][] = [
  ['in memory', (holdMs = 60_000) => Promise.resolve(new ClusterRegistry({ holdMs }))],
  ['in Redis', (holdMs = 60_000) => liveRedisRegistry(undefined, { holdMs })],
];

describe.each(kinds)('the registry (%s)', (kind, make) => {
  const skip = kind === 'in Redis' && !hasRedisServer;
  it.skipIf(skip)('seats a coordinator, admits a node with the token, refuses a wrong one with a strike, and lists members coordinator first', async () => {
    const r = await make();
    const head = await r.join('c1', coordinator({ label: 'head' }));
    expect(head).toMatchObject({ ok: true, cluster: 'lab', member: { role: 'coordinator', label: 'head' } });
    if (!head.ok) return;
    expect(head.reply.coordinatorSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(head.reply.resumeSecret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const a = await r.join('a', req({ resources: { CPU: 4, GPU: 1 } }));
    expect(a).toMatchObject({ ok: true, coordinator: { connection: 'c1', info: { nodeId: head.member.nodeId } } });
    if (!a.ok) return;
    expect(a.reply.members).toEqual([head.member, a.member]);
    expect(a.reply.resumeSecret).not.toBe(head.reply.resumeSecret);
    expect(await r.join('b', req({ token: 'wrong-token-value' }))).toMatchObject({ ok: false, code: 'wrong_token', strike: true });
    expect(await r.join('b', req({ cluster: 'nobody' }))).toMatchObject({ ok: false, code: 'wrong_token', strike: true });
    expect(await r.join('a', req())).toMatchObject({ ok: false, code: 'already_joined', strike: false });
    // Already a member is said first, whatever else is wrong with the request.
    expect(await r.join('c1', coordinator({ cluster: 'other', token: 'aaaaaa' }))).toMatchObject({ ok: false, code: 'already_joined' });
    expect(await r.join('c2', coordinator())).toMatchObject({ ok: false, code: 'coordinator_exists', strike: false });
    expect(await r.join('c2', coordinator({ cluster: 'weak', token: 'aaaaaa' }))).toMatchObject({ ok: false, code: 'weak_token' });
    expect((await r.members('lab')).map((m) => m.nodeId)).toEqual([head.member.nodeId, a.member.nodeId]);
    expect(await r.members('nobody')).toEqual([]);
    expect(await r.clusterCount()).toBe(1);
  });

  it.skipIf(skip)('routes signals between members of one cluster only, never to the sender itself', async () => {
    const r = await make();
    const head = await r.join('c1', coordinator());
    const a = await r.join('a', req());
    await r.join('x1', coordinator({ cluster: 'other' }));
    const x = await r.join('x', req({ cluster: 'other' }));
    if (!head.ok || !a.ok || !x.ok) throw new Error('join refused');
    expect(await r.route('a', head.member.nodeId, 'signal')).toEqual({ from: a.member.nodeId, connection: 'c1' });
    expect(await r.route('c1', a.member.nodeId, 'signal')).toEqual({ from: head.member.nodeId, connection: 'a' });
    expect(await r.route('a', a.member.nodeId, 'signal')).toBeUndefined();
    expect(await r.route('a', x.member.nodeId, 'signal')).toBeUndefined();
    expect(await r.route('nobody', head.member.nodeId, 'signal')).toBeUndefined();
    expect(await r.route('a', 'n-no-such-node', 'signal')).toBeUndefined();
  });

  it.skipIf(skip)('a node leaving is node_left; the coordinator leaving closes the cluster, releasing every node, and holds the name for its secret', async () => {
    const r = await make();
    const head = await r.join('c1', coordinator());
    const a = await r.join('a', req());
    const b = await r.join('b', req());
    if (!head.ok || !a.ok || !b.ok) throw new Error('join refused');
    expect(await r.leave('a')).toEqual({ kind: 'node_left', cluster: 'lab', member: a.member });
    expect(await r.leave('a')).toBeUndefined();
    const closed = (await r.leave('c1', true)) as Extract<Departure, { kind: 'cluster_closed' }>;
    expect(closed).toMatchObject({ kind: 'cluster_closed', cluster: 'lab', member: head.member });
    expect(closed.volunteers).toEqual([{ info: b.member, connection: 'b' }]);
    expect(await r.route('b', head.member.nodeId, 'signal')).toBeUndefined();
    expect(await r.clusterCount()).toBe(0);
    // Away: a node with the token is asked to come back, a wrong token is struck as ever.
    expect(await r.join('b2', req())).toMatchObject({ ok: false, code: 'coordinator_away', strike: false });
    expect(await r.join('b2', req({ token: 'wrong-token-value' }))).toMatchObject({ ok: false, code: 'wrong_token', strike: true });
    const secret = head.reply.coordinatorSecret ?? '';
    expect(await r.holdsFor('lab', secret)).toBe(true);
    expect(await r.holdsFor('lab', 'not-the-secret')).toBe(false);
    expect(await r.join('c2', coordinator())).toMatchObject({ ok: false, code: 'name_held', strike: false });
    expect(await r.join('c2', coordinator({ coordinatorSecret: 'not-the-secret' }))).toMatchObject({ ok: false, code: 'name_held', strike: true });
    const back = await r.join('c2', coordinator({ coordinatorSecret: secret }));
    expect(back).toMatchObject({ ok: true, reply: { coordinatorSecret: secret } });
    expect(await r.holdsFor('lab', secret)).toBe(false);
  });

  it.skipIf(skip)('a coordinator that shut the cluster down (not away): nodes with the token get wrong_token; the hold runs out', async () => {
    const r = await make(300);
    const head = await r.join('c1', coordinator());
    if (!head.ok) throw new Error('join refused');
    await r.leave('c1', false);
    expect(await r.join('b', req())).toMatchObject({ ok: false, code: 'wrong_token' });
    await vi.waitFor(async () => expect(await r.holdsFor('lab', head.reply.coordinatorSecret ?? '')).toBe(false), { timeout: 5_000 });
    const other = await r.join('c2', coordinator({ coordinatorSecret: head.reply.coordinatorSecret ?? '' }));
    expect(other.ok && other.reply.coordinatorSecret).not.toBe(head.reply.coordinatorSecret);
  });

  it.skipIf(skip)('resume binds a new connection to a membership given its secret; the old connection is no one, a wrong secret is unknown_member', async () => {
    const r = await make();
    const head = await r.join('c1', coordinator());
    const a = await r.join('a', req());
    if (!head.ok || !a.ok) throw new Error('join refused');
    const wrong = { cluster: 'lab', nodeId: a.member.nodeId, resumeSecret: head.reply.resumeSecret };
    expect(await r.resume('a2', wrong)).toMatchObject({ ok: false, code: 'unknown_member', strike: true });
    expect(await r.resume('a2', { ...wrong, cluster: 'other', resumeSecret: a.reply.resumeSecret })).toMatchObject({ ok: false, code: 'unknown_member' });
    const ok = { cluster: 'lab', nodeId: a.member.nodeId, resumeSecret: a.reply.resumeSecret };
    expect(await r.resume('c1', ok)).toMatchObject({ ok: false, code: 'already_joined', strike: false });
    expect(await r.resume('a2', ok)).toEqual({ ok: true, cluster: 'lab', member: a.member, members: [head.member, a.member], held: [] });
    expect(await r.route('c1', a.member.nodeId, 'signal')).toEqual({ from: head.member.nodeId, connection: 'a2' });
    expect(await r.route('a', head.member.nodeId, 'signal')).toBeUndefined();
    expect(await r.leave('a')).toBeUndefined();
    // The coordinator resumes too; nodes joining later are introduced to its new connection.
    expect(await r.resume('c9', { cluster: 'lab', nodeId: head.member.nodeId, resumeSecret: head.reply.resumeSecret })).toMatchObject({
      ok: true,
      members: [head.member, a.member],
    });
    expect(await r.join('b', req())).toMatchObject({ ok: true, coordinator: { connection: 'c9' } });
    expect((await r.members('lab')).map((m) => m.nodeId)).toContain(a.member.nodeId);
    // Once the membership ended, its secret resumes nothing.
    await r.leave('a2');
    expect(await r.resume('a3', ok)).toMatchObject({ ok: false, code: 'unknown_member' });
  });
});

describe.skipIf(!hasRedisServer)('the Redis registry across processes', () => {
  it('a coordinator seated through one process and a node through another are one cluster; a name is seated once whoever races', async () => {
    const prefix = `shared${++prefixes}:`;
    const [one, two] = [await liveRedisRegistry(prefix), await liveRedisRegistry(prefix)];
    const head = await one.join('c1', coordinator());
    const a = await two.join('a', req());
    if (!head.ok || !a.ok) throw new Error('join refused');
    expect(a.coordinator.connection).toBe('c1');
    expect(await one.route('c1', a.member.nodeId, 'signal')).toEqual({ from: head.member.nodeId, connection: 'a' });
    const race = await Promise.all([one.join('r1', coordinator({ cluster: 'race' })), two.join('r2', coordinator({ cluster: 'race' }))]);
    expect(race.filter((o) => o.ok)).toHaveLength(1);
    expect(race.filter((o) => !o.ok && o.code === 'coordinator_exists')).toHaveLength(1);
  });

  it('a process that stopped leaves its memberships for their tabs to resume through another; those not resumed within the grace are swept as departures', async () => {
    const prefix = `sweep${++prefixes}:`;
    const gone = await liveRedisRegistry(prefix);
    const live = await liveRedisRegistry(prefix, { resumeGraceMs: 200 });
    const head = await live.join('c1', coordinator());
    const a = await gone.join('a', req());
    const b = await gone.join('b', req());
    if (!head.ok || !a.ok || !b.ok) throw new Error('join refused');
    await gone.stop();
    // Seen dead first, swept only once the grace has passed since.
    expect(await live.sweep()).toEqual([]);
    expect(await live.resume('a2', { cluster: 'lab', nodeId: a.member.nodeId, resumeSecret: a.reply.resumeSecret })).toMatchObject({ ok: true });
    const swept: Departure[] = [];
    await vi.waitFor(
      async () => {
        swept.push(...(await live.sweep()));
        expect(swept).toHaveLength(1);
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(swept[0]).toEqual({ kind: 'node_left', cluster: 'lab', member: b.member });
    expect((await live.members('lab')).map((m) => m.nodeId)).toEqual([head.member.nodeId, a.member.nodeId]);
    expect(await live.route('c1', a.member.nodeId, 'signal')).toEqual({ from: head.member.nodeId, connection: 'a2' });
    // The stopped process is forgotten once it holds no socket.
    await live.sweep();
    expect(await client?.sMembers(`${prefix}servers`)).not.toContain(gone.serverId);
  });

  it('keeps the signals for a member whose process is gone and hands them over, the first MAX_HELD_SIGNALS in order, when it resumes', async () => {
    const prefix = `held${++prefixes}:`;
    const [one, two] = [await liveRedisRegistry(prefix), await liveRedisRegistry(prefix)];
    const head = await one.join('c1', coordinator());
    const a = await two.join('a', req());
    if (!head.ok || !a.ok) throw new Error('join refused');
    await one.stop(); // the coordinator's process is gone
    expect(await two.route('a', head.member.nodeId, { n: 0 })).toEqual({ from: a.member.nodeId, connection: 'c1', held: true });
    for (let n = 1; n < MAX_HELD_SIGNALS + 6; n++) await two.route('a', head.member.nodeId, { n });
    const back = await two.resume('c2', { cluster: 'lab', nodeId: head.member.nodeId, resumeSecret: head.reply.resumeSecret });
    if (!back.ok) throw new Error('resume refused');
    // The first ones: an offer comes before its candidates.
    expect(back.held.map((h) => (h.data as { n: number }).n)).toEqual(Array.from({ length: MAX_HELD_SIGNALS }, (_, i) => i));
    expect(new Set(back.held.map((h) => h.from))).toEqual(new Set([a.member.nodeId]));
    // Its process is two now, alive: signals go straight to it again, and nothing is left held.
    expect(await two.route('a', head.member.nodeId, { n: 'live' })).toEqual({ from: a.member.nodeId, connection: 'c2' });
    expect(await client?.exists(`${prefix}held:${head.member.nodeId}`)).toBe(0);
  });

  it('keeps at most MAX_HELD_BYTES for a member, and gives back a signal with no data as it came (undefined)', async () => {
    const prefix = `heldb${++prefixes}:`;
    const [one, two] = [await liveRedisRegistry(prefix), await liveRedisRegistry(prefix)];
    const head = await one.join('c1', coordinator());
    const a = await two.join('a', req());
    if (!head.ok || !a.ok) throw new Error('join refused');
    await one.stop();
    await two.route('a', head.member.nodeId, undefined);
    const big = 'x'.repeat(60 * 1024);
    for (let n = 0; n < 10; n++) await two.route('a', head.member.nodeId, big);
    const back = await two.resume('c2', { cluster: 'lab', nodeId: head.member.nodeId, resumeSecret: head.reply.resumeSecret });
    if (!back.ok) throw new Error('resume refused');
    expect(back.held[0]).toEqual({ from: a.member.nodeId, data: undefined });
    // 4 of the 60 KiB signals fit in MAX_HELD_BYTES (256 KiB) beside the first; the rest were dropped.
    expect(back.held).toHaveLength(1 + Math.floor(MAX_HELD_BYTES / (big.length + 20)));
  });

  it('hands a process whose heartbeat lapsed (a stall) the signals kept for its own live sockets meanwhile, when its heartbeat is back', async () => {
    const prefix = `stall${++prefixes}:`;
    const one = redisRegistry(prefix, { heartbeatMs: 60_000 });
    const late: [string, unknown][] = [];
    await one.start(
      () => {},
      (connection, s) => late.push([connection, s.data]),
    );
    started.push(one);
    const two = await liveRedisRegistry(prefix);
    const head = await one.join('c1', coordinator());
    const a = await two.join('a', req());
    if (!head.ok || !a.ok) throw new Error('join refused');
    await client?.del(`${prefix}srv:${one.serverId}`); // its heartbeat lapses; its socket c1 stays connected
    expect(await two.route('a', head.member.nodeId, 'offer')).toMatchObject({ held: true });
    await (one as unknown as { heartbeat(): Promise<void> }).heartbeat();
    expect(late).toEqual([['c1', 'offer']]);
    expect(await two.route('a', head.member.nodeId, 'candidate')).toEqual({ from: a.member.nodeId, connection: 'c1' });
  });

  it('a process whose heartbeat lapsed and came back gets the full grace on its next lapse', async () => {
    const prefix = `lapse${++prefixes}:`;
    const grace = 1_000;
    const a = redisRegistry(prefix, { resumeGraceMs: grace, heartbeatMs: 60_000 });
    const b = redisRegistry(prefix, { resumeGraceMs: grace });
    await a.start(() => {});
    expect((await a.join('sock-1', coordinator())).ok).toBe(true);
    // A first lapse (a partition seen only by a): b takes note...
    await client?.del(`${prefix}srv:${a.serverId}`);
    expect(await b.sweep()).toEqual([]);
    // ...a's heartbeat is back within the grace, and b sees it.
    await (a as unknown as { heartbeat(): Promise<void> }).heartbeat();
    expect(await b.sweep()).toEqual([]);
    // Once more than the grace later, a second lapse begins: it is not swept at once.
    const since = Date.now();
    await vi.waitFor(() => expect(Date.now() - since).toBeGreaterThan(grace), { timeout: 5_000, interval: 100 });
    await client?.del(`${prefix}srv:${a.serverId}`);
    expect(await b.sweep()).toEqual([]);
    expect(await b.clusterCount()).toBe(1);
    await a.stop();
  });

  it('a live process is never swept, and its heartbeat keeps it so', async () => {
    const prefix = `alive${++prefixes}:`;
    const one = redisRegistry(prefix, { resumeGraceMs: 0, heartbeatMs: 1_000 });
    const swept: Departure[] = [];
    await one.start((d) => swept.push(d));
    const head = await one.join('c1', coordinator());
    expect(head.ok).toBe(true);
    const other = redisRegistry(prefix, { resumeGraceMs: 0 });
    for (let i = 0; i < 3; i++) expect(await other.sweep()).toEqual([]);
    expect(await one.clusterCount()).toBe(1);
    await one.stop();
    expect(swept).toEqual([]);
  });
});
