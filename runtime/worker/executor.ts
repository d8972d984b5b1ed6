// Runs tasks and actor methods inside a Web Worker (Ray's task executor in a worker process):
// normal tasks one at a time in arrival order, actor calls up to the actor's maxConcurrency,
// generators streamed item by item with backpressure. Results and errors go back to the node.

import { afterQueuedTasks } from '../common/after-queued-tasks.ts';
import { taskWireError, toWireError, wireError } from '../api/errors.ts';
import { deserialize, serialize, transferables } from '../api/serialization.ts';
import type { ActorId, FunctionId, TaskId } from '../protocol/ids.ts';
import type { FunctionDescriptor, SerializedObject } from '../protocol/task-spec.ts';
import type { FromWorker, RunTask, ToWorker } from '../protocol/worker-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
import { compile, explainReferenceError, type Compiled, type Loaded } from './code-loader.ts';
import { GLOBALS_SCAN_MAX_OBJECTS } from './constants.ts';
import { reachableBuffers, workerGlobals } from './retained-buffers.ts';
import type { CurrentTask } from './worker-core.ts';

const NEVER_ABORTED = new AbortController().signal;
const IDLE: CurrentTask = { taskId: null, actorId: null, signal: NEVER_ABORTED, gpu: false, resources: {} };

/** A task being run; its AbortController is made only when someone asks for the signal or cancels. */
class Running {
  private controller: AbortController | undefined;
  consumed = 0;
  ackWaiter: (() => void) | undefined;
  /** Its blocking calls (get, wait, …) not answered yet. */
  blocked = 0;
  /** How long it held the worker (its waits in get/wait not counted). */
  heldMs = 0;
  /** What `getRuntimeContext()` and its calls to the node see while its code runs. */
  ctx: CurrentTask = IDLE;

  constructor(
    readonly task: RunTask,
    readonly startMs: number,
  ) {}

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  abort(): void {
    (this.controller ??= new AbortController()).abort(new DOMException('the task was cancelled', 'AbortError'));
  }
}

export interface ExecutorDeps {
  readonly post: (msg: FromWorker, transfer?: Transferable[]) => void;
  /** Sends what `post` has batched so far right away (it otherwise goes at the end of the microtask). */
  readonly flush: () => void;
  readonly rayApi: object;
}

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

function generatorKind(x: unknown): 'sync' | 'async' | undefined {
  const tag = Object.prototype.toString.call(x);
  return tag === '[object Generator]' ? 'sync' : tag === '[object AsyncGenerator]' ? 'async' : undefined;
}

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const v of it) out.push(v);
  return out;
}

/** The return value of a generator task with `numReturns: n`: its n yields (the one yield when n is 1). */
function yieldsAsReturns(t: RunTask, yields: unknown[]): unknown {
  const n = t.numReturns as number;
  if (yields.length !== n) {
    throw new TypeError(
      `${t.name} was declared with numReturns: ${n} but yielded ${yields.length} value(s); yield exactly ${n}, or leave numReturns out to stream`,
    );
  }
  return n === 1 ? yields[0] : yields;
}

export class Executor {
  private readonly deps: ExecutorDeps;
  private readonly descs = new Map<FunctionId, FunctionDescriptor>();
  private readonly loaded = new Map<FunctionId, Compiled>();
  private readonly queue: RunTask[] = [];
  private pumping = false;
  private pumpQueued = false;
  private readonly cancelled = new Set<TaskId>();
  private readonly running = new Map<TaskId, Running>();
  private current: CurrentTask = IDLE;
  /** The context between tasks: an actor's worker still belongs to its actor. */
  private idle: CurrentTask = IDLE;
  // Actor state, when this worker hosts an actor.
  private actor: { id: ActorId; instance: Record<string, unknown>; maxConcurrency: number; gpu: boolean; who: Pick<CurrentTask, 'resources' | 'actorName' | 'restarted'> } | undefined;
  private actorInflight = 0;
  /**
   * The normal task whose code runs now. Tasks share the worker one at a time: a task blocked in
   * get/wait lets another run, and goes on only when the worker is free again (the one running
   * ended, blocked, or awaits something else: see `yieldIfIdle`), so the context of the code that
   * runs in its turn is its own task's.
   */
  private holder: Running | undefined;
  private heldSince = 0;
  /** Blocked tasks whose answers came while another task held the worker, in arrival order. */
  private readonly resumable: { readonly r: Running; readonly go: () => void }[] = [];
  /** Running normal tasks with a blocking call outstanding. */
  private blockedTasks = 0;

