// The node's local task manager (Ray's LocalTaskManager): the tasks assigned to this node, from
// their arguments being gathered to their end. The coordinator owns the node's resources and has
// decided each task's place: a task it holds resources for starts at once on an idle worker or a
// new one; a pipelined one queues behind a busy worker of its resource shape (or takes an idle
// one). Actor calls go to their actor's worker, and an actor's creation gets a worker of its own.
// The node keeps no resource accounting of its own; it only bounds its worker pool.

import { wireError } from '../api/errors.ts';
import { withTransferableCopies } from '../api/serialization.ts';
import { shapeKey } from '../common/resources.ts';
import { TaskDurations } from '../common/task-durations.ts';
import type { ClusterView } from '../protocol/client-requests.ts';
import type { ActorId, FunctionId, NodeId, TaskId } from '../protocol/ids.ts';
import { MAX_SMALL_ITEMS } from '../protocol/limits.ts';
import type { NodeToCoordinator, ResolvedArg } from '../protocol/node-messages.ts';
import { functionIdOf, type ActorCreationTaskSpec, type NormalTaskSpec, type TaskSpec } from '../protocol/task-spec.ts';
import type { FromWorker, ToWorker } from '../protocol/worker-messages.ts';
import type { Assignment, WorkerSlot } from './assignment.ts';
import { CANCEL_BLOCKED_GRACE_MAX_MS, CANCEL_GRACE_MS, TRANSFER_ARG_MIN_BYTES } from './constants.ts';
import type { DependencyManager } from './dependency-manager.ts';
import type { TaskReporter } from './task-reporter.ts';
import { isParked, type WorkerPool } from './worker-pool.ts';

/** The `fnId` of a `run` for an actor call, which names a method instead. */
const NO_FUNCTION = '' as FunctionId;

export interface LocalTaskManagerDeps {
  readonly nodeId: NodeId;
  readonly pool: WorkerPool;
  /** The node's CPUs, whole: the pool keeps this many workers plus EXTRA_WORKERS_MAX at most. */
  readonly cpus: number;
  readonly dependencies: DependencyManager;
  readonly reporter: TaskReporter;
  readonly send: (msg: NodeToCoordinator) => void;
  /** Takes a worker out of service (see Node); `reason` set when it is a failure of what it ran. */
  readonly retire: (w: WorkerSlot, reason: string | null) => void;
}

export class LocalTaskManager {
  private readonly deps: LocalTaskManagerDeps;
  private readonly assignments = new Map<TaskId, Assignment>();
  /**
   * Calls of sequential actors (maxConcurrency 1) hosted here, assigned and not yet sent to the
   * actor's worker, in the order the coordinator assigned them: a call whose argument is still being
   * pulled holds the later ones back, so the actor runs each caller's calls in order (and every
   * replica of a replicated actor runs them in the same order).
   */
  private readonly actorCalls = new Map<ActorId, Assignment[]>();
  /** Actors hosted here that run calls side by side (maxConcurrency > 1): their calls go as soon as their arguments are here. */
  private readonly concurrentActors = new Set<ActorId>();
  private queue: Assignment[] = [];
  /**
   * How long each function's tasks hold their worker (their waits in get/wait not counted). A
   * worker's tasks take turns, so a task awaiting something else (a fetch, a timer) holds back the
   * blocked tasks it shares with (until it lets the worker go, and its code runs outside its
   * turn): tasks share a worker only when their functions are known to hold it briefly, or —
   * before that is known — with their own ancestors of the same function (a recursion). Learnt
   * from each task's `done` and from each blocking call it makes (the time held so far), so a
   * recursion's function is known after its first two levels block, not once its first leaves end.
   */
  private readonly held = new TaskDurations();

  constructor(deps: LocalTaskManagerDeps) {
    this.deps = deps;
  }

  get(taskId: TaskId): Assignment | undefined {
    return this.assignments.get(taskId);
  }

  /** Forgets a task that ended outside this manager (its worker died). */
  forget(taskId: TaskId): void {
    this.assignments.delete(taskId);
  }

  /** An actor's worker is gone: what the node kept per actor goes too (a call still arriving finds no worker and says so). */
  actorGone(actorId: ActorId): void {
    this.actorCalls.delete(actorId);
    this.concurrentActors.delete(actorId);
  }

  /** Figures for the volunteer page: tasks running and queued, and the names of the running ones. */
  counts(): { running: number; queued: number; runningNames: string[] } {
    const runningNames: string[] = [];
    for (const a of this.assignments.values()) if (a.worker && a.spec.kind !== 'actor-creation') runningNames.push(a.spec.name);
    return { running: this.assignments.size - this.queue.length, queued: this.queue.length, runningNames };
  }

