import { describe, expect, it } from 'vitest';
import { taskWireError, toWireError, wireError } from '../api/errors.ts';
import { returnId, type ActorId, type FunctionId, type NodeId, type ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import type { FunctionDescriptor, ResourceSet, TaskSpec } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import { Coordinator, type NodeLink } from './coordinator.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';

type RunTask = Extract<CoordinatorToNode, { type: 'run_task' }>;

/** A node as the coordinator sees it: a link that records what it is sent. */
class FakeLink implements NodeLink {
  readonly sent: CoordinatorToNode[] = [];
  send(msg: CoordinatorToNode): void {
    this.sent.push(msg);
  }
  runs(): RunTask[] {
    return this.sent.filter((m): m is RunTask => m.type === 'run_task');
  }
  ranIds(): string[] {
    return this.runs().map((m) => m.spec.taskId);
  }
}

const nid = (s: string): NodeId => s as NodeId;
const FN = 'fn-f' as FunctionId;
const CLASS_FN = 'fn-Counter' as FunctionId;

function fnDesc(fnId: FunctionId = FN, kind: FunctionDescriptor['kind'] = 'function'): FunctionDescriptor {
  return { fnId, kind, name: String(fnId), source: '(x) => x', scope: [], options: {} };
}

let seq = 0;
function taskSpec(over: Partial<TaskSpec> = {}): TaskSpec {
  return makeTaskSpec({ fnId: FN, ...over });
}

function actorSpec(over: { maxRestarts?: number; maxTaskRetries?: number; name?: string } = {}): TaskSpec {
  const actorId = `a${seq++}` as ActorId;
  return taskSpec({
    kind: 'actor-creation',
    name: 'Counter',
    fnId: CLASS_FN,
    resources: { CPU: 1 },
    heldResources: {},
    actorId,
    actor: {
      className: 'Counter',
      ...(over.name !== undefined ? { actorName: over.name } : {}),
      maxRestarts: over.maxRestarts ?? 0,
      maxTaskRetries: over.maxTaskRetries ?? 0,
      maxConcurrency: 1,
      methods: ['incr'],
      streamingMethods: [],
    },
  });
}

function methodSpec(actor: TaskSpec, callerId = 'driver', over: Partial<TaskSpec> = {}): TaskSpec {
  return taskSpec({ kind: 'actor-method', name: 'Counter.incr', fnId: CLASS_FN, method: 'incr', actorId: actor.actorId!, resources: {}, callerId, ...over });
}

interface Cluster {
  readonly c: Coordinator;
  readonly links: Record<string, FakeLink>;
  submit(spec: TaskSpec): TaskSpec;
  /** Reports the task finished on `node` with one inline result per return. */
  done(node: string, spec: TaskSpec, values?: unknown[], over?: Partial<Extract<NodeToCoordinator, { type: 'task_done' }>>): void;
  fail(node: string, spec: TaskSpec, error: WireError, systemFailure?: boolean, attempt?: number): void;
  /** The error stored for a return object, if it failed. */
  errorOf(id: ObjectId): WireError | undefined;
}

function cluster(nodes: Record<string, ResourceSet>): Cluster {
  const c = new Coordinator(nid(Object.keys(nodes)[0] ?? 'head'));
  const links: Record<string, FakeLink> = {};
  for (const [name, res] of Object.entries(nodes)) {
    links[name] = new FakeLink();
    c.addNode(nid(name), res, links[name], { isCoordinator: false, gpuFallback: false });
  }
  c.registerFunction(fnDesc());
  c.registerFunction(fnDesc(CLASS_FN, 'class'));
  const attemptOf = (node: string, spec: TaskSpec): number => {
    const runs = links[node]!.runs().filter((m) => m.spec.taskId === spec.taskId);
    return runs[runs.length - 1]?.attempt ?? 1;
  };
  return {
    c,
    links,
    submit(spec) {
      c.submitTask(spec);
      return spec;
    },
    done(node, spec, values = [null], over = {}) {
      const results: TaskResult[] = values.map((v, i) => ({ id: returnId(spec.taskId, i), size: 8, obj: { v, size: 8 } }));
      c.handleNodeMessage(nid(node), {
        type: 'task_done',
        taskId: spec.taskId,
        attempt: attemptOf(node, spec),
        workerId: null,
        startMs: 0,
        endMs: 50,
        results,
        ...over,
      });
    },
    fail(node, spec, error, systemFailure = false, attempt = attemptOf(node, spec)) {
      c.handleNodeMessage(nid(node), { type: 'task_done', taskId: spec.taskId, attempt, workerId: null, startMs: 0, endMs: 50, error, systemFailure });
    },
    errorOf(id) {
      return c.locate(id)?.obj?.err;
    },
  };
}

const ret = (spec: TaskSpec, i = 0): ObjectId => returnId(spec.taskId, i);
const crash = (): WireError => wireError('WorkerCrashedError', 'the worker running the task died');

class ValueError extends Error {
  constructor(m: string) {
    super(m);
    this.name = 'ValueError';
  }
}
const thrown = (e: Error): WireError => taskWireError('f', toWireError(e));

describe('Coordinator: running tasks', () => {
  it('sends a submitted task to a node, with the function descriptor the first time only', () => {
    const { links, submit } = cluster({ n1: { CPU: 4 } });
    const t1 = submit(taskSpec({ args: [{ kind: 'value', obj: { v: 21, size: 8 } }] }));
    const t2 = submit(taskSpec());
    const [r1, r2] = links.n1!.runs();
    expect(r1).toMatchObject({ spec: { taskId: t1.taskId }, attempt: 1, args: [{ kind: 'inline', obj: { v: 21 } }] });
    expect(r1!.fn).toEqual(fnDesc());
    expect(r2!.spec.taskId).toBe(t2.taskId);
    expect(r2!.fn).toBeUndefined();
  });

  it('refuses a task whose function was never registered', () => {
    const { c } = cluster({ n1: { CPU: 1 } });
    expect(() => c.submitTask(taskSpec({ fnId: 'nope' as FunctionId }))).toThrow(/unknown function/);
  });

  it('makes results locatable and wakes waitObjects when the task is done', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    expect(c.locate(ret(t))).toBeUndefined();
    const waiting = c.waitObjects([ret(t)], 1, null);
    done('n1', t, [42]);
    await expect(waiting).resolves.toEqual([0]);
    expect(c.locate(ret(t))).toEqual({ obj: { v: 42, size: 8 }, nodes: [] });
  });

  it('reports a large result by the node that holds it', () => {
    const { c, submit } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: t.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(t), size: 1e6 }] });
    expect(c.locate(ret(t))).toEqual({ nodes: ['n1'] });
  });

  it('makes every return of a numReturns: 2 task ready', () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ numReturns: 2 }));
    done('n1', t, ['a', 'b']);
    expect(c.locate(ret(t, 0))?.obj?.v).toBe('a');
    expect(c.locate(ret(t, 1))?.obj?.v).toBe('b');
  });

  it('resolves waitObjects with what is ready when the timeout passes', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 2 } });
    const a = submit(taskSpec());
    const b = submit(taskSpec());
    done('n1', b, [1]);
    await expect(c.waitObjects([ret(a), ret(b)], 2, 5)).resolves.toEqual([1]);
    await expect(c.waitObjects([ret(a), ret(b)], 1, 0)).resolves.toEqual([1]);
  });

  it('resolves a wait for the same object listed twice once it is ready (ray.get([ref, ref]))', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    let settled: number[] | undefined;
    void c.waitObjects([ret(t), ret(t)], 2, null).then((r) => (settled = r));
    done('n1', t, [1]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(settled).toEqual([0, 1]);
  });

  it('ignores a task_done from an earlier attempt or another node', () => {
    const { c, links, submit, fail, done } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 1 }));
    fail('n1', t, crash(), true);
    expect(links.n1!.runs().map((r) => r.attempt)).toEqual([1, 2]);
    done('n1', t, ['stale'], { attempt: 1 });
    done('n2', t, ['wrong node'], { attempt: 2 });
    expect(c.locate(ret(t))).toBeUndefined();
    done('n1', t, ['fresh'], { attempt: 2 });
    expect(c.locate(ret(t))?.obj?.v).toBe('fresh');
  });
});