  constructor(deps: ExecutorDeps) {
    this.deps = deps;
  }

  currentTask(): CurrentTask {
    return this.current;
  }

  load(desc: FunctionDescriptor): void {
    this.descs.set(desc.fnId, desc);
  }

  private fn(fnId: FunctionId): Loaded {
    let f = this.loaded.get(fnId);
    if (!f) {
      const desc = this.descs.get(fnId);
      if (!desc) throw new Error(`internal: function ${fnId} was never loaded into this worker`);
      const t0 = performance.now();
      f = compile(desc, this.deps.rayApi);
      this.loaded.set(fnId, f);
      // Compiling, once per worker, is not the task holding the worker (see Running.heldMs): a
      // recursion that starts a worker per level would otherwise never look brief.
      this.heldSince += performance.now() - t0;
    }
    return f.fn;
  }

  run(task: RunTask): void {
    if (this.actor) {
      this.queue.push(task);
      this.pumpActor();
      return;
    }
    // Sent to share this worker with blocked tasks, but one of them has its answer and runs
    // again; or queued behind a task the node did not know had blocked (its CPU is lent, and
    // the tasks behind it go back): either way the node places it again. (A holder with a call
    // still out, which the node counts as blocked, lets the worker go soon: the task waits here.)
    const busy = this.holder !== undefined && this.holder.blocked === 0;
    if (task.shared ? busy || this.queue.length > 0 : this.blockedTasks > 0) {
      this.deps.post({ type: 'returned', taskIds: [task.taskId] });
      return;
    }
    this.queue.push(task);
    this.pump();
  }

  cancel(taskId: TaskId): void {
    const r = this.running.get(taskId);
    if (r) {
      r.abort();
      r.ackWaiter?.();
      return;
    }
    const i = this.queue.findIndex((t) => t.taskId === taskId);
    if (i >= 0) {
      const [t] = this.queue.splice(i, 1);
      const now = nowMs();
      this.deps.post({ type: 'done', taskId, startMs: now, endMs: now, error: wireError('TaskCancelledError', `task ${t!.name} was cancelled`) });
    } else {
      this.cancelled.add(taskId);
    }
  }

  ack(taskId: TaskId, consumed: number): void {
    const r = this.running.get(taskId);
    if (!r) return;
    r.consumed = Math.max(r.consumed, consumed);
    r.ackWaiter?.();
  }

  /**
   * Task `taskId` makes a blocking call (get, wait, …). When it held the worker, the worker is
   * free for another task: one whose answer came, or a new one the node sends (its CPU is lent
   * meanwhile); the tasks queued behind it go back to the node. Returns how long the task's code
   * has held the worker so far (undefined for an actor's call, or code whose task ended).
   */
  block(taskId: TaskId | null): number | undefined {
    const r = this.actor || taskId === null ? undefined : this.running.get(taskId);
    // An actor's call, or code whose task ended: nothing to count.
    if (!r) return undefined;
    if (r.blocked++ === 0) this.blockedTasks++;
    if (this.holder !== r) return r.heldMs;
    this.setHolder(undefined);
    if (this.queue.length > 0) {
      const ids = this.queue.map((t) => t.taskId);
      this.queue.length = 0;
      this.deps.post({ type: 'returned', taskIds: ids });
    }
    // Not now: the blocked task's code runs on until it awaits.
    this.pumpSoon();
    return r.heldMs;
  }