  clear(): void {
    this.queue = [];
    this.assignments.clear();
  }

  /** A worker finished a task. */
  onDone(w: WorkerSlot, msg: Extract<FromWorker, { type: 'done' }>): void {
    const a = w.tasks.get(msg.taskId);
    if (!a) return;
    // Reported before the worker may be retired (maxCalls): the refs nested in its results must be
    // counted before the worker's own refs go with it.
    this.deps.reporter.done(a, w.id, msg.startMs, msg.endMs, msg.results, msg.error, false);
    if (a.spec.kind === 'normal' && msg.heldMs !== undefined) this.held.record(a.spec.fnId, msg.heldMs);
    this.finishOnWorker(w, a);
  }

  /** A task of the worker blocks having held it `heldMs` so far: its function is learnt before any of its tasks ends. */
  onHeld(w: WorkerSlot, taskId: TaskId, heldMs: number): void {
    const a = w.tasks.get(taskId);
    if (a?.spec.kind === 'normal') this.held.record(a.spec.fnId, heldMs);
  }

  /** An actor's constructor returned (or threw: then its worker goes). */
  onActorReady(w: WorkerSlot, msg: Extract<FromWorker, { type: 'actor_ready' }>): void {
    const a = w.tasks.get(msg.taskId);
    if (!a) return;
    w.tasks.delete(msg.taskId);
    this.assignments.delete(msg.taskId);
    this.deps.reporter.done(a, w.id, msg.startMs, msg.endMs, [], msg.error, false);
    if (msg.error) this.deps.retire(w, null);
  }

  /** The worker's running task blocked: the tasks pipelined behind it go back to the node's queue, in order. */
  onReturned(w: WorkerSlot, taskIds: readonly TaskId[]): void {
    const back: Assignment[] = [];
    for (const id of taskIds) {
      const a = w.tasks.get(id);
      if (!a) continue;
      w.tasks.delete(id);
      back.push(a);
    }
    this.requeue(back);
  }

  /** Tasks taken off a worker before they started go back to the front of the node's queue, in order. */
  requeue(back: readonly Assignment[]): void {
    for (const a of back) {
      a.worker = undefined;
      delete a.started;
    }
    if (back.length > 0) this.queue = [...back, ...this.queue];
  }

  /** The coordinator now holds resources for a pipelined task: it may start on a worker of its own. */
  reserve(taskId: TaskId): void {
    const a = this.assignments.get(taskId);
    if (!a || a.reserved) return;
    a.reserved = true;
    if (!a.worker) this.drain();
  }

  /**
   * A task the coordinator assigned here (`pipelined` when it holds no resources for it): its
   * arguments gathered, then queued, sent to its actor, or its actor created.
   */
  assign(spec: TaskSpec, attempt: number, resolved: readonly ResolvedArg[], pipelined: boolean, view?: ClusterView): void {
    const a: Assignment = { spec, attempt, reserved: !pipelined, args: undefined, pinned: undefined, worker: undefined, blocked: 0 };
    if (view) a.view = view;
    this.assignments.set(spec.taskId, a);
    // A sequential actor's call waits behind earlier calls whose arguments are still being pulled.
    const ordered = spec.kind === 'actor-method' && !this.concurrentActors.has(spec.actorId) ? spec.actorId : undefined;
    const { args, ready } = this.deps.dependencies.gather(a, resolved);
    if (!ready) {
      a.args = args;
      const q = ordered === undefined ? undefined : this.actorCalls.get(ordered);
      if (q) {
        q.push(a);
        this.sendActorCalls(ordered!);
      } else {
        this.route(a);
      }
      return;
    }
    if (ordered !== undefined) {
      const q = this.actorCalls.get(ordered);
      if (q) q.push(a);
      else this.actorCalls.set(ordered, [a]);
    }
    ready.then(
      () => {
        if (this.assignments.get(spec.taskId) !== a) {
          this.deps.dependencies.unpin(a);
          return;
        }
        a.args = args;
        this.route(a);
      },
      (e: unknown) => {
        if (this.assignments.get(spec.taskId) !== a) {
          this.deps.dependencies.unpin(a);
          return;
        }
        this.assignments.delete(spec.taskId);
        // A system failure, so the coordinator retries the task once the argument is back: its
        // holder left mid-pull, and the object is being recomputed (or is lost for good).
        const err = wireError('ObjectLostError', `could not fetch an argument of ${spec.name}: ${(e as Error).message}`);
        this.deps.reporter.done(a, null, 0, 0, undefined, err, spec.kind === 'normal');
        if (spec.kind === 'actor-method') this.sendActorCalls(spec.actorId);
      },
    );
  }