describe('Coordinator: dependencies', () => {
  it('holds a task until its ObjectRef argument is ready, then sends the value inline', () => {
    const { links, submit, done } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    expect(links.n1!.ranIds()).toEqual([producer.taskId]);
    done('n1', producer, [7]);
    const run = links.n1!.runs().find((r) => r.spec.taskId === consumer.taskId);
    expect(run?.args).toEqual([{ kind: 'inline', obj: { v: 7, size: 8 } }]);
  });

  it('tells the node where to pull a large argument from', () => {
    const { c, links, submit } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: producer.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(producer), size: 1e6 }] });
    const run = links.n1!.runs().find((r) => r.spec.taskId === consumer.taskId);
    expect(run?.args).toEqual([{ kind: 'located', id: ret(producer), nodes: ['n1'] }]);
  });

  it('fails a task whose argument failed with the same error, without running it', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    const err = thrown(new TypeError('bad input'));
    fail('n1', producer, err);
    expect(errorOf(ret(consumer))).toEqual(err);
    expect(links.n1!.ranIds()).not.toContain(consumer.taskId);
  });

  it('fails a task at once when its argument had already failed', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const err = thrown(new RangeError('x'));
    fail('n1', producer, err);
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    expect(errorOf(ret(consumer))?.cause?.name).toBe('RangeError');
    expect(links.n1!.ranIds()).not.toContain(consumer.taskId);
  });
});

