import { afterEach, describe, expect, it, vi } from 'vitest';
import { get, getRuntimeContext, remote } from '../api/ray-api.ts';
import { RemoteFunction } from '../api/remote-function.ts';
import { seedOf } from '../api/task-seed.ts';
import { returnId, type NodeId, type TaskId } from '../protocol/ids.ts';
import type { NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import { resultSha256 } from '../protocol/result-hash.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import { setVerificationDefaults } from '../api/replication.ts';
import type { NormalTaskSpec } from '../protocol/task-spec.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster } from './in-memory-cluster.fixture.ts';

// A verified task's replicas run on distinct nodes and each node reports the SHA-256 of its
// results in task_done. Until the scheduler runs replicas, the test plays the coordinator: it sends
// the same run_task to two volunteers (real nodes, real executor) and reads their task_done.

const clusters = useInMemoryCluster();
afterEach(() => setVerificationDefaults(undefined));

type Done = Extract<NodeToCoordinator, { type: 'task_done' }>;

/** Catches the task_done of `taskIds` on their way to the coordinator (it never saw these tasks). */
function catchDone(c: InMemoryCluster, taskIds: readonly TaskId[]): Map<string, Done> {
  const caught = new Map<string, Done>();
  const original = c.coordinator.handleNodeMessage.bind(c.coordinator);
  vi.spyOn(c.coordinator, 'handleNodeMessage').mockImplementation((from, msg, reply) => {
    if ((msg.type === 'task_done' || msg.type === 'task_started') && taskIds.includes(msg.taskId)) {
      if (msg.type === 'task_done') caught.set(`${from}/${msg.taskId}`, msg);
      return;
    }
    original(from, msg, reply);
  });
  return caught;
}

/** Runs `fn(...args)` as task `taskId` on each of `nodes` directly, with the given replication. */
function runOn(c: InMemoryCluster, nodes: readonly NodeId[], fn: (...a: never[]) => unknown, args: readonly unknown[], over: Partial<NormalTaskSpec>): TaskId {
  const rf = RemoteFunction.define(fn, {});
  const spec = makeTaskSpec({ fnId: rf.descriptor.fnId, name: rf.descriptor.name, ...over });
  for (const id of nodes) {
    const v = c.volunteers.find((m) => m.nodeId === id)!;
    v.node.handle({
      type: 'run_task',
      spec,
      attempt: 0,
      args: args.map((a) => ({ kind: 'inline', obj: { v: a, size: 8 } })),
      fn: rf.descriptor,
    });
  }
  return spec.taskId;
}

const resultsOf = (d: Done | undefined): readonly TaskResult[] => d?.results ?? [];

describe('result hashes of verified tasks', () => {
  it('two honest nodes running deterministic code report the same SHA-256, a node that differs another', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const [v1, v2] = c.volunteers.map((v) => v.nodeId) as [NodeId, NodeId];
    const spec = { replicas: 2, maxReplicas: 5 };
    function estimate(n: number) {
      return { n, values: new Map([['sum', (n * (n + 1)) / 2]]), bytes: Float64Array.from({ length: n }, (_, i) => i * 0.5) };
    }
    function whoAmI() {
      return ray.getRuntimeContext().nodeId;
    }
    const [honest, differs] = ['hash-t1', 'hash-t2'] as TaskId[] as [TaskId, TaskId];
    const caught = catchDone(c, [honest, differs]);
    runOn(c, [v1, v2], estimate, [100], { ...spec, taskId: honest });
    runOn(c, [v1, v2], whoAmI, [], { ...spec, taskId: differs });
    await waitFor(() => caught.size === 4, 'four task_done');

    const h1 = resultsOf(caught.get(`${v1}/${honest}`))[0]?.sha256;
    const h2 = resultsOf(caught.get(`${v2}/${honest}`))[0]?.sha256;
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(h2).toBe(h1);
    // It is the hash of the value itself: what any holder of a copy computes.
    const local = estimate(100);
    expect(await resultSha256({ v: local })).toBe(h1);

    const d1 = resultsOf(caught.get(`${v1}/${differs}`))[0]?.sha256;
    const d2 = resultsOf(caught.get(`${v2}/${differs}`))[0]?.sha256;
    expect(d1).toMatch(/^[0-9a-f]{64}$/);
    expect(d2).toMatch(/^[0-9a-f]{64}$/);
    expect(d1).not.toBe(d2);
  });

  it('hashes a large result kept in the node store, and every return of a task with several', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const [v1, v2] = c.volunteers.map((v) => v.nodeId) as [NodeId, NodeId];
    function big(n: number) {
      return [Float64Array.from({ length: n }, (_, i) => Math.sqrt(i)), 'small'];
    }
    const t = 'hash-big' as TaskId;
    const caught = catchDone(c, [t]);
    runOn(c, [v1, v2], big, [50_000], { replicas: 2, maxReplicas: 5, numReturns: 2, taskId: t });
    await waitFor(() => caught.size === 2, 'two task_done');
    const r1 = resultsOf(caught.get(`${v1}/${t}`));
    const r2 = resultsOf(caught.get(`${v2}/${t}`));
    expect(r1.map((r) => r.sha256)).toEqual(r2.map((r) => r.sha256));
    expect(r1[0]!.obj).toBeUndefined(); // 400 KB: kept on the node, reported by size and hash
    expect(r1[1]!.obj?.v).toBe('small');
    const stored = c.volunteers[0]!.store.get(returnId(t, 0));
    expect(stored).toBeDefined();
    expect(await resultSha256(stored!)).toBe(r1[0]!.sha256);
    expect(r1[0]!.sha256).not.toBe(r1[1]!.sha256);
  });

  it('adds no hash to a task with one replica (the unverified path is unchanged)', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const t = 'hash-none' as TaskId;
    const caught = catchDone(c, [t]);
    runOn(c, [c.volunteers[0]!.nodeId], ((a: number) => a + 1), [1], { taskId: t });
    await waitFor(() => caught.size === 1, 'task_done');
    const [r] = resultsOf([...caught.values()][0]);
    expect(r?.obj?.v).toBe(2);
    expect(r && 'sha256' in r).toBe(false);
  });
});

