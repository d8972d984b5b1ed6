// The cluster scheduler through the Coordinator: placement by resources, pipelining, resource views.
import { describe, expect, it } from 'vitest';
import type { FunctionId, NodeId } from '../protocol/ids.ts';
import type { CoordinatorToNode } from '../protocol/node-messages.ts';
import type { ActorCreationTaskSpec, TaskSpec } from '../protocol/task-spec.ts';
import { Coordinator } from './coordinator.ts';
import { actorSpec, cluster, fnDesc, FakeLink, methodSpec, nid, ret, taskSpec, thrown, type Cluster } from './coordinator.fixture.ts';

describe('Coordinator: resources and placement', () => {
  it('keeps a GPU task pending with a reason on a CPU-only cluster and runs it when a GPU node joins', () => {
    const { c, links, submit } = cluster({ n1: { CPU: 4 } });
    const t = submit(taskSpec({ resources: { CPU: 1, GPU: 1 } }));
    expect(links.n1!.runs()).toHaveLength(0);
    const info = c.taskInfos().find((i) => i.taskId === t.taskId);
    expect(info?.state).toBe('PENDING_NODE_ASSIGNMENT');
    expect(info?.pendingReason).toMatch(/GPU: 1/);
    const gpu = new FakeLink();
    c.addNode(nid('gpu'), { CPU: 2, GPU: 1 }, gpu, { isCoordinator: false, gpuFallback: false });
    expect(gpu.ranIds()).toEqual([t.taskId]);
    expect(gpu.runs()[0]!.fn).toEqual(fnDesc());
  });

  it('queues tasks beyond the free CPUs and sends each when a CPU frees up', () => {
    const { c, links, submit, done } = cluster({ n1: { CPU: 2 } });
    const [a, b, third] = [submit(taskSpec()), submit(taskSpec()), submit(taskSpec())];
    expect(links.n1!.ranIds()).toEqual([a.taskId, b.taskId]);
    expect(c.availableResources()).toEqual({}); // fully used: left out, as Ray's available_resources()
    done('n1', a);
    expect(links.n1!.ranIds()).toEqual([a.taskId, b.taskId, third.taskId]);
  });

  it('fails a task with a hard affinity to a node that is gone with TaskUnschedulableError', () => {
    const { links, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ strategy: { nodeId: nid('ghost'), soft: false } }));
    expect(errorOf(ret(t))?.name).toBe('TaskUnschedulableError');
    expect(links.n1!.runs()).toHaveLength(0);
  });

  it('spreads SPREAD tasks over the nodes', () => {
    const { links, submit } = cluster({ n1: { CPU: 4 }, n2: { CPU: 4 } });
    for (let i = 0; i < 4; i++) submit(taskSpec({ strategy: 'SPREAD' }));
    expect(links.n1!.runs()).toHaveLength(2);
    expect(links.n2!.runs()).toHaveLength(2);
  });

  it('lends a blocked task’s CPU to a queued task and takes it back when it unblocks', () => {
    const { c, links, submit, done } = cluster({ n1: { CPU: 1 } });
    const parent = submit(taskSpec());
    const child = submit(taskSpec({ parentTaskId: parent.taskId }));
    expect(links.n1!.ranIds()).toEqual([parent.taskId]);
    c.handleNodeMessage(nid('n1'), { type: 'task_blocked', taskId: parent.taskId });
    expect(links.n1!.ranIds()).toEqual([parent.taskId, child.taskId]);
    done('n1', child);
    c.handleNodeMessage(nid('n1'), { type: 'task_unblocked', taskId: parent.taskId });
    const later = submit(taskSpec());
    expect(links.n1!.ranIds()).not.toContain(later.taskId);
    done('n1', parent);
    expect(links.n1!.ranIds()).toContain(later.taskId);
    done('n1', later);
    expect(c.availableResources()).toEqual({ CPU: 1 });
  });

  it('answers a blocking get from task code once the objects are ready', () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    const replies: CoordinatorToNode[] = [];
    c.handleNodeMessage(nid('n1'), { type: 'client_request', reqId: 9, taskId: null, req: { type: 'get', ids: [ret(t)], timeoutMs: null } }, (m) => replies.push(m));
    expect(replies).toEqual([]);
    done('n1', t, ['v']);
    return Promise.resolve().then(() => Promise.resolve()).then(() => {
      expect(replies).toEqual([{ type: 'client_reply', reqId: 9, ok: true, value: [{ kind: 'inline', obj: { v: 'v', size: 8 } }] }]);
    });
  });
});