describe('Coordinator: retries', () => {
  it('retries a system failure up to maxRetries times, then fails with the error', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 2 }));
    fail('n1', t, crash(), true);
    fail('n1', t, crash(), true);
    expect(errorOf(ret(t))).toBeUndefined();
    fail('n1', t, crash(), true);
    expect(links.n1!.runs().map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(errorOf(ret(t))?.name).toBe('WorkerCrashedError');
  });

  it('does not retry a task that threw when retryExceptions is false', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 3 }));
    fail('n1', t, thrown(new Error('boom')));
    expect(links.n1!.runs()).toHaveLength(1);
    expect(errorOf(ret(t))?.name).toBe('RayTaskError');
  });

  it('retries only the exception classes retryExceptions lists, matching base classes too', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 4 } });
    const listed = submit(taskSpec({ maxRetries: 3, retryExceptions: ['ValueError'] }));
    const byBase = submit(taskSpec({ maxRetries: 3, retryExceptions: ['Error'] }));
    const other = submit(taskSpec({ maxRetries: 3, retryExceptions: ['ValueError'] }));
    fail('n1', listed, thrown(new ValueError('v')));
    fail('n1', byBase, thrown(new ValueError('v')));
    fail('n1', other, thrown(new TypeError('t')));
    const attempts = (s: TaskSpec): number => links.n1!.runs().filter((r) => r.spec.taskId === s.taskId).length;
    expect(attempts(listed)).toBe(2);
    expect(attempts(byBase)).toBe(2);
    expect(attempts(other)).toBe(1);
    expect(errorOf(ret(other))?.cause?.name).toBe('TypeError');
  });

  it('retries any exception with retryExceptions: true while maxRetries allows', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 1, retryExceptions: true }));
    fail('n1', t, thrown(new Error('once')));
    fail('n1', t, thrown(new Error('twice')));
    expect(links.n1!.runs()).toHaveLength(2);
    expect(errorOf(ret(t))?.cause?.message).toBe('twice');
  });

  it('retries forever with maxRetries: -1', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: -1 }));
    for (let i = 0; i < 10; i++) fail('n1', t, crash(), true);
    expect(links.n1!.runs()).toHaveLength(11);
    expect(errorOf(ret(t))).toBeUndefined();
  });

  it('retries the tasks of a node that left on another node, then fails them with NodeDiedError', () => {
    const { c, links, submit, errorOf } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    const running = submit(taskSpec({ maxRetries: 1 }));
    expect(links.n1!.ranIds()).toEqual([running.taskId]);
    c.removeNode(nid('n1'), 'tab closed');
    expect(links.n2!.runs().find((r) => r.spec.taskId === running.taskId)?.attempt).toBe(2);
    c.removeNode(nid('n2'), 'tab closed');
    expect(errorOf(ret(running))?.name).toBe('NodeDiedError');
  });

  it('recomputes a task result whose only copy was on a node that left, by running the task again', () => {
    const { c, links, submit } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    submit(taskSpec());
    const stored = submit(taskSpec());
    expect(links.n2!.ranIds()).toEqual([stored.taskId]);
    c.handleNodeMessage(nid('n2'), { type: 'task_done', taskId: stored.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(stored), size: 1e6 }] });
    c.removeNode(nid('n2'), 'tab closed');
    expect(c.locate(ret(stored))).toBeUndefined();
    c.addNode(nid('n3'), { CPU: 1 }, (links.n3 = new FakeLink()), { isCoordinator: false, gpuFallback: false });
    expect(links.n3.ranIds()).toEqual([stored.taskId]);
  });

  it('holds a retried task until an argument lost with its node is recomputed, then sends its new location', () => {
    const { c, links, submit, done, fail } = cluster({ n1: { CPU: 2 }, n2: { CPU: 2 } });
    const producer = submit(taskSpec({ strategy: { nodeId: nid('n1'), soft: true } }));
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: producer.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(producer), size: 1e6 }] });
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }], strategy: { nodeId: nid('n2'), soft: false }, maxRetries: 3 }));
    expect(links.n2!.runs().find((r) => r.spec.taskId === consumer.taskId)?.args).toEqual([{ kind: 'located', id: ret(producer), nodes: ['n1'] }]);
    // n1 leaves while n2 pulls the argument from it: the producer runs again on n2, and the
    // consumer's failed fetch (a system failure) waits for that instead of pulling from nowhere.
    c.removeNode(nid('n1'), 'tab closed');
    expect(links.n2!.ranIds()).toContain(producer.taskId);
    fail('n2', consumer, wireError('ObjectLostError', 'could not fetch an argument: the link closed during the pull'), true);
    expect(links.n2!.runs().filter((r) => r.spec.taskId === consumer.taskId)).toHaveLength(1);
    done('n2', producer, [null], { results: [{ id: ret(producer), size: 1e6 }] });
    const retried = links.n2!.runs().filter((r) => r.spec.taskId === consumer.taskId);
    expect(retried).toHaveLength(2);
    expect(retried[1]!.args).toEqual([{ kind: 'located', id: ret(producer), nodes: ['n2'] }]);
  });

  it('fails a put object whose only copy was on a node that left with ObjectLostError', () => {
    const { c, errorOf } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    c.putObject('p1' as ObjectId, 1e6, undefined, nid('n2'));
    c.removeNode(nid('n2'), 'tab closed');
    expect(errorOf('p1' as ObjectId)?.name).toBe('ObjectLostError');
    expect(errorOf('p1' as ObjectId)?.message).toMatch(/ray\.put/);
  });
});

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
    expect(c.availableResources()).toEqual({ CPU: 0 });
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
    c.handleNodeMessage(nid('n1'), { type: 'client_request', reqId: 9, taskId: null, req: { op: 'get', ids: [ret(t)], timeoutMs: null } }, (m) => replies.push(m));
    expect(replies).toEqual([]);
    done('n1', t, ['v']);
    return Promise.resolve().then(() => Promise.resolve()).then(() => {
      expect(replies).toEqual([{ type: 'client_reply', reqId: 9, ok: true, value: [{ kind: 'inline', obj: { v: 'v', size: 8 } }] }]);
    });
  });
});

