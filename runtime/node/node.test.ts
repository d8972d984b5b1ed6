import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdGenerator, returnId, type ActorId, type FunctionId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, ResolvedArg } from '../protocol/node-messages.ts';
import type { ActorCreationTaskSpec, FunctionDescriptor, ResourceSet, NormalTaskSpec, SerializedObject, TaskSpec } from '../protocol/task-spec.ts';
import type { FromWorker, RunTask, ToWorker } from '../protocol/worker-messages.ts';
import { CANCEL_BLOCKED_GRACE_MAX_MS, CANCEL_GRACE_MS, EXTRA_WORKERS_MAX, INLINE_OBJECT_MAX_BYTES, WORKER_SHARED_TASKS_MAX } from './constants.ts';
import { Node } from './node.ts';
import { ObjectStore } from './object-store.ts';
import type { WorkerEndpoint } from './worker-endpoint.ts';
import { FIXTURE_FN, makeTaskSpec, type SpecOf, type TaskSpecOverrides } from '../protocol/task-spec.fixture.ts';

/** An in-memory Web Worker: records the batches it is posted, and lets the test answer. */
class FakeWorker implements WorkerEndpoint {
  readonly batches: ToWorker[][] = [];
  terminated = false;
  private onMessages: ((batch: readonly FromWorker[]) => void) | undefined;
  private onError: ((reason: string) => void) | undefined;

  post(batch: readonly ToWorker[]): void {
    this.batches.push([...batch]);
  }
  listen(onMessages: (batch: readonly FromWorker[]) => void, onError: (reason: string) => void): void {
    this.onMessages = onMessages;
    this.onError = onError;
  }
  terminate(): void {
    this.terminated = true;
  }
  /** The worker sends these messages to its node. */
  reply(...msgs: FromWorker[]): void {
    this.onMessages!(msgs);
  }
  /** The worker dies (uncaught error, failed load). */
  crash(reason: string): void {
    this.onError!(reason);
  }
  get messages(): ToWorker[] {
    return this.batches.flat();
  }
  types(): string[] {
    return this.messages.map((m) => m.type);
  }
  runs(): RunTask[] {
    return this.messages.filter((m): m is RunTask => m.type === 'run');
  }
  ran(taskId: TaskId): boolean {
    return this.runs().some((r) => r.taskId === taskId);
  }
}

const FN = FIXTURE_FN;
const fnDesc: FunctionDescriptor = { fnId: FN, kind: 'function', name: 'f', source: '(x) => x', scope: [], options: {} };

/** A spec of a one-CPU task of `FN` (the fixture's default function), with any field overridden. */
function taskSpec<O extends TaskSpecOverrides = Partial<NormalTaskSpec>>(over?: O): SpecOf<O> {
  return makeTaskSpec(over);
}

/** Lets queued microtasks (the node's batched posts) run. */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

let nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes) n.stop();
  nodes = [];
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function setup(resources: ResourceSet = { CPU: 2 }) {
  // Worker deaths are logged as warnings; keep the test output clean.
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  const workers: FakeWorker[] = [];
  const sent: NodeToCoordinator[] = [];
  const store = new ObjectStore();
  const node = new Node({
    nodeId: 'n1' as NodeId,
    resources,
    ids: new IdGenerator('n1-'),
    createWorker: () => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    },
    store,
    send: (m) => sent.push(m),
  });
  nodes.push(node);
  node.start();
  let fnSent = false;
  /** The coordinator assigns a task here: holding resources for it, or `pipelined` behind others. */
  const run = (spec: TaskSpec, args: ResolvedArg[] = [], attempt = 1, pipelined = false): TaskSpec => {
    const msg: CoordinatorToNode = {
      type: 'run_task',
      spec,
      attempt,
      args,
      ...(fnSent ? {} : { fn: fnDesc }),
      ...(pipelined ? { pipelined: true as const } : {}),
    };
    fnSent = true;
    node.handle(msg);
    return spec;
  };
  const workerOf = (spec: TaskSpec): FakeWorker | undefined => workers.find((w) => w.ran(spec.taskId));
  const finish = (spec: TaskSpec, results: SerializedObject[] = [{ v: null, size: 8 }]): void => {
    workerOf(spec)!.reply({ type: 'done', taskId: spec.taskId, startMs: 0, endMs: 50, heldMs: 0.5, results });
  };
  /** Two tasks of FN run and end having held their worker briefly: FN's tasks may share a worker from now on. */
  const learnBrief = async (): Promise<void> => {
    for (let i = 0; i < 2; i++) {
      const t = run(taskSpec());
      await tick();
      finish(t);
    }
  };
  const done = (taskId: TaskId) => sent.find((m): m is Extract<NodeToCoordinator, { type: 'task_done' }> => m.type === 'task_done' && m.taskId === taskId);
  return { node, workers, sent, store, run, workerOf, finish, done, learnBrief };
}