declare const ray: { getRuntimeContext(): { nodeId: string | null; seed: number; taskId: string | null } };

describe('ray.getRuntimeContext().seed', () => {
  it('is the same for every replica of a task on different nodes, and differs across tasks', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const [v1, v2] = c.volunteers.map((v) => v.nodeId) as [NodeId, NodeId];
    function seed() {
      return ray.getRuntimeContext().seed;
    }
    const [a, b] = ['seed-a', 'seed-b'] as TaskId[] as [TaskId, TaskId];
    const caught = catchDone(c, [a, b]);
    runOn(c, [v1, v2], seed, [], { replicas: 2, maxReplicas: 5, taskId: a });
    runOn(c, [v1, v2], seed, [], { replicas: 2, maxReplicas: 5, taskId: b });
    await waitFor(() => caught.size === 4, 'four task_done');
    const seedOn = (node: NodeId, t: TaskId): unknown => resultsOf(caught.get(`${node}/${t}`))[0]?.obj?.v;
    expect(seedOn(v1, a)).toBe(seedOf(a));
    expect(seedOn(v2, a)).toBe(seedOf(a));
    expect(seedOn(v1, b)).toBe(seedOf(b));
    expect(seedOn(v2, b)).toBe(seedOf(b));
    expect(seedOf(a)).not.toBe(seedOf(b));
  });

  it('reaches task code through ray.remote, and the driver has its own, fixed for the session', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const seeds = remote(function seeds() {
      return [ray.getRuntimeContext().seed, ray.getRuntimeContext().taskId];
    });
    const [s, taskId] = (await get(seeds.remote())) as [number, string];
    expect(s).toBe(seedOf(taskId));
    expect(getRuntimeContext().seed).toBe(seedOf(c.head.nodeId));
    expect(getRuntimeContext().seed).toBe(getRuntimeContext().seed);
  });
});