describe('Coordinator: requests from task code and introspection', () => {
  function request(c: Coordinator, req: Extract<NodeToCoordinator, { type: 'client_request' }>['req']): CoordinatorToNode[] {
    const replies: CoordinatorToNode[] = [];
    c.handleNodeMessage(nid('n1'), { type: 'client_request', reqId: 1, taskId: null, req }, (m) => replies.push(m));
    return replies;
  }

  it('answers a get that times out with GetTimeoutError', async () => {
    const { c, submit } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    const replies = request(c, { op: 'get', ids: [ret(t)], timeoutMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(replies).toEqual([{ type: 'client_reply', reqId: 1, ok: false, error: expect.objectContaining({ name: 'GetTimeoutError' }) }]);
  });

  it('answers getActor with the actor, or an error naming the missing name', () => {
    const { c, submit } = cluster({ n1: { CPU: 1 } });
    const actor = submit(actorSpec({ name: 'hits' }));
    expect(request(c, { op: 'getActor', name: 'hits' })).toEqual([
      { type: 'client_reply', reqId: 1, ok: true, value: expect.objectContaining({ actorId: actor.actorId, className: 'Counter' }) },
    ]);
    expect(request(c, { op: 'getActor', name: 'nope' })[0]).toMatchObject({ ok: false, error: { message: expect.stringContaining('"nope"') } });
  });

  it('turns a submit it cannot accept into an error reply instead of throwing', () => {
    const { c } = cluster({ n1: { CPU: 1 } });
    expect(request(c, { op: 'submit', spec: taskSpec({ fnId: 'unknown' as FunctionId }) })[0]).toMatchObject({ ok: false });
  });

  it('sums resources over live nodes only', () => {
    const { c } = cluster({ n1: { CPU: 2 }, n2: { CPU: 4, GPU: 1 } });
    expect(c.clusterResources()).toEqual({ CPU: 6, GPU: 1 });
    c.removeNode(nid('n2'), 'left');
    expect(c.clusterResources()).toEqual({ CPU: 2 });
    expect(c.nodeInfos().find((n) => n.nodeId === 'n2')).toMatchObject({ alive: false, available: {} });
  });

  it('lists tasks with their state and leaves out those with task events off', () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const a = submit(taskSpec({ name: 'visible' }));
    submit(taskSpec({ name: 'hidden', enableTaskEvents: false }));
    expect(c.taskInfos().map((t) => t.name)).toEqual(['visible']);
    done('n1', a);
    expect(c.taskInfos('FINISHED').map((t) => [t.name, t.attempts, t.nodeId])).toEqual([['visible', 1, 'n1']]);
  });
});

describe('Coordinator: cancellation', () => {
  it('fails a queued task’s return with TaskCancelledError and never sends it', () => {
    const { links, submit, done, errorOf, c } = cluster({ n1: { CPU: 1 } });
    const running = submit(taskSpec());
    const queued = submit(taskSpec());
    c.cancel(ret(queued), false, true);
    expect(errorOf(ret(queued))?.name).toBe('TaskCancelledError');
    done('n1', running);
    expect(links.n1!.ranIds()).toEqual([running.taskId]);
    expect(links.n1!.sent.some((m) => m.type === 'cancel_task')).toBe(false);
  });

  it('cancels a task waiting for its arguments so it never runs', () => {
    const { links, submit, done, errorOf, c } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    c.cancel(ret(consumer), false, true);
    done('n1', producer);
    expect(links.n1!.ranIds()).toEqual([producer.taskId]);
    expect(errorOf(ret(consumer))?.name).toBe('TaskCancelledError');
  });

  it('asks the node to cancel a running task, and does not retry it when it fails', () => {
    const { links, submit, fail, errorOf, c } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 3 }));
    c.cancel(ret(t), true, true);
    expect(links.n1!.sent).toContainEqual({ type: 'cancel_task', taskId: t.taskId, force: true });
    expect(errorOf(ret(t))?.name).toBe('TaskCancelledError');
    fail('n1', t, crash(), true);
    expect(links.n1!.runs()).toHaveLength(1);
  });

  it('cancels the tasks a cancelled task submitted when recursive', () => {
    const { submit, errorOf, c } = cluster({ n1: { CPU: 1 } });
    const parent = submit(taskSpec());
    const child = submit(taskSpec({ parentTaskId: parent.taskId }));
    c.cancel(ret(parent), false, true);
    expect(errorOf(ret(child))?.name).toBe('TaskCancelledError');
  });
});