describe('Node: running tasks', () => {
  it('warms one worker per CPU and initializes each', async () => {
    const { workers } = setup({ CPU: 3 });
    await tick();
    expect(workers).toHaveLength(3);
    for (const w of workers) expect(w.types()).toEqual(['init']);
  });

  it('loads the function into a worker before the first run, and only once', async () => {
    const { run, workerOf, finish } = setup({ CPU: 1 });
    const t1 = run(taskSpec({ args: [], name: 'f' }), [{ kind: 'inline', obj: { v: 5, size: 8 } }]);
    await tick();
    const w = workerOf(t1)!;
    expect(w.types()).toEqual(['init', 'load', 'run']);
    expect(w.messages[1]).toEqual({ type: 'load', desc: fnDesc });
    expect(w.runs()[0]).toMatchObject({ taskId: t1.taskId, fnId: FN, args: [{ v: 5, size: 8 }], numReturns: 1, transferResults: true, gpu: false });
    finish(t1);
    const t2 = run(taskSpec());
    await tick();
    expect(workerOf(t2)).toBe(w);
    expect(w.types()).toEqual(['init', 'load', 'run', 'run']);
  });

  it('reports the task started, then done with small results inline', async () => {
    const { run, finish, sent, done } = setup();
    const t = run(taskSpec());
    await tick();
    finish(t, [{ v: 'small', size: 10 }]);
    expect(sent.find((m) => m.type === 'task_started')).toMatchObject({ taskId: t.taskId });
    expect(done(t.taskId)).toMatchObject({ attempt: 1, startMs: 0, endMs: 50, results: [{ id: returnId(t.taskId, 0), size: 10, obj: { v: 'small' } }] });
    expect(done(t.taskId)?.error).toBeUndefined();
  });

  it('keeps a large result in its object store and reports only its size', async () => {
    const { run, finish, store, done } = setup();
    const t = run(taskSpec());
    await tick();
    const big: SerializedObject = { v: new Uint8Array(8), size: INLINE_OBJECT_MAX_BYTES + 1 };
    finish(t, [big]);
    expect(done(t.taskId)?.results).toEqual([{ id: returnId(t.taskId, 0), size: INLINE_OBJECT_MAX_BYTES + 1 }]);
    expect(store.get(returnId(t.taskId, 0))).toBe(big);
  });

  it('passes on a task’s own error as not a system failure', async () => {
    const { run, workerOf, done } = setup();
    const t = run(taskSpec());
    await tick();
    const error = { name: 'RayTaskError', message: 'task f failed: Error: x' };
    workerOf(t)!.reply({ type: 'done', taskId: t.taskId, startMs: 0, endMs: 1, error });
    expect(done(t.taskId)).toMatchObject({ error, systemFailure: false });
  });

  it('uses an argument already in its store, and fails the task when an argument is nowhere', async () => {
    const { run, store, workerOf, done } = setup();
    const here = 'p1' as ObjectId;
    store.put(here, { v: 'local', size: 8 });
    const t1 = run(taskSpec(), [{ kind: 'located', id: here, nodes: ['n1' as NodeId] }]);
    const t2 = run(taskSpec(), [{ kind: 'located', id: 'gone' as ObjectId, nodes: [] }]);
    await tick();
    expect(workerOf(t1)!.runs()[0]!.args).toEqual([{ v: 'local', size: 8 }]);
    expect(done(t2.taskId)?.error?.name).toBe('ObjectLostError');
    expect(workerOf(t2)).toBeUndefined();
  });
});

