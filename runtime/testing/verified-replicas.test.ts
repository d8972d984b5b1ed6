import { describe, expect, it, vi } from 'vitest';
import { registeredRef } from '../api/object-ref.ts';
import { get, getRuntimeContext, remote } from '../api/ray-api.ts';
import { RemoteFunction } from '../api/remote-function.ts';
import { seedOf } from '../api/task-seed.ts';
import { returnId, type NodeId, type TaskId } from '../protocol/ids.ts';
import type { NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import { resultSha256 } from '../protocol/result-hash.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import type { NormalTaskSpec } from '../protocol/task-spec.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster } from './in-memory-cluster.fixture.ts';

// A verified task's replicas run on distinct nodes and each node reports the SHA-256 of its
// results in task_done. Until the scheduler runs replicas, the test plays the coordinator: it sends
// the same run_task to two volunteers (real nodes, real executor) and reads their task_done.

const clusters = useInMemoryCluster();

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

describe('a spec asking for replicas that reaches the coordinator anyway', () => {
  it('fails the task instead of running it once', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const rf = RemoteFunction.define(function twice(x: number) { return 2 * x; }, {});
    c.coordinator.registerFunction(rf.descriptor);
    const spec = makeTaskSpec({ fnId: rf.descriptor.fnId, name: 'twice', taskId: 'forged-replicas' as TaskId, replicas: 2, maxReplicas: 5, args: [{ kind: 'value', obj: { v: 1, size: 8 } }] });
    c.coordinator.submitTask(spec);
    await expect(get(registeredRef(returnId(spec.taskId, 0)))).rejects.toThrow(/task twice asks for 2 replicas: replicated execution is not available yet/);
    expect(c.network.count('to_node:run_task')).toBe(0);
  });
});