  private route(a: Assignment): void {
    const spec = a.spec;
    if (spec.kind === 'actor-creation') return this.createActor(a, spec);
    if (spec.kind === 'actor-method') {
      if (this.actorCalls.has(spec.actorId)) return this.sendActorCalls(spec.actorId);
      this.sendActorCall(a);
      return;
    }
    this.queue.push(a);
    this.drain();
  }

  /** Sends a sequential actor's calls whose arguments are here, in the order assigned, up to the first still waiting. */
  private sendActorCalls(actorId: ActorId): void {
    const q = this.actorCalls.get(actorId);
    if (!q) return;
    let i = 0;
    for (; i < q.length; i++) {
      const a = q[i]!;
      if (this.assignments.get(a.spec.taskId) !== a) continue; // cancelled, or its argument could not be fetched
      if (a.args === undefined) break;
      this.sendActorCall(a);
    }
    q.splice(0, i);
    if (q.length === 0) this.actorCalls.delete(actorId);
  }

  private sendActorCall(a: Assignment): void {
    const spec = a.spec as Extract<TaskSpec, { kind: 'actor-method' }>;
    const w = this.deps.pool.actorWorker(spec.actorId);
    if (!w || w.dead) {
      this.assignments.delete(spec.taskId);
      this.deps.reporter.done(a, null, 0, 0, undefined, wireError('ActorDiedError', `actor ${spec.actorId} is not running on node ${this.deps.nodeId}`), true);
      return;
    }
    this.sendRun(w, a);
  }

  /**
   * Hands queued tasks to workers: reserved ones to idle or new workers, pipelined ones behind busy
   * or on idle ones. Pipelined tasks left without a worker are reported and wait for the
   * coordinator, which owns the node's resources, to give them their own (`start_task`); the node
   * never starts them on its own after that, so the coordinator never reserves a CPU for a task
   * that already runs (and might block holding it).
   */
  drain(): void {
    const q = this.queue;
    if (q.length === 0) return;
    // Compacted in place: what could not start keeps its order.
    let kept = 0;
    let report: TaskId[] | undefined;
    for (let i = 0; i < q.length; i++) {
      const a = q[i]!;
      if (this.tryStart(a)) continue;
      q[kept++] = a;
      if (!a.reserved && !a.reportedWaiting) {
        a.reportedWaiting = true;
        (report ??= []).push(a.spec.taskId);
      }
    }
    q.length = kept;
    for (let i = 0; report && i < report.length; i += MAX_SMALL_ITEMS) {
      this.deps.send({ type: 'tasks_waiting', taskIds: report.slice(i, i + MAX_SMALL_ITEMS) });
    }
  }

  private tryStart(a: Assignment): boolean {
    const spec = a.spec;
    // Only normal tasks queue: route() sends actor tasks straight to their worker.
    if (spec.kind !== 'normal') return false;
    // Reported waiting: from now on only the coordinator, which owns the node's resources, starts it.
    if (!a.reserved && a.reportedWaiting) return false;
    const shape = shapeKey(spec.resources);
    const cpu = spec.resources.CPU ?? 0;
    const w = a.reserved ? this.reservedWorker(spec, shape, cpu) : this.deps.pool.pipelineTarget(shape) ?? this.deps.pool.takeIdle(spec.fnId);
    if (!w) return false;
    if (w.tasks.size === 0) {
      w.shape = shape;
      w.cpu = cpu;
    }
    this.sendRun(w, a);
    return true;
  }