describe('Node: placement the coordinator decided', () => {
  it('starts a task the coordinator holds resources for on an idle worker or a new one while a CPU is free, else behind a busy worker', async () => {
    const { node, run, workers, workerOf, learnBrief } = setup({ CPU: 2 });
    await learnBrief();
    const [a, b] = [run(taskSpec()), run(taskSpec())];
    await tick();
    expect(workerOf(a)).not.toBe(workerOf(b));
    // Both CPUs busy (say a pipelined task holds the worker whose reserved task ended): queue, not a third worker.
    const c = run(taskSpec());
    await tick();
    expect([workerOf(a), workerOf(b)]).toContain(workerOf(c));
    expect(workers).toHaveLength(2);
    expect(node.stats()).toMatchObject({ running: 3, queued: 0 });
    // The task ahead of it blocks: it is handed back and runs on that worker while the task
    // ahead waits (sent again as `shared`), still without a third worker.
    const w = workerOf(c)!;
    const ahead = w === workerOf(a) ? a : b;
    w.reply({ type: 'returned', taskIds: [c.taskId] }, { type: 'request', reqId: 1, taskId: ahead.taskId, req: { type: 'get', ids: ['x.0' as ObjectId], timeoutMs: null } });
    await tick();
    expect(workers).toHaveLength(2);
    expect(w.runs().filter((r) => r.taskId === c.taskId).map((r) => r.shared)).toEqual([undefined, true]);
  });

  it('posts a task to an idle worker in this microtask, and tasks for a busy one together, behind the events already queued', async () => {
    const { run, workerOf } = setup({ CPU: 1 });
    const a = run(taskSpec());
    await Promise.resolve();
    const w = workerOf(a)!;
    const before = w.batches.length;
    const [b, c] = [run(taskSpec(), [], 1, true), run(taskSpec(), [], 1, true)];
    await Promise.resolve();
    expect(w.batches.length).toBe(before);
    await tick();
    expect(w.batches.length).toBe(before + 1);
    expect(w.batches.at(-1)!.map((m) => (m as RunTask).taskId)).toEqual([b.taskId, c.taskId]);
  });

  it('gives a worker that went idle to the next task, without starting a new one', async () => {
    const { run, workers, workerOf, finish } = setup({ CPU: 1 });
    const a = run(taskSpec());
    await tick();
    const w = workerOf(a)!;
    finish(a);
    const b = run(taskSpec());
    await tick();
    expect(workerOf(b)).toBe(w);
    expect(workers).toHaveLength(1);
  });

  it('queues a pipelined task behind a busy worker of its resource shape, and reports one that finds none', async () => {
    const { run, workerOf, workers, sent } = setup({ CPU: 1 });
    const a = run(taskSpec());
    const b = run(taskSpec(), [], 1, true);
    const other = run(taskSpec({ resources: { CPU: 0.5 } }), [], 1, true);
    await tick();
    expect(workerOf(b)).toBe(workerOf(a));
    // No busy worker of its shape, none idle: it waits at the node rather than taking a worker of
    // its own, and the coordinator (which owns the CPUs) hears it waits, once.
    expect(workerOf(other)).toBeUndefined();
    expect(workers).toHaveLength(1);
    expect(sent.filter((m) => m.type === 'tasks_waiting')).toEqual([{ type: 'tasks_waiting', taskIds: [other.taskId] }]);
  });

  it('runs a pipelined task it reported waiting only when the coordinator gives it resources, on an idle worker', async () => {
    const { node, run, workerOf, finish, workers } = setup({ CPU: 1 });
    const a = run(taskSpec());
    const waiting = run(taskSpec({ resources: { CPU: 0.5 } }), [], 1, true);
    await tick();
    expect(workerOf(waiting)).toBeUndefined();
    const w = workerOf(a)!;
    finish(a);
    await tick();
    expect(workerOf(waiting)).toBeUndefined();
    node.handle({ type: 'start_task', taskId: waiting.taskId });
    await tick();
    expect(workerOf(waiting)).toBe(w);
    expect(workers).toHaveLength(1);
  });

  it('reports tasks a blocked worker hands back, and runs one on that worker while its task waits when the coordinator gives it resources', async () => {
    const { node, run, workerOf, workers, sent, learnBrief } = setup({ CPU: 1 });
    await learnBrief();
    const a = run(taskSpec());
    const b = run(taskSpec(), [], 1, true);
    await tick();
    const w = workerOf(a)!;
    expect(workerOf(b)).toBe(w);
    w.reply({ type: 'returned', taskIds: [b.taskId] }, { type: 'request', reqId: 1, taskId: a.taskId, req: { type: 'get', ids: ['x.0' as ObjectId], timeoutMs: null } });
    await tick();
    expect(sent).toContainEqual({ type: 'tasks_waiting', taskIds: [b.taskId] });
    expect(workers.filter((x) => x.ran(b.taskId))).toEqual([w]);
    node.handle({ type: 'start_task', taskId: b.taskId });
    await tick();
    expect(workers.filter((x) => x.ran(b.taskId))).toEqual([w]);
    expect(w.runs().filter((r) => r.taskId === b.taskId).map((r) => r.shared)).toEqual([undefined, true]);
  });

  it('ignores a hand-back naming tasks its worker does not hold', async () => {
    const { run, workerOf, sent } = setup({ CPU: 1 });
    const a = run(taskSpec());
    await tick();
    workerOf(a)!.reply({ type: 'returned', taskIds: ['elsewhere' as TaskId] });
    expect(sent.some((m) => m.type === 'tasks_waiting')).toBe(false);
  });
});