describe('Coordinator: actors', () => {
  function withActor(over: Parameters<typeof actorSpec>[0] = {}): Cluster & { actor: TaskSpec } {
    const cl = cluster({ n1: { CPU: 2 } });
    return { ...cl, actor: cl.submit(actorSpec(over)) };
  }

  it('sends the creation task, then method calls once the actor is up, in each caller’s order', () => {
    const { links, submit, done, actor } = withActor();
    const a1 = submit(methodSpec(actor, 'A'));
    const b1 = submit(methodSpec(actor, 'B'));
    const a2 = submit(methodSpec(actor, 'A'));
    expect(links.n1!.ranIds()).toEqual([actor.taskId]);
    expect(links.n1!.runs()[0]!.fn).toEqual(fnDesc(CLASS_FN, 'class'));
    done('n1', actor, []);
    const sent = links.n1!.ranIds();
    expect(sent).toHaveLength(4);
    expect(sent.indexOf(a1.taskId)).toBeLessThan(sent.indexOf(a2.taskId));
    expect(sent).toContain(b1.taskId);
    expect(links.n1!.runs().slice(1).every((r) => r.fn === undefined)).toBe(true);
  });

  it('holds a caller’s later calls behind a call whose argument is pending', () => {
    const { links, submit, done, actor } = withActor();
    done('n1', actor, []);
    const producer = submit(taskSpec());
    const first = submit(methodSpec(actor, 'A', { args: [{ kind: 'ref', id: ret(producer) }] }));
    const second = submit(methodSpec(actor, 'A'));
    const otherCaller = submit(methodSpec(actor, 'B'));
    expect(links.n1!.ranIds()).toContain(otherCaller.taskId);
    expect(links.n1!.ranIds()).not.toContain(second.taskId);
    done('n1', producer, [1]);
    const sent = links.n1!.ranIds();
    expect(sent.slice(-2)).toEqual([first.taskId, second.taskId]);
  });

  it('re-sends the creation task when the actor dies with restarts left, then sends new calls', () => {
    const { c, links, submit, done, actor, errorOf } = withActor({ maxRestarts: 1 });
    done('n1', actor, []);
    const inflight = submit(methodSpec(actor));
    c.handleNodeMessage(nid('n1'), { type: 'actor_died', actorId: actor.actorId!, error: wireError('ActorDiedError', 'worker crashed') });
    const creations = links.n1!.runs().filter((r) => r.spec.taskId === actor.taskId);
    expect(creations.map((r) => r.attempt)).toEqual([1, 2]);
    expect(errorOf(ret(inflight))?.name).toBe('ActorDiedError');
    const later = submit(methodSpec(actor));
    expect(links.n1!.ranIds()).not.toContain(later.taskId);
    done('n1', actor, []);
    expect(links.n1!.ranIds()).toContain(later.taskId);
  });

  it('retries a running call on the restarted actor when maxTaskRetries allows', () => {
    const { c, links, submit, done, actor } = withActor({ maxRestarts: 1, maxTaskRetries: 1 });
    done('n1', actor, []);
    const call = submit(methodSpec(actor));
    c.handleNodeMessage(nid('n1'), { type: 'actor_died', actorId: actor.actorId!, error: wireError('ActorDiedError', 'worker crashed') });
    done('n1', actor, []);
    expect(links.n1!.runs().filter((r) => r.spec.taskId === call.taskId).map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('fails calls with ActorDiedError once no restarts are left, and frees its name', () => {
    const { c, links, submit, done, actor, errorOf } = withActor({ maxRestarts: 0, name: 'hits' });
    done('n1', actor, []);
    expect(c.getActor('hits')?.actorId).toBe(actor.actorId);
    c.handleNodeMessage(nid('n1'), { type: 'actor_died', actorId: actor.actorId!, error: wireError('ActorDiedError', 'worker crashed') });
    const after = submit(methodSpec(actor));
    expect(errorOf(ret(after))?.name).toBe('ActorDiedError');
    expect(links.n1!.runs().filter((r) => r.spec.taskId === actor.taskId)).toHaveLength(1);
    expect(c.getActor('hits')).toBeUndefined();
  });

  it('refuses a second live actor with the same name', () => {
    const { submit, errorOf } = withActor({ name: 'hits' });
    const dup = submit(actorSpec({ name: 'hits' }));
    expect(errorOf(ret(dup))?.message).toMatch(/already exists/);
  });

  it('kills an actor: tells its node, and fails its later calls', () => {
    const { c, links, submit, done, actor, errorOf } = withActor({ maxRestarts: 3 });
    done('n1', actor, []);
    c.killActor(actor.actorId!, true);
    expect(links.n1!.sent).toContainEqual({ type: 'kill_actor', actorId: actor.actorId });
    expect(errorOf(ret(submit(methodSpec(actor))))?.name).toBe('ActorDiedError');
  });

  it('never creates an actor killed while it waited for resources, even when a node that has them joins', () => {
    const { c, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const actor = submit({ ...actorSpec(), resources: { CPU: 1, GPU: 1 } });
    c.killActor(actor.actorId!, true);
    expect(errorOf(ret(actor))?.name).toBe('ActorDiedError');
    const gpu = new FakeLink();
    c.addNode(nid('gpu'), { CPU: 1, GPU: 1 }, gpu, { isCoordinator: false, gpuFallback: false });
    expect(gpu.runs()).toEqual([]);
    expect(c.availableResources()).toEqual({ CPU: 2, GPU: 1 });
  });

  it('tells the node to kill an actor whose constructor is still running', () => {
    const { c, links, actor } = withActor();
    expect(links.n1!.ranIds()).toEqual([actor.taskId]);
    c.killActor(actor.actorId!, true);
    expect(links.n1!.sent).toContainEqual({ type: 'kill_actor', actorId: actor.actorId });
  });

  it('fails the actor for good when its constructor throws', () => {
    const { submit, fail, actor, errorOf } = withActor({ maxRestarts: 2 });
    const call = submit(methodSpec(actor));
    fail('n1', actor, thrown(new Error('bad config')));
    expect(errorOf(ret(actor))?.message).toMatch(/constructor failed: Error: bad config/);
    expect(errorOf(ret(call))?.name).toBe('ActorDiedError');
  });
});

describe('Coordinator: stop', () => {
  it('fails every pending task on stop', () => {
    const { c, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const running = submit(taskSpec());
    const queued = submit(taskSpec());
    c.stop();
    expect(errorOf(ret(running))?.name).toBe('RaySystemError');
    expect(errorOf(ret(queued))?.name).toBe('RaySystemError');
  });
});

describe('Coordinator: pipelining short tasks', () => {
  const SHORT = 'fn-short' as FunctionId;
  const PER_CPU = 16;

  /** One CPU, busy with a long task, and a short function the coordinator has timed twice. */
  function busyNodeWithShortFn(): Cluster & { actor: TaskSpec; short: () => TaskSpec } {
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

describe('Coordinator: streaming generators', () => {
  function item(c: Coordinator, spec: TaskSpec, index: number, v: unknown, attempt = 1): void {
    c.handleNodeMessage(nid('n1'), { type: 'generator_item', taskId: spec.taskId, attempt, index, result: { id: ret(spec, index), size: 8, obj: { v, size: 8 } } });
  }
  const streaming = (over: Partial<TaskSpec> = {}): TaskSpec => taskSpec({ numReturns: 'streaming', ...over });

  it('hands out each item as soon as it is yielded, and done once the task finishes', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming());
    item(c, g, 0, 'a');
    await expect(c.generatorNext(g.taskId, 0)).resolves.toEqual({ done: false, id: ret(g, 0) });
    expect(c.locate(ret(g, 0))?.obj?.v).toBe('a');
    const next = c.generatorNext(g.taskId, 1);
    item(c, g, 1, 'b');
    await expect(next).resolves.toEqual({ done: false, id: ret(g, 1) });
    const end = c.generatorNext(g.taskId, 2);
    done('n1', g, []);
    await expect(end).resolves.toEqual({ done: true });
  });

  it('surfaces an error thrown mid-stream as the item after the last good one', async () => {
    const { c, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming());
    item(c, g, 0, 'ok');
    fail('n1', g, thrown(new RangeError('mid-stream')));
    await expect(c.generatorNext(g.taskId, 1)).resolves.toEqual({ done: false, id: ret(g, 1) });
    expect(errorOf(ret(g, 1))?.cause?.message).toBe('mid-stream');
    await expect(c.generatorNext(g.taskId, 2)).resolves.toEqual({ done: true });
  });

  it('ignores items a retry yields again and keeps the new ones', async () => {
    const { c, submit, fail } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming({ maxRetries: 1 }));
    item(c, g, 0, 'first');
    fail('n1', g, crash(), true);
    item(c, g, 0, 'again', 2);
    item(c, g, 1, 'new', 2);
    expect(c.locate(ret(g, 0))?.obj?.v).toBe('first');
    expect(c.locate(ret(g, 1))?.obj?.v).toBe('new');
    await expect(c.generatorNext(g.taskId, 1)).resolves.toEqual({ done: false, id: ret(g, 1) });
  });

  it('acknowledges consumed items to the node when the task has backpressure', async () => {
    const { c, links, submit } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming({ generatorBackpressure: 2 }));
    item(c, g, 0, 'a');
    item(c, g, 1, 'b');
    await c.generatorNext(g.taskId, 0);
    await c.generatorNext(g.taskId, 1);
    expect(links.n1!.sent.filter((m) => m.type === 'generator_ack')).toEqual([
      { type: 'generator_ack', taskId: g.taskId, consumed: 1 },
      { type: 'generator_ack', taskId: g.taskId, consumed: 2 },
    ]);
  });

  it('ends the stream with TaskCancelledError when cancelled', async () => {
    const { c, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming());
    item(c, g, 0, 'a');
    c.cancel(g.taskId as unknown as ObjectId, false, true);
    await expect(c.generatorNext(g.taskId, 1)).resolves.toEqual({ done: false, id: ret(g, 1) });
    expect(errorOf(ret(g, 1))?.name).toBe('TaskCancelledError');
    await expect(c.generatorNext(g.taskId, 2)).resolves.toEqual({ done: true });
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