  /**
   * A blocking call of task `taskId` has its answer (`failed`: an error); `go` settles it. A task
   * left with no call outstanding goes on when the worker is free (at once if it is); one still
   * waiting on another call is handed a value at once, as no code of it runs until the last one
   * is (Promise.all) — but an error goes in turn, since it may end that wait (a catch runs).
   */
  unblock(taskId: TaskId | null, go: () => void, failed = false): void {
    const r = this.actor || taskId === null ? undefined : this.running.get(taskId);
    if (!r || r.blocked === 0) {
      go();
      return;
    }
    if (--r.blocked > 0) {
      if (!failed) {
        go();
        return;
      }
    } else {
      this.blockedTasks--;
    }
    this.resume(r, go);
  }

  /** Task `r` may go on: at once when the worker is free (or already its), else in turn. */
  private resume(r: Running, go: () => void): void {
    if (this.holder === undefined || this.holder === r) {
      this.hold(r);
      go();
      return;
    }
    this.resumable.push({ r, go });
    // The one holding the worker keeps it while its code runs. If it still holds it once the
    // events already queued have run, it awaits something that is no call of ours (a fetch, a
    // timer, a message): it lets the worker go rather than hold back the tasks whose answers came,
    // one of which may be what it waits for. Its code after that await may then run beside
    // theirs, in their context; the node stops sharing workers with a function whose tasks hold
    // theirs long (LocalTaskManager.held).
    const holder = this.holder;
    afterQueuedTasks(() => this.yieldIfIdle(holder));
  }

  /** Lets the worker go if `r` still holds it and another task waits for it, or it goes on with a call still out. */
  private yieldIfIdle(r: Running): void {
    if (this.holder !== r || (this.resumable.length === 0 && this.queue.length === 0 && r.blocked === 0)) return;
    this.setHolder(undefined);
    this.pump();
  }

  /** Who holds the worker; the one that leaves it is credited the time it held it. */
  private setHolder(r: Running | undefined): void {
    const now = performance.now();
    if (this.holder) this.holder.heldMs += now - this.heldSince;
    this.holder = r;
    this.heldSince = now;
  }