describe('Node: worker failures', () => {
  it('reports a crashed worker’s task as a system failure with WorkerCrashedError and uses a new worker next', async () => {
    const { run, workerOf, workers, done } = setup({ CPU: 1 });
    const t1 = run(taskSpec());
    await tick();
    const dead = workerOf(t1)!;
    dead.crash('out of memory');
    expect(dead.terminated).toBe(true);
    const report = done(t1.taskId);
    expect(report).toMatchObject({ systemFailure: true, error: { name: 'WorkerCrashedError' } });
    expect(report?.error?.message).toContain('out of memory');
    const t2 = run(taskSpec());
    await tick();
    const next = workerOf(t2)!;
    expect(next).not.toBe(dead);
    expect(workers).toContain(next);
    expect(next.types()).toEqual(['init', 'load', 'run']);
  });

  it('fails only the task a crashed worker was running: those queued behind it go back to the node, not spending an attempt', async () => {
    const { run, workerOf, done, sent } = setup({ CPU: 1 });
    const a = run(taskSpec());
    const b = run(taskSpec(), [], 1, true);
    await tick();
    expect(workerOf(b)).toBe(workerOf(a));
    workerOf(a)!.crash('out of memory');
    await tick();
    expect(done(a.taskId)).toMatchObject({ systemFailure: true, error: { name: 'WorkerCrashedError' } });
    expect(done(b.taskId)).toBeUndefined();
    // No worker is free for it: it waits at the node, and the coordinator hears so.
    expect(sent).toContainEqual({ type: 'tasks_waiting', taskIds: [b.taskId] });
  });

  it('treats a worker that exits as crashed', async () => {
    const { run, workerOf, done } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await tick();
    workerOf(t)!.reply({ type: 'exit', reason: 'close() was called' });
    expect(done(t.taskId)).toMatchObject({ systemFailure: true, error: { name: 'WorkerCrashedError' } });
  });
});