/** Makes `liar`'s successful task_done reports carry `value` (and its hash) instead of what its worker computed. */
function lieOn(c: InMemoryCluster, liar: NodeId, value: unknown): void {
  const original = c.coordinator.handleNodeMessage.bind(c.coordinator);
  vi.spyOn(c.coordinator, 'handleNodeMessage').mockImplementation((from, msg, reply) => {
    if (from === liar && msg.type === 'task_done' && msg.results) {
      void resultSha256({ v: value }).then((sha256) => {
        original(from, { ...msg, results: msg.results!.map((r) => ({ id: r.id, size: 8, obj: { v: value, size: 8 }, sha256 })) }, reply);
      });
      return;
    }
    original(from, msg, reply);
  });
}

const infoOf = (c: InMemoryCluster, id: NodeId) => c.coordinator.nodeInfos().find((n) => n.nodeId === id)!;

describe('verified tasks: replicas on distinct nodes, the majority result', () => {
  it('runs replicas: 2 on two distinct nodes and returns the result they agree on', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const add = remote({ replicas: 2 }, function add(a: number, b: number) { return a + b; });
    expect(await get(add.remote(1, 2))).toBe(3);
    expect(c.network.count('to_node:run_task')).toBe(2);
    const [v1, v2, v3] = c.volunteers.map((v) => v.nodeId) as [NodeId, NodeId, NodeId];
    expect([infoOf(c, v1).verified, infoOf(c, v2).verified, infoOf(c, v3).verified].sort()).toEqual([0, 1, 1]);
    expect(c.coordinator.availableResources().CPU).toBe(3);
  });

  it('keeps a large result on the agreeing nodes (each a location) and pulls it from one', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const big = remote({ replicas: 2 }, function big(n: number) { return Float64Array.from({ length: n }, (_, i) => i); });
    const ref = big.remote(50_000);
    const out = (await get(ref)) as Float64Array;
    expect(out.length).toBe(50_000);
    expect(out[49_999]).toBe(49_999);
    // Both volunteers keep it (and the driver's node now that it pulled one).
    expect(c.coordinator.locate(ref.id)?.nodes).toEqual(expect.arrayContaining(c.volunteers.map((v) => v.nodeId)));
  });

  it('outvotes a volunteer that returns a wrong result: a third replica runs, the majority wins, and at two mismatches the liar is quarantined', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const [liar, h1, h2] = c.volunteers.map((v) => v.nodeId) as [NodeId, NodeId, NodeId];
    lieOn(c, liar, 666);
    const add = remote({ replicas: 2 }, function add(a: number, b: number) { return a + b; });
    expect(await get(add.remote(1, 2))).toBe(3);
    expect(infoOf(c, liar)).toMatchObject({ mismatches: 1, quarantined: false, alive: true });
    expect(await get(add.remote(2, 3))).toBe(5);
    await waitFor(() => !infoOf(c, liar).alive, 'the liar to be dropped');
    expect(infoOf(c, liar)).toMatchObject({ mismatches: 2, quarantined: true, verified: 0 });
    expect(infoOf(c, h1).verified + infoOf(c, h2).verified).toBe(4);
    expect(clusters.warn().mock.calls.some((call) => /quarantining node .*disagreed with the majority .* 2 times/.test(String(call[0])))).toBe(true);
    // The job goes on without it: a third task's replicas run on the honest two.
    expect(await get(add.remote(3, 4))).toBe(7);
  });

  it('fails with ResultMismatchError when no majority forms (non-deterministic code), blaming nobody', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const who = remote({ replicas: 2, maxReplicas: 3 }, function who() { return ray.getRuntimeContext().nodeId; });
    const err = await get(who.remote()).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('ResultMismatchError');
    expect(err?.message).toMatch(/its 3 replicas reached no majority/);
    for (const v of c.volunteers) expect(err?.message).toContain(`node ${v.nodeId}: sha256 `);
    expect(c.coordinator.nodeInfos().map((n) => n.mismatches)).toEqual([0, 0, 0, 0]);
    expect(c.coordinator.availableResources().CPU).toBe(3);
  });

  it('takes an error the replicas agree on as the task’s own (the RayTaskError of its code)', async () => {
    await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const boom = remote({ replicas: 2, maxRetries: 0 }, function boom() { throw new RangeError('always'); });
    await expect(get(boom.remote())).rejects.toThrow(/always/);
  });

  it('runs a lost replica again on another node (its node crashed), and the two left agree', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    let open!: () => void;
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>((r) => (open = r));
    const gated = remote({ replicas: 2, maxRetries: 1 }, async function gated() {
      await (globalThis as { __gate?: Promise<void> }).__gate;
      return 'agreed';
    });
    const ref = gated.remote();
    await waitFor(() => c.network.count('to_node:run_task') === 2, 'two replicas sent');
    c.volunteers[0]!.crash();
    await waitFor(() => c.network.count('to_node:run_task') === 3, 'a replica on the third node');
    open();
    expect(await get(ref)).toBe('agreed');
    expect(c.coordinator.locate(ref.id)?.obj?.v).toBe('agreed');
    expect(c.coordinator.nodeInfos().filter((n) => n.alive).map((n) => n.verified)).toEqual([0, 1, 1]);
  });

  it('checks a pulled copy of a stored result against the agreed hash: a tampered copy is passed over, two fail the get', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const big = remote({ replicas: 2 }, function big(n: number) { return Float64Array.from({ length: n }, (_, i) => i); });
    const ref = big.remote(50_000);
    await waitFor(() => c.coordinator.locate(ref.id)?.nodes?.length === 2, 'the result on both volunteers');
    const [first, second] = c.coordinator.locate(ref.id)!.nodes.map((id) => c.volunteers.find((v) => v.nodeId === id)!);
    (first!.store.get(ref.id)!.v as Float64Array)[7] = -1; // its bytes change after the vote
    const out = (await get(ref)) as Float64Array;
    expect(out[7]).toBe(7);
    expect(clusters.warn().mock.calls.some((call) => String(call[0]).includes(`node ${first!.nodeId} served object ${ref.id} with bytes that do not match`))).toBe(true);

    const ref2 = big.remote(40_000);
    await waitFor(() => c.coordinator.locate(ref2.id)?.nodes?.length === 2, 'the second result on both volunteers');
    for (const v of [first!, second!]) (v.store.get(ref2.id)!.v as Float64Array)[3] = -1;
    await expect(get(ref2)).rejects.toThrow(/no copy matched the SHA-256 its replicas agreed on/);
  });

  it('spot checks: with replicas 1 and spotCheck 1 a lying volunteer is outvoted and quarantined, and every result is right', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    c.coordinator.setVerification({ spotCheck: 1 });
    const liar = c.volunteers[0]!.nodeId;
    lieOn(c, liar, 666);
    const square = remote(function square(k: number) { return k * k; });
    expect(await get(Array.from({ length: 8 }, (_, k) => square.remote(k)))).toEqual(Array.from({ length: 8 }, (_, k) => k * k));
    await waitFor(() => !infoOf(c, liar).alive, 'the liar to be dropped');
    expect(infoOf(c, liar)).toMatchObject({ quarantined: true });
  });

  it('runs the replicas the ray.init({ verification }) default asks for', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    setVerificationDefaults({ replicas: 2 });
    const add = remote((a: number, b: number) => a + b);
    expect(await get(add.remote(1, 2))).toBe(3);
    expect(c.network.count('to_node:run_task')).toBe(2);
  });
});