  /**
   * A worker for a task the coordinator holds resources for: an idle one, or one whose tasks are
   * all blocked in get/wait (the task runs there while they wait), else a new one while its
   * CPUs fit beside those the workers' running (unblocked) tasks use. When the CPUs are busy — with pipelined
   * tasks, which the coordinator counts as holding nothing, still ahead of it on a worker whose
   * reserved task ended — it queues behind a busy worker of its shape instead of overcommitting
   * the CPUs with one more worker (a new one if none can take it).
   */
  private reservedWorker(spec: NormalTaskSpec, shape: string, cpu: number): WorkerSlot | undefined {
    const pool = this.deps.pool;
    const fnId = spec.fnId;
    // A task holding no CPU takes no lent one: it gets a worker of its own (it may wait long, and
    // would hold back the blocked tasks it shared with).
    const idle = pool.takeIdle(fnId) ?? (cpu > 0 && !this.held.isLong(fnId) ? pool.takeParked(fnId, (w) => this.mayShare(w, spec)) : undefined);
    if (idle) return idle;
    if (cpu > 0 && pool.cpusInUse() + cpu > this.deps.cpus) {
      const behind = pool.pipelineTarget(shape);
      if (behind) return behind;
    }
    // At the pool's cap, blocked tasks' workers are shared whatever their functions: each of them
    // then goes on only when the one holding its worker awaits or ends, but a recursion deeper
    // than the cap (each level blocked on the next) would otherwise wait for a worker forever.
    return pool.spawnIfAllowed(this.deps.cpus) ?? (cpu > 0 ? pool.takeParked(fnId, () => true) : undefined);
  }

  /**
   * Whether the task may share the worker with its tasks (see `held`): all of functions known to
   * hold their worker briefly, or — before that is known — all its own ancestors (a recursion:
   * they wait for it, so it holds none of them back).
   */
  private mayShare(w: WorkerSlot, spec: NormalTaskSpec): boolean {
    const brief = this.held.isShort(spec.fnId);
    let ancestors: Set<TaskId> | undefined;
    for (const a of w.tasks.values()) {
      if (a.spec.kind !== 'normal' || this.held.isLong(a.spec.fnId)) return false;
      if (brief && this.held.isShort(a.spec.fnId)) continue;
      if (a.spec.fnId !== spec.fnId) return false;
      ancestors ??= this.ancestorsOf(spec);
      if (!ancestors.has(a.spec.taskId)) return false;
    }
    return true;
  }

  /** The task's parent, its parent's, … as far as they were assigned here. */
  private ancestorsOf(spec: TaskSpec): Set<TaskId> {
    const out = new Set<TaskId>();
    for (let id = spec.parentTaskId; id !== undefined && !out.has(id); id = this.assignments.get(id)?.spec.parentTaskId) out.add(id);
    return out;
  }

  private sendRun(w: WorkerSlot, a: Assignment): void {
    const spec = a.spec;
    const fnId = functionIdOf(spec);
    if (fnId && !this.deps.pool.ensureLoaded(w, fnId)) {
      this.assignments.delete(spec.taskId);
      this.deps.reporter.done(a, null, 0, 0, undefined, wireError('RaySystemError', `node ${this.deps.nodeId} never received the code of ${spec.name}`), false);
      return;
    }
    // A worker whose every task is blocked runs this one while they wait (worker/executor.ts).
    const shared = isParked(w);
    if (shared || w.tasks.size === 0) a.started = true;
    a.worker = w;
    w.tasks.set(spec.taskId, a);
    if (spec.kind === 'normal' && spec.maxCalls !== undefined) {
      const calls = (w.calls ??= new Map()).get(spec.fnId) ?? 0;
      w.calls.set(spec.fnId, calls + 1);
      if (calls + 1 >= spec.maxCalls) w.spent = true;
    }
    // A worker with nothing else to do starts the task on receipt: report it running now, so the
    // worker never spends a message on it (a long synchronous body could not send one anyway).
    if ((w.tasks.size === 1 || shared) && spec.enableTaskEvents) {
      this.deps.send({ type: 'task_started', taskId: spec.taskId, workerId: w.id, atMs: performance.timeOrigin + performance.now() });
    }
    const { objs: args, transfer } = withTransferableCopies(a.args!, TRANSFER_ARG_MIN_BYTES);
    const run: Extract<ToWorker, { type: 'run' }> = {
      type: 'run',
      taskId: spec.taskId,
      // An actor call runs a method of the instance its worker holds: no function to look up.
      fnId: fnId ?? NO_FUNCTION,
      name: spec.name,
      args,
      numReturns: spec.numReturns,
      backpressure: spec.generatorBackpressure,
      transferResults: spec.kind === 'normal',
      gpu: (spec.resources.GPU ?? 0) > 0,
      resources: spec.resources,
    };
    if (spec.kind === 'actor-method') (run as { method?: string }).method = spec.method;
    if (shared) (run as { shared?: true }).shared = true;
    if (a.view) this.deps.pool.post(w, { type: 'view', view: a.view });
    // A worker with other tasks ahead of this one gets it with the next batch (WorkerPool.post).
    this.deps.pool.post(w, run, transfer, w.tasks.size > 1 && !shared);
  }