describe('Node: cancellation', () => {
  it('reports a cancelled queued task with TaskCancelledError and never runs it', async () => {
    const { node, run, workers, finish, done } = setup({ CPU: 1 });
    const running = run(taskSpec());
    const queued = run(taskSpec({ resources: { CPU: 0.5 } }), [], 1, true);
    await tick();
    expect(workers.some((w) => w.ran(queued.taskId))).toBe(false);
    node.handle({ type: 'cancel_task', taskId: queued.taskId, force: false });
    expect(done(queued.taskId)).toMatchObject({ systemFailure: false, error: { name: 'TaskCancelledError' } });
    finish(running);
    await tick();
    expect(workers.some((w) => w.ran(queued.taskId))).toBe(false);
  });

  it('asks the worker to cancel a running task, and terminates it if the task does not stop in time', async () => {
    vi.useFakeTimers();
    const { node, run, workerOf } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await vi.advanceTimersByTimeAsync(0);
    const w = workerOf(t)!;
    node.handle({ type: 'cancel_task', taskId: t.taskId, force: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(w.messages).toContainEqual({ type: 'cancel', taskId: t.taskId });
    expect(w.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(2000);
    expect(w.terminated).toBe(true);
  });

  it('terminates a task that ignores its cancel exactly 1 s after the cancel (README: 1 s grace period), and replaces its worker', async () => {
    vi.useFakeTimers();
    const { node, run, workerOf, done } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await vi.advanceTimersByTimeAsync(0);
    const w = workerOf(t)!;
    node.handle({ type: 'cancel_task', taskId: t.taskId, force: false });
    // The task's body ignores the abort (a synchronous loop): its worker never answers.
    await vi.advanceTimersByTimeAsync(999);
    expect(w.terminated).toBe(false);
    expect(done(t.taskId)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(w.terminated).toBe(true);
    expect(done(t.taskId)).toMatchObject({ systemFailure: true, error: { name: 'WorkerCrashedError' } });
    expect(done(t.taskId)?.error?.message).toContain('did not stop within 1000 ms');
    // The CPU went back with a fresh worker: the next task runs at once, elsewhere.
    const next = run(taskSpec());
    await vi.advanceTimersByTimeAsync(0);
    expect(workerOf(next)).toBeDefined();
    expect(workerOf(next)).not.toBe(w);
  });

  it('counts the grace period from the cancel, not from the task’s start', async () => {
    vi.useFakeTimers();
    const { node, run, workerOf } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await vi.advanceTimersByTimeAsync(0);
    const w = workerOf(t)!;
    await vi.advanceTimersByTimeAsync(5000); // the task has run for 5 s
    node.handle({ type: 'cancel_task', taskId: t.taskId, force: false });
    await vi.advanceTimersByTimeAsync(999);
    expect(w.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.terminated).toBe(true);
  });

  it('keeps the worker when the cancelled task stops within the grace period', async () => {
    vi.useFakeTimers();
    const { node, run, workerOf } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await vi.advanceTimersByTimeAsync(0);
    const w = workerOf(t)!;
    node.handle({ type: 'cancel_task', taskId: t.taskId, force: false });
    // It stops at the last moment of the grace period.
    await vi.advanceTimersByTimeAsync(999);
    w.reply({ type: 'done', taskId: t.taskId, startMs: 0, endMs: 1, error: { name: 'TaskCancelledError', message: 'cancelled' } });
    await vi.advanceTimersByTimeAsync(2000);
    expect(w.terminated).toBe(false);
  });

  it('terminates the worker at once on a forced cancel', async () => {
    const { node, run, workerOf } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await tick();
    node.handle({ type: 'cancel_task', taskId: t.taskId, force: true });
    expect(workerOf(t)!.terminated).toBe(true);
  });
});

describe('Node: calls from task code', () => {
  it('tells the coordinator a task blocked in get, and unblocks on the reply', async () => {
    const { node, run, workerOf, sent } = setup({ CPU: 1 });
    const parent = run(taskSpec());
    await tick();
    const w = workerOf(parent)!;
    const wanted = 'x.0' as ObjectId;
    w.reply({ type: 'request', reqId: 7, taskId: parent.taskId, req: { type: 'get', ids: [wanted], timeoutMs: null } });
    expect(sent).toContainEqual({ type: 'task_blocked', taskId: parent.taskId });
    const forwarded = sent.find((m): m is Extract<NodeToCoordinator, { type: 'client_request' }> => m.type === 'client_request');
    expect(forwarded).toMatchObject({ taskId: parent.taskId, req: { type: 'get', ids: [wanted] } });

    node.handle({ type: 'client_reply', reqId: forwarded!.reqId, ok: true, value: [{ kind: 'inline', obj: { v: 99, size: 8 } }] });
    await tick();
    expect(sent).toContainEqual({ type: 'task_unblocked', taskId: parent.taskId });
    expect(w.messages).toContainEqual({ type: 'reply', reqId: 7, ok: true, value: [{ v: 99, size: 8 }] });
  });

  it('passes a failed reply to the worker and unblocks the task', async () => {
    const { node, run, workerOf, sent } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await tick();
    const w = workerOf(t)!;
    w.reply({ type: 'request', reqId: 3, taskId: t.taskId, req: { type: 'wait', ids: [], numReturns: 0, timeoutMs: 5, fetchLocal: true } });
    const fwd = sent.find((m): m is Extract<NodeToCoordinator, { type: 'client_request' }> => m.type === 'client_request')!;
    const error = { name: 'GetTimeoutError', message: 'timed out' };
    node.handle({ type: 'client_reply', reqId: fwd.reqId, ok: false, error });
    await tick();
    expect(w.messages).toContainEqual({ type: 'reply', reqId: 3, ok: false, error });
    expect(sent).toContainEqual({ type: 'task_unblocked', taskId: t.taskId });
  });

  describe('blocked tasks share their worker', () => {
    const blockIn = (w: FakeWorker, t: TaskSpec, reqId: number, heldMs?: number): void =>
      w.reply({ type: 'request', reqId, taskId: t.taskId, req: { type: 'wait', ids: [], numReturns: 0, timeoutMs: null, fetchLocal: true }, ...(heldMs !== undefined ? { heldMs } : {}) });
    const forwardedFor = (sent: NodeToCoordinator[], t: TaskSpec) =>
      sent.filter((m): m is Extract<NodeToCoordinator, { type: 'client_request' }> => m.type === 'client_request' && m.taskId === t.taskId).at(-1)!;

    it('sends a task the coordinator holds resources for to a worker whose tasks are all blocked, and counts each task blocked on its own', async () => {
      const { node, run, workerOf, workers, sent, learnBrief } = setup({ CPU: 1 });
      await learnBrief();
      const a = run(taskSpec());
      await tick();
      const w = workerOf(a)!;
      blockIn(w, a, 1);
      const b = run(taskSpec()); // the CPU a lent
      await tick();
      expect(workerOf(b)).toBe(w);
      expect(w.runs().at(-1)).toMatchObject({ taskId: b.taskId, shared: true });
      expect(workers).toHaveLength(1);
      // b blocks too: both are blocked, each lending its own CPU.
      blockIn(w, b, 2);
      expect(sent.filter((m) => m.type === 'task_blocked')).toEqual([
        { type: 'task_blocked', taskId: a.taskId },
        { type: 'task_blocked', taskId: b.taskId },
      ]);
      node.handle({ type: 'client_reply', reqId: forwardedFor(sent, a).reqId, ok: true, value: [] });
      await tick();
      expect(sent.filter((m) => m.type === 'task_unblocked')).toEqual([{ type: 'task_unblocked', taskId: a.taskId }]);
      // a runs again: the worker is not free for another task.
      const c = run(taskSpec());
      await tick();
      expect(workerOf(c)).not.toBe(w);
      expect(workers).toHaveLength(2);
    });

    it('shares no worker with tasks of a function known to hold its worker long (50 ms: awaiting something else)', async () => {
      const { run, workerOf } = setup({ CPU: 1 });
      for (let i = 0; i < 2; i++) {
        const t = run(taskSpec());
        await tick();
        workerOf(t)!.reply({ type: 'done', taskId: t.taskId, startMs: 0, endMs: 60, heldMs: 50, results: [] });
      }
      const a = run(taskSpec());
      await tick();
      blockIn(workerOf(a)!, a, 1);
      const long = run(taskSpec());
      await tick();
      expect(workerOf(long)).toBeDefined();
      expect(workerOf(long)).not.toBe(workerOf(a));
    });

    it('at the pool cap, a task of a function known to hold its worker long shares a worker whose tasks are all blocked (a recursion deeper than the cap goes on)', async () => {
      const { run, workerOf, workers } = setup({ CPU: 1 });
      for (let i = 0; i < 2; i++) {
        const t = run(taskSpec());
        await tick();
        workerOf(t)!.reply({ type: 'done', taskId: t.taskId, startMs: 0, endMs: 60, heldMs: 50, results: [] });
      }
      // Each level blocks in get on the next, one worker each, up to the cap.
      for (let i = 0; i < 1 + EXTRA_WORKERS_MAX; i++) {
        const t = run(taskSpec());
        await tick();
        expect(workerOf(t)).toBeDefined();
        blockIn(workerOf(t)!, t, 1);
      }
      expect(workers).toHaveLength(1 + EXTRA_WORKERS_MAX);
      const deeper = run(taskSpec());
      await tick();
      expect(workers).toHaveLength(1 + EXTRA_WORKERS_MAX);
      const w = workerOf(deeper);
      expect(w).toBeDefined();
      expect(w!.messages).toContainEqual(expect.objectContaining({ type: 'run', taskId: deeper.taskId, shared: true }));
    });

    it('learns that a function holds its worker briefly from its tasks\' blocking calls, before any of them ends', async () => {
      const { run, workerOf, workers } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await tick();
      blockIn(workerOf(a)!, a, 1, 0.1);
      // One sample: not known yet, and b is no descendant of a: a worker of its own.
      const b = run(taskSpec());
      await tick();
      expect(workerOf(b)).not.toBe(workerOf(a));
      blockIn(workerOf(b)!, b, 1, 0.2);
      const c = run(taskSpec());
      await tick();
      expect([workerOf(a), workerOf(b)]).toContain(workerOf(c));
      expect(workers).toHaveLength(2);
      expect(workerOf(c)!.runs().find((r) => r.taskId === c.taskId)).toMatchObject({ shared: true });
    });

    it('does not take a long hold reported with a blocking call for a brief one', async () => {
      const { run, workerOf } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await tick();
      blockIn(workerOf(a)!, a, 1, 40);
      const b = run(taskSpec());
      await tick();
      blockIn(workerOf(b)!, b, 1, 60);
      const c = run(taskSpec());
      await tick();
      expect(workerOf(c)).toBeDefined();
      expect([workerOf(a), workerOf(b)]).not.toContain(workerOf(c));
    });

    it('before its function is known to hold its worker briefly, a task shares only with its own ancestors of its own function (recursion)', async () => {
      const { node, run, workerOf } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await tick();
      blockIn(workerOf(a)!, a, 1);
      const OTHER = 'fn-other' as FunctionId;
      const other = taskSpec({ fnId: OTHER });
      node.handle({ type: 'run_task', spec: other, attempt: 1, args: [], fn: { ...fnDesc, fnId: OTHER } });
      await tick();
      expect(workerOf(other)).toBeDefined();
      expect(workerOf(other)).not.toBe(workerOf(a));
      // Of its own function but no descendant of a: not shared (a may hold back what it waits on).
      const unrelated = run(taskSpec());
      await tick();
      expect(workerOf(unrelated)).not.toBe(workerOf(a));
      const child = run(taskSpec({ parentTaskId: a.taskId }));
      await tick();
      expect(workerOf(child)).toBe(workerOf(a));
    });

    it('gives a task holding no CPU a worker of its own, not one whose tasks are blocked (it would hold them back)', async () => {
      const { run, workerOf, workers } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await tick();
      blockIn(workerOf(a)!, a, 1);
      const z = run(taskSpec({ resources: { CPU: 0 } }));
      await tick();
      expect(workerOf(z)).not.toBe(workerOf(a));
      expect(workers).toHaveLength(2);
    });

    it('when a worker dies, a pipelined task queued behind a task that blocked and went on is requeued, not failed', async () => {
      const { node, run, workerOf, sent, done } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await tick();
      const w = workerOf(a)!;
      blockIn(w, a, 1);
      node.handle({ type: 'client_reply', reqId: forwardedFor(sent, a).reqId, ok: true, value: [] });
      await tick(); // a runs again
      const p = run(taskSpec(), [], 1, true); // pipelined behind a
      await tick();
      expect(workerOf(p)).toBe(w);
      w.crash('out of memory');
      await tick();
      expect(done(a.taskId)).toMatchObject({ error: { name: 'WorkerCrashedError' }, systemFailure: true });
      expect(done(p.taskId)).toBeUndefined();
      expect(node.stats()).toMatchObject({ queued: 1 });
    });

    it('a blocked task cancelled with force (or timed out) is asked to stop, not its shared worker terminated', async () => {
      const { node, run, workerOf, done, learnBrief } = setup({ CPU: 1 });
      await learnBrief();
      const a = run(taskSpec());
      await tick();
      const w = workerOf(a)!;
      blockIn(w, a, 1);
      const b = run(taskSpec({ maxRetries: 0 }));
      await tick();
      expect(workerOf(b)).toBe(w);
      node.handle({ type: 'cancel_task', taskId: a.taskId, force: true });
      await tick();
      expect(w.terminated).toBe(false);
      expect(w.messages).toContainEqual({ type: 'cancel', taskId: a.taskId });
      expect(done(b.taskId)).toBeUndefined();
    });

    it('a cancelled task blocked in get/wait keeps its worker past the grace period while it stays blocked, and loses it a grace period after it goes on without stopping', async () => {
      vi.useFakeTimers();
      const { node, run, workerOf, sent } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await vi.advanceTimersByTimeAsync(0);
      const w = workerOf(a)!;
      blockIn(w, a, 1);
      await vi.advanceTimersByTimeAsync(0);
      node.handle({ type: 'cancel_task', taskId: a.taskId, force: false });
      // Its cleanup waits on the cluster for 5 s (a loaded coordinator): the worker stays.
      await vi.advanceTimersByTimeAsync(5_000);
      expect(w.terminated).toBe(false);
      // The answer comes; the task goes on but never stops: terminated within a grace period.
      node.handle({ type: 'client_reply', reqId: forwardedFor(sent, a).reqId, ok: true, value: [] });
      await vi.advanceTimersByTimeAsync(CANCEL_GRACE_MS);
      expect(w.terminated).toBe(true);
    });

    it('a cancelled task blocked for good loses its worker after CANCEL_BLOCKED_GRACE_MAX_MS', async () => {
      vi.useFakeTimers();
      const { node, run, workerOf } = setup({ CPU: 1 });
      const a = run(taskSpec());
      await vi.advanceTimersByTimeAsync(0);
      const w = workerOf(a)!;
      blockIn(w, a, 1);
      await vi.advanceTimersByTimeAsync(0);
      node.handle({ type: 'cancel_task', taskId: a.taskId, force: false });
      await vi.advanceTimersByTimeAsync(CANCEL_BLOCKED_GRACE_MAX_MS - CANCEL_GRACE_MS);
      expect(w.terminated).toBe(false);
      await vi.advanceTimersByTimeAsync(CANCEL_GRACE_MS);
      expect(w.terminated).toBe(true);
    });

    it('starts a new worker once a worker holds WORKER_SHARED_TASKS_MAX blocked tasks', async () => {
      const { run, workerOf, workers, learnBrief } = setup({ CPU: 1 });
      await learnBrief();
      const first = run(taskSpec());
      await tick();
      const w = workerOf(first)!;
      blockIn(w, first, 1);
      for (let i = 1; i < WORKER_SHARED_TASKS_MAX; i++) {
        const t = run(taskSpec());
        await tick();
        expect(workerOf(t)).toBe(w);
        blockIn(w, t, i + 1);
      }
      const next = run(taskSpec());
      await tick();
      expect(workerOf(next)).not.toBe(w);
      expect(workers).toHaveLength(2);
    });

    it('when a shared worker dies, the task holding it fails as a system failure (retried); one blocked there goes back to the queue once, without spending an attempt, and is unblocked', async () => {
      const { run, workerOf, workers, sent, done, learnBrief } = setup({ CPU: 1 });
      await learnBrief();
      const a = run(taskSpec());
      await tick();
      const w = workerOf(a)!;
      blockIn(w, a, 1);
      const b = run(taskSpec());
      await tick();
      expect(workerOf(b)).toBe(w);
      w.crash('out of memory');
      await tick();
      expect(done(b.taskId)).toMatchObject({ error: { name: 'WorkerCrashedError' }, systemFailure: true });
      expect(done(a.taskId)).toBeUndefined();
      expect(sent.filter((m) => m.type === 'task_unblocked')).toEqual([{ type: 'task_unblocked', taskId: a.taskId }]);
      // It runs again on a fresh worker; blocked there and its worker dying under another task again, it fails.
      const w2 = workers.find((x) => x !== w && x.ran(a.taskId))!;
      expect(w2).toBeDefined();
      blockIn(w2, a, 1);
      const c = run(taskSpec());
      await tick();
      expect(workers.find((x) => x.ran(c.taskId))).toBe(w2);
      w2.crash('out of memory');
      await tick();
      for (const t of [a, c]) expect(done(t.taskId)).toMatchObject({ error: { name: 'WorkerCrashedError' }, systemFailure: true });
    });
  });

  it('does not count a non-blocking call as blocking', async () => {
    const { run, workerOf, sent } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await tick();
    workerOf(t)!.reply({ type: 'request', reqId: -1, taskId: t.taskId, req: { type: 'submit', spec: taskSpec() } });
    expect(sent.some((m) => m.type === 'task_blocked')).toBe(false);
    expect(sent).toContainEqual(expect.objectContaining({ type: 'client_request', reqId: -1 }));
  });

  it('keeps an object put by task code and announces it, inline when small', async () => {
    const { run, workerOf, sent, store } = setup({ CPU: 1 });
    const t = run(taskSpec());
    await tick();
    const small: SerializedObject = { v: 1, size: 8 };
    const big: SerializedObject = { v: 2, size: INLINE_OBJECT_MAX_BYTES * 2 };
    workerOf(t)!.reply(
      { type: 'request', reqId: -1, taskId: t.taskId, req: { type: 'put', id: 'p1' as ObjectId, obj: small } },
      { type: 'request', reqId: -1, taskId: t.taskId, req: { type: 'put', id: 'p2' as ObjectId, obj: big } },
    );
    const holder = 'n1-w0';
    expect(sent).toContainEqual({ type: 'object_put', id: 'p1', size: 8, obj: small, holder });
    expect(sent).toContainEqual({ type: 'object_put', id: 'p2', size: INLINE_OBJECT_MAX_BYTES * 2, holder });
    expect(store.get('p2' as ObjectId)).toBe(big);
  });
});

describe('Node: actors', () => {
  const actorId = 'a1' as ActorId;
  const creation = (): ActorCreationTaskSpec =>
    taskSpec({
      kind: 'actor-creation',
      actorId,
      heldResources: { CPU: 1 },
      actor: { className: 'C', maxRestarts: 0, maxTaskRetries: 0, maxConcurrency: 1, methods: ['m'], streamingMethods: [] },
    });

  it('creates an actor in a worker of its own, then sends its method calls there', async () => {
    const { run, workers, sent, node } = setup({ CPU: 2 });
    await tick();
    const pool = [...workers];
    const c = run(creation());
    await tick();
    const aw = workers.find((w) => !pool.includes(w))!;
    expect(aw.types()).toEqual(['init', 'load', 'create_actor']);
    aw.reply({ type: 'actor_ready', actorId, taskId: c.taskId, startMs: 0, endMs: 1 });
    expect(sent).toContainEqual(expect.objectContaining({ type: 'task_done', taskId: c.taskId, results: [] }));
    const call = taskSpec({ kind: 'actor-method', actorId, method: 'm', resources: {} });
    node.handle({ type: 'run_task', spec: call, attempt: 1, args: [] });
    await tick();
    expect(aw.runs().map((r) => [r.taskId, r.method, r.transferResults])).toEqual([[call.taskId, 'm', false]]);
  });

  it('reports actor_died when a live actor’s worker crashes', async () => {
    const { run, workers, sent } = setup({ CPU: 1 });
    await tick();
    const pool = [...workers];
    const c = run(creation());
    await tick();
    const aw = workers.find((w) => !pool.includes(w))!;
    aw.reply({ type: 'actor_ready', actorId, taskId: c.taskId, startMs: 0, endMs: 1 });
    aw.crash('boom');
    expect(aw.terminated).toBe(true);
    expect(sent).toContainEqual(expect.objectContaining({ type: 'actor_died', actorId, error: expect.objectContaining({ name: 'ActorDiedError' }) }));
  });

  it('kills an actor on request, even while its constructor runs, without reporting a death', async () => {
    const { node, run, workers, sent } = setup({ CPU: 1 });
    await tick();
    const pool = [...workers];
    run(creation());
    await tick();
    const aw = workers.find((w) => !pool.includes(w))!;
    node.handle({ type: 'kill_actor', actorId });
    expect(aw.terminated).toBe(true);
    expect(sent.some((m) => m.type === 'actor_died' || (m.type === 'task_done' && m.error))).toBe(false);
  });

  it('fails a method call for an actor that is not on this node as a system failure', () => {
    const { node, done } = setup({ CPU: 1 });
    const call = taskSpec({ kind: 'actor-method', actorId: 'nope' as ActorId, method: 'm', resources: {} });
    node.handle({ type: 'run_task', spec: call, attempt: 1, args: [] });
    expect(done(call.taskId)).toMatchObject({ systemFailure: true, error: { name: 'ActorDiedError' } });
  });
});