describe('Coordinator: pipelining short tasks', () => {
  const SHORT = 'fn-short' as FunctionId;
  const PER_CPU = 16;

  /** One CPU, busy with a long task, and a short function the coordinator has timed twice. */
  function busyNodeWithShortFn(): Cluster & { actor: ActorCreationTaskSpec; short: () => TaskSpec } {
    const cl = cluster({ n1: { CPU: 1 } });
    cl.c.registerFunction(fnDesc(SHORT));
    const actor = cl.submit(actorSpec());
    cl.done('n1', actor, []);
    const short = (): TaskSpec => cl.submit(taskSpec({ fnId: SHORT }));
    for (let i = 0; i < 2; i++) cl.done('n1', short(), [null], { startMs: 0, endMs: 0 });
    cl.submit(taskSpec());
    return { ...cl, actor, short };
  }

  it('queues up to 16 short tasks per CPU at a busy node, and sends the next when one finishes', () => {
    const { links, short, done } = busyNodeWithShortFn();
    const sentBefore = links.n1!.runs().length;
    const tasks = Array.from({ length: PER_CPU + 1 }, short);
    expect(links.n1!.runs().length - sentBefore).toBe(PER_CPU);
    expect(links.n1!.ranIds()).not.toContain(tasks[PER_CPU]!.taskId);
    done('n1', tasks[0]!, [null], { startMs: 0, endMs: 0 });
    expect(links.n1!.ranIds()).toContain(tasks[PER_CPU]!.taskId);
  });

  it('does not count a finished actor call as a finished pipelined task', () => {
    const { links, short, submit, done, actor } = busyNodeWithShortFn();
    const tasks = Array.from({ length: PER_CPU + 1 }, short);
    const call = submit(methodSpec(actor));
    expect(links.n1!.ranIds()).toContain(call.taskId);
    done('n1', call);
    expect(links.n1!.ranIds()).not.toContain(tasks[PER_CPU]!.taskId);
  });

  it('tells the node which tasks it holds no resources for (pipelined) and which it does', () => {
    const { links, short } = busyNodeWithShortFn();
    const s = short();
    const runs = links.n1!.runs();
    expect(runs.find((m) => m.spec.taskId === s.taskId)?.pipelined).toBe(true);
    expect(runs.filter((m) => m.spec.kind === 'normal' && m.pipelined === undefined).length).toBeGreaterThan(0);
  });

  it('gives a handed-back pipelined task the CPU its blocked task lends, before tasks waiting in the queue', () => {
    const { c, links, short, submit, done } = busyNodeWithShortFn();
    const running = links.n1!.runs().at(-1)!.spec; // the long task holding the node's CPU
    const [s1, s2] = [short(), short()];
    const waiting = submit(taskSpec());
    expect(links.n1!.ranIds()).not.toContain(waiting.taskId);
    c.handleNodeMessage(nid('n1'), { type: 'tasks_waiting', taskIds: [s1.taskId, s2.taskId] });
    expect(links.n1!.sent.filter((m) => m.type === 'start_task')).toEqual([]);
    c.handleNodeMessage(nid('n1'), { type: 'task_blocked', taskId: running.taskId });
    // One CPU lent: the first handed-back task takes it; the second and the queued task wait.
    expect(links.n1!.sent.filter((m) => m.type === 'start_task')).toEqual([{ type: 'start_task', taskId: s1.taskId }]);
    expect(links.n1!.ranIds()).not.toContain(waiting.taskId);
    done('n1', s1, [null], { startMs: 0, endMs: 0 });
    expect(links.n1!.sent.filter((m) => m.type === 'start_task').map((m) => m.type === 'start_task' && m.taskId)).toEqual([s1.taskId, s2.taskId]);
    done('n1', s2, [null], { startMs: 0, endMs: 0 });
    expect(links.n1!.ranIds()).toContain(waiting.taskId);
  });

  it('forgets a handed-back task that ended before resources came', () => {
    const { c, links, short, done } = busyNodeWithShortFn();
    const running = links.n1!.runs().at(-1)!.spec;
    const s1 = short();
    c.handleNodeMessage(nid('n1'), { type: 'tasks_waiting', taskIds: [s1.taskId] });
    done('n1', s1, [null], { startMs: 0, endMs: 0 });
    c.handleNodeMessage(nid('n1'), { type: 'task_blocked', taskId: running.taskId });
    expect(links.n1!.sent.filter((m) => m.type === 'start_task')).toEqual([]);
  });

  it('never pipelines a retry: it waits for free resources', () => {
    const { c, links, submit } = busyNodeWithShortFn();
    const s = submit(taskSpec({ fnId: SHORT, maxRetries: 1 }));
    expect(links.n1!.runs().filter((m) => m.spec.taskId === s.taskId).map((m) => m.pipelined)).toEqual([true]);
    const crashed = { name: 'WorkerCrashedError', message: 'the worker died' };
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: s.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 0, error: crashed, systemFailure: true });
    expect(links.n1!.runs().filter((m) => m.spec.taskId === s.taskId)).toHaveLength(1);
    expect(c.taskInfos().find((i) => i.taskId === s.taskId)?.state).toBe('PENDING_NODE_ASSIGNMENT');
  });

  it('frees one pipeline slot, not several, when a pipelined task fails', () => {
    const { c, links, short } = busyNodeWithShortFn();
    const tasks = Array.from({ length: PER_CPU + 3 }, short);
    const error = thrown(new Error('boom'));
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: tasks[0]!.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 0, error });
    const sent = links.n1!.ranIds();
    expect(sent).toContain(tasks[PER_CPU]!.taskId);
    expect(sent).not.toContain(tasks[PER_CPU + 1]!.taskId);
  });
});

describe('objectStoreMemory in the resource views', () => {
  it('sums the budgets the live nodes report, in clusterResources() and availableResources()', () => {
    const c = new Coordinator('head' as NodeId);
    c.addNode('head' as NodeId, { CPU: 1 }, { send: () => {} }, { isCoordinator: true, gpuFallback: false });
    c.addNode('n2' as NodeId, { CPU: 2 }, { send: () => {} }, { isCoordinator: false, gpuFallback: false });
    expect(c.clusterResources()).toEqual({ CPU: 3 });
    c.handleNodeMessage('head' as NodeId, { type: 'node_stats', memoryBytes: 5, spilledBytes: 0, objects: 1, budgetBytes: 100 });
    c.handleNodeMessage('n2' as NodeId, { type: 'node_stats', memoryBytes: 0, spilledBytes: 0, objects: 0, budgetBytes: 50 });
    expect(c.clusterResources()).toEqual({ CPU: 3, objectStoreMemory: 150 });
    expect(c.availableResources()).toEqual({ CPU: 3, objectStoreMemory: 150 });
    c.removeNode('n2' as NodeId, 'left');
    expect(c.clusterResources()).toEqual({ CPU: 1, objectStoreMemory: 100 });
  });
});