  private createActor(a: Assignment, spec: ActorCreationTaskSpec): void {
    const w = this.deps.pool.spawn(spec.actorId);
    if (!this.deps.pool.ensureLoaded(w, spec.fnId)) {
      this.deps.retire(w, null);
      this.assignments.delete(spec.taskId);
      this.deps.reporter.done(a, null, 0, 0, undefined, wireError('RaySystemError', `node ${this.deps.nodeId} never received the code of ${spec.name}`), false);
      return;
    }
    a.worker = w;
    w.tasks.set(spec.taskId, a);
    if (spec.actor.maxConcurrency > 1) this.concurrentActors.add(spec.actorId);
    if (a.view) this.deps.pool.post(w, { type: 'view', view: a.view });
    this.deps.pool.post(w, {
      type: 'create_actor',
      actorId: spec.actorId,
      taskId: spec.taskId,
      fnId: spec.fnId,
      args: a.args!,
      maxConcurrency: spec.actor.maxConcurrency,
      gpu: (spec.resources.GPU ?? 0) > 0,
      resources: spec.heldResources ?? {},
      ...(spec.actor.actorName !== undefined ? { actorName: spec.actor.actorName } : {}),
      // A later run of its creation is a restart (a replicated actor's other replicas are copies, never restarts).
      restarted: a.attempt > 1 && (spec.replicas ?? 1) === 1,
    });
  }

  /** A task left its worker: the worker is idle again when it has nothing else. */
  private finishOnWorker(w: WorkerSlot, a: Assignment): void {
    if (a.blocked > 0) {
      // It ended with a blocking call still out (Promise.race): the worker no longer waits on it.
      a.blocked = 0;
      w.blockedTasks--;
    }
    w.tasks.delete(a.spec.taskId);
    this.assignments.delete(a.spec.taskId);
    if (a.cancelTimer !== undefined) clearTimeout(a.cancelTimer);
    if (w.actorId) return;
    if (w.spent && w.tasks.size === 0) {
      // It ran the calls `maxCalls` allows: a fresh worker takes the next task.
      this.deps.retire(w, null);
      return;
    }
    if (w.tasks.size === 0 && w.shape !== null) {
      w.shape = null;
      w.cpu = 0;
      this.deps.pool.makeIdle(w);
    }
  }

  /**
   * `ray.cancel`: a task not started yet fails at once; a running one is asked to stop, and its
   * worker is terminated if it has not within CANCEL_GRACE_MS (at once with `force`; never for
   * actor calls) — longer while it is blocked in get/wait, waiting on the cluster rather than
   * ignoring the abort (CANCEL_BLOCKED_GRACE_MAX_MS).
   */
  cancel(taskId: TaskId, force: boolean): void {
    const a = this.assignments.get(taskId);
    if (!a) return;
    const err = wireError('TaskCancelledError', `task ${a.spec.name} was cancelled`);
    const qi = this.queue.indexOf(a);
    if (qi >= 0 || !a.worker) {
      if (qi >= 0) this.queue.splice(qi, 1);
      this.assignments.delete(taskId);
      this.deps.reporter.done(a, null, 0, 0, undefined, err, false);
      if (a.spec.kind === 'actor-method') this.sendActorCalls(a.spec.actorId);
      return;
    }
    const w = a.worker;
    if (w.actorId) {
      this.deps.pool.post(w, { type: 'cancel', taskId });
      return;
    }
    // A task blocked in get/wait runs no code: its worker may be running other tasks meanwhile,
    // so it is asked to stop and gets the grace period like any cancelled task before its worker
    // (and those tasks with it) is terminated.
    if (force && a.blocked === 0) {
      this.deps.retire(w, `terminated by ray.cancel(force: true)`);
      return;
    }
    this.deps.pool.post(w, { type: 'cancel', taskId });
    // The grace period, extended while the task is blocked in get/wait (up to CANCEL_BLOCKED_GRACE_MAX_MS).
    const arm = (waitedMs: number): void => {
      a.cancelTimer = setTimeout(() => {
        if (w.tasks.get(taskId) !== a || w.dead) return;
        waitedMs += CANCEL_GRACE_MS;
        if (a.blocked > 0 && waitedMs < CANCEL_BLOCKED_GRACE_MAX_MS) arm(waitedMs);
        else this.deps.retire(w, `terminated: the cancelled task did not stop within ${waitedMs} ms`);
      }, CANCEL_GRACE_MS);
    };
    arm(0);
  }
}