  private hold(r: Running): void {
    this.setHolder(r);
    this.current = r.ctx;
    // It goes on with a call still out (an error ended its Promise.all): it keeps the worker
    // until the events already queued have run, not while it might wait on that call — whose
    // answer may come from a task waiting for this worker.
    if (r.blocked > 0) afterQueuedTasks(() => this.yieldIfIdle(r));
  }

  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** While no task holds the worker: a blocked task whose answer came goes on, else the next queued one starts. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.holder === undefined) {
        const ready = this.resumable.shift();
        if (ready) {
          if (this.running.get(ready.r.task.taskId) === ready.r) this.hold(ready.r);
          ready.go();
          continue;
        }
        const t = this.queue.shift();
        if (!t) break;
        const p = this.execute(t);
        if (p) void p.then(() => this.pump());
      }
    } finally {
      this.pumping = false;
    }
  }

  private pumpActor(): void {
    const a = this.actor!;
    while (this.queue.length > 0 && this.actorInflight < a.maxConcurrency) {
      const t = this.queue.shift()!;
      this.actorInflight++;
      const p = this.execute(t);
      if (p) {
        void p.then(() => {
          this.actorInflight--;
          this.pumpActor();
        });
      } else {
        this.actorInflight--;
      }
    }
  }

  createActor(m: Extract<ToWorker, { type: 'create_actor' }>): void {
    const { actorId, taskId, fnId, args, maxConcurrency, gpu } = m;
    const startMs = nowMs();
    const controller = new AbortController();
    const who = { resources: m.resources, restarted: m.restarted, ...(m.actorName !== undefined ? { actorName: m.actorName } : {}) };
    this.current = { taskId, actorId, signal: controller.signal, gpu, ...who };
    try {
      const Cls = this.fn(fnId) as unknown as new (...a: unknown[]) => Record<string, unknown>;
      const instance = new Cls(...args.map((a) => deserialize(a, false)));
      this.actor = { id: actorId, instance, maxConcurrency, gpu, who };
      this.idle = { taskId: null, actorId, signal: NEVER_ABORTED, gpu, ...who };
      this.deps.post({ type: 'actor_ready', actorId, taskId, startMs, endMs: nowMs() });
    } catch (e) {
      const name = this.descs.get(fnId)?.name ?? 'actor';
      const error = taskWireError(`${name}.constructor`, toWireError(explainReferenceError(e, name)));
      this.deps.post({ type: 'actor_ready', actorId, taskId, startMs, endMs: nowMs(), error });
    } finally {
      this.current = this.idle;
    }
    if (this.queue.length > 0) this.pumpActor();
  }

  /** Runs one task; returns a promise only when it did not finish synchronously. */
  private execute(t: RunTask): Promise<void> | undefined {
    const startMs = nowMs();
    if (this.cancelled.delete(t.taskId)) {
      this.deps.post({ type: 'done', taskId: t.taskId, startMs, endMs: startMs, error: wireError('TaskCancelledError', `task ${t.name} was cancelled`) });
      return undefined;
    }
    const running = new Running(t, startMs);
    this.running.set(t.taskId, running);
    const ctx: CurrentTask = (running.ctx = {
      taskId: t.taskId,
      actorId: this.actor?.id ?? null,
      gpu: t.gpu || (this.actor?.gpu ?? false),
      // In an actor's method: what the actor holds, its name and whether it was restarted.
      ...(this.actor ? this.actor.who : { resources: t.resources }),
      get signal() {
        return running.signal;
      },
    });
    let result: unknown;
    if (this.actor) this.current = ctx;
    else this.hold(running);
    try {
      const args = t.args.map((a) => deserialize(a, false));
      if (t.method !== undefined) {
        const inst = this.actor?.instance;
        const m = inst?.[t.method];
        if (typeof m !== 'function') throw new TypeError(`the actor has no method ${t.method}`);
        result = (m as (...a: unknown[]) => unknown).apply(inst, args);
      } else {
        result = this.fn(t.fnId)(...args);
      }
      // A generator with a static numReturns (Ray's num_returns=N): what it yields are its returns.
      const gen = t.numReturns === 'streaming' ? undefined : generatorKind(result);
      if (gen === 'sync') result = yieldsAsReturns(t, [...(result as Iterable<unknown>)]);
      else if (gen === 'async') result = collect(result as AsyncIterable<unknown>).then((ys) => yieldsAsReturns(t, ys));
    } catch (e) {
      this.fail(running, startMs, e);
      return undefined;
    }
    // The context stays set while an async body runs: a worker runs one normal task's code at a
    // time, and sets it again when a blocked task goes on.
    if (t.numReturns === 'streaming') return this.stream(running, result as AsyncIterator<unknown> | Iterator<unknown>, startMs, ctx);
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (v) => this.succeed(running, startMs, v),
        (e: unknown) => this.fail(running, startMs, e),
      );
    }
    this.succeed(running, startMs, result);
    return undefined;
  }

  private leave(taskId: TaskId): void {
    const r = this.running.get(taskId);
    this.running.delete(taskId);
    if (r && r.blocked > 0) {
      // It ended with a call still unanswered (Promise.race): its answer finds no task.
      this.blockedTasks--;
      r.blocked = 0;
    }
    if (this.holder === r) this.setHolder(undefined);
    if (this.current.taskId === taskId) this.current = this.actor ? this.idle : this.lastRunning();
  }

  /**
   * The context left when the task it was ends: another task still running here, if any — code
   * that runs outside its turn (after letting the worker go) is one of theirs, and its calls are
   * then at least a running task's, which the node and coordinator take.
   */
  private lastRunning(): CurrentTask {
    let last: Running | undefined;
    for (const r of this.running.values()) last = r;
    return last?.ctx ?? this.idle;
  }

  private succeed(r: Running, startMs: number, value: unknown): void {
    const t = r.task;
    this.leave(t.taskId);
    let results: SerializedObject[];
    try {
      results = this.serializeReturns(t, value);
    } catch (e) {
      this.fail(r, startMs, e);
      return;
    }
    let transfer: Transferable[] = [];
    if (t.transferResults) {
      for (const res of results) transferables(res.v, transfer);
      if (transfer.length > 0) transfer = this.movable(t.fnId, transfer);
    }
    this.deps.post({ type: 'done', taskId: t.taskId, startMs, endMs: nowMs(), heldMs: r.heldMs, results }, transfer);
  }

  /**
   * The result buffers that may be transferred rather than copied: none that the function's
   * scope data or a worker global still holds, since those outlive the task.
   */
  private movable(fnId: FunctionId, candidates: Transferable[]): Transferable[] {
    const scope = this.loaded.get(fnId)?.scopeBuffers;
    const out = scope && scope.size > 0 ? candidates.filter((b) => !scope.has(b as ArrayBuffer)) : candidates;
    if (out.length === 0) return out;
    const held = reachableBuffers(workerGlobals(), GLOBALS_SCAN_MAX_OBJECTS);
    if (!held) return []; // too much global state to rule sharing out: copy
    return held.size > 0 ? out.filter((b) => !held.has(b as ArrayBuffer)) : out;
  }

  private serializeReturns(t: RunTask, value: unknown): SerializedObject[] {
    const n = t.numReturns as number;
    if (n === 1) return [serialize(value, `the return value of ${t.name}`)];
    if (n === 0) return []; // Ray's num_returns=0: the value is dropped
    if (!Array.isArray(value) || value.length !== n) {
      throw new TypeError(
        `${t.name} was declared with numReturns: ${n} but returned ${Array.isArray(value) ? `an array of length ${value.length}` : typeof value}; return an array of exactly ${n} values`,
      );
    }
    return value.map((v, i) => serialize(v, `return value ${i} of ${t.name}`));
  }

  private fail(r: Running, startMs: number, e: unknown): void {
    const t = r.task;
    this.leave(t.taskId);
    const error: WireError = r.aborted
      ? wireError('TaskCancelledError', `task ${t.name} was cancelled`)
      : taskWireError(t.name, toWireError(explainReferenceError(e, t.name)));
    this.deps.post({ type: 'done', taskId: t.taskId, startMs, endMs: nowMs(), heldMs: r.heldMs, error });
  }

  /**
   * A streaming task waits for its consumer to take items (backpressure). A normal task lets the
   * worker go meanwhile — its consumer may be a task waiting for this worker — and goes on in turn.
   */
  private awaitAck(r: Running): Promise<void> {
    if (this.actor || this.holder !== r) return new Promise<void>((resolve) => (r.ackWaiter = () => ((r.ackWaiter = undefined), resolve())));
    this.setHolder(undefined);
    this.pumpSoon();
    return new Promise<void>((resolve) => {
      r.ackWaiter = () => {
        r.ackWaiter = undefined;
        this.resume(r, resolve);
      };
    });
  }

  private async stream(r: Running, it: AsyncIterator<unknown> | Iterator<unknown>, startMs: number, ctx: CurrentTask): Promise<void> {
    const t = r.task;
    let index = 0;
    try {
      if (!it || typeof it.next !== 'function') throw new TypeError(`${t.name} is streaming but did not return an iterator`);
      for (;;) {
        this.current = ctx;
        const { value, done } = await it.next();
        if (done) break;
        if (r.aborted) throw r.signal.reason;
        this.deps.post({ type: 'yield', taskId: t.taskId, index, obj: serialize(await value, `item ${index} yielded by ${t.name}`) });
        // The consumer gets the item now, not after the generator has computed the next one.
        this.deps.flush();
        index++;
        while (t.backpressure > 0 && index - r.consumed >= t.backpressure && !r.aborted) {
          await this.awaitAck(r);
        }
      }
    } catch (e) {
      this.fail(r, startMs, e);
      return;
    }
    this.leave(t.taskId);
    this.deps.post({ type: 'done', taskId: t.taskId, startMs, endMs: nowMs(), heldMs: r.heldMs, results: [] });
  }
}
