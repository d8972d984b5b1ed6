// A node: one tab's share of the cluster (Ray's raylet). It runs the tasks the coordinator assigns
// on a pool of Web Workers sized by its CPUs, keeps its object store, hosts actors in dedicated
// workers, and forwards the calls task code makes (`.remote`, `get`, `put`, `wait`) to the coordinator.

import { wireError } from '../api/errors.ts';
import { withTransferableCopies } from '../api/serialization.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { shapeKey } from '../common/resources.ts';
import { returnId, type IdGenerator, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, ResolvedArg } from '../protocol/node-messages.ts';
import type { ResourceSet, SerializedObject, TaskSpec } from '../protocol/task-spec.ts';
import type { FromWorker, ToWorker } from '../protocol/worker-messages.ts';
import {
  CANCEL_GRACE_MS,
  STATS_INTERVAL_MS,
  TRANSFER_ARG_MIN_BYTES,
} from './constants.ts';
import type { ObjectStore } from './object-store.ts';
import type { Assignment, WorkerSlot } from './assignment.ts';
import type { WorkerFactory } from './worker-endpoint.ts';
import { DependencyManager } from './dependency-manager.ts';
import { LocalResources } from './local-resources.ts';
import { RequestForwarder } from './request-forwarder.ts';
import { TaskReporter } from './task-reporter.ts';
import { WorkerPool } from './worker-pool.ts';
import { TaskDurations } from '../common/task-durations.ts';

export interface NodeDeps {
  readonly nodeId: NodeId;
  readonly resources: ResourceSet;
  readonly ids: IdGenerator;
  readonly createWorker: WorkerFactory;
  readonly store: ObjectStore;
  /** Sends a control message to the coordinator. */
  readonly send: (msg: NodeToCoordinator) => void;
  /** Fetches an object this node lacks from a node that holds it (cluster mode). */
  readonly pull?: (id: ObjectId, from: readonly NodeId[]) => Promise<SerializedObject>;
}

export class Node {
  readonly nodeId: NodeId;
  private readonly deps: NodeDeps;
  private readonly log: Logger;
  private readonly resources: LocalResources;
  private readonly dependencies: DependencyManager;
  private readonly reporter: TaskReporter;
  private readonly forwarder: RequestForwarder;
  private readonly durations = new TaskDurations();
  private readonly assignments = new Map<TaskId, Assignment>();
  private queue: Assignment[] = [];
  private readonly pool: WorkerPool;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private reportedStatsVersion = -1;
  private stopped = false;

  constructor(deps: NodeDeps) {
    this.deps = deps;
    this.nodeId = deps.nodeId;
    this.resources = new LocalResources(deps.resources);
    this.dependencies = new DependencyManager(deps);
    this.reporter = new TaskReporter({ store: deps.store, send: deps.send, unpin: (a) => this.dependencies.unpin(a) });
    this.log = createLogger('webray:node', deps.nodeId);
    this.forwarder = new RequestForwarder({
      send: deps.send,
      post: (w, msg) => this.pool.post(w, msg),
      resources: this.resources,
      keep: (id, obj) => this.reporter.keepOrFail(id, obj),
      values: (resolved) => this.dependencies.values(resolved),
      drain: () => this.drain(),
      stopped: () => this.stopped,
    });
    this.pool = new WorkerPool({
      nodeId: deps.nodeId,
      ids: deps.ids,
      createWorker: deps.createWorker,
      onMessages: (w, batch) => this.onWorkerMessages(w, batch),
      onDied: (w, reason) => this.onWorkerDied(w, reason),
    });
  }

  /** Warms the pool: one worker per CPU, so the first tasks don't wait for workers to load. */
  start(): void {
    const n = this.resources.cpus;
    this.pool.warm(n);
    this.statsTimer = setInterval(() => this.reportStats(), STATS_INTERVAL_MS);
    this.reportStats(); // the budget, for clusterResources().objectStoreMemory, at once
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.pool.stop();
    this.queue = [];
    this.assignments.clear();
  }

  get store(): ObjectStore {
    return this.deps.store;
  }

  stats(): { workers: number; running: number; queued: number; finished: number; runningNames: string[] } {
    const runningNames: string[] = [];
    for (const a of this.assignments.values()) if (a.worker && a.spec.kind !== 'actor-creation') runningNames.push(a.spec.name);
    return {
      workers: this.pool.size,
      running: this.assignments.size - this.queue.length,
      queued: this.queue.length,
      finished: this.reporter.finished,
      runningNames,
    };
  }

  // ───────────────────────── from the coordinator ─────────────────────────

  handle(msg: CoordinatorToNode): void {
    if (this.stopped) return;
    switch (msg.type) {
      case 'run_task':
        if (msg.fn) this.pool.addFunction(msg.fn);
        this.assign(msg.spec, msg.attempt, msg.args);
        return;
      case 'cancel_task':
        this.cancel(msg.taskId, msg.force);
        return;
      case 'kill_actor': {
        const w = this.pool.actorWorker(msg.actorId);
        if (w) this.retire(w, null);
        return;
      }
      case 'generator_ack': {
        const a = this.assignments.get(msg.taskId);
        if (a?.worker) this.pool.post(a.worker, { type: 'gen_ack', taskId: msg.taskId, consumed: msg.consumed });
        return;
      }
      case 'client_reply':
        this.forwarder.onReply(msg);
        return;
      case 'free_objects':
        this.deps.store.free(msg.ids);
        return;
      case 'fetch_objects':
        for (const { id, nodes } of msg.objects) this.dependencies.fetchForWait(id, nodes);
        return;
      default:
        assertNever(msg);
    }
  }

  private assign(spec: TaskSpec, attempt: number, resolved: readonly ResolvedArg[]): void {
    const a: Assignment = { spec, attempt, args: undefined, pinned: undefined, worker: undefined };
    this.assignments.set(spec.taskId, a);
    const { args, ready } = this.dependencies.gather(a, resolved);
    if (!ready) {
      a.args = args;
      this.route(a);
      return;
    }
    ready.then(
      () => {
        if (this.assignments.get(spec.taskId) !== a) {
          this.dependencies.unpin(a);
          return;
        }
        a.args = args;
        this.route(a);
      },
      (e: unknown) => {
        if (this.assignments.get(spec.taskId) !== a) {
          this.dependencies.unpin(a);
          return;
        }
        this.assignments.delete(spec.taskId);
        // A system failure, so the coordinator retries the task once the argument is back: its
        // holder left mid-pull, and the object is being recomputed (or is lost for good).
        const err = wireError('ObjectLostError', `could not fetch an argument of ${spec.name}: ${(e as Error).message}`);
        this.reporter.done(a, null, 0, 0, undefined, err, spec.kind === 'normal');
      },
    );
  }

  /**
   * An object from this node's store (restored from IndexedDB if spilled) or pulled from a node
   * that holds it and kept here (the driver's `get` on the coordinator tab).
   */
  fetchObject(id: ObjectId, from: readonly NodeId[]): Promise<SerializedObject> {
    return this.dependencies.fetch(id, from, false);
  }

  private route(a: Assignment): void {
    const spec = a.spec;
    if (spec.kind === 'actor-creation') return this.createActor(a);
    if (spec.kind === 'actor-method') {
      const w = this.pool.actorWorker(spec.actorId!);
      if (!w || w.dead) {
        this.assignments.delete(spec.taskId);
        this.reporter.done(a, null, 0, 0, undefined, wireError('ActorDiedError', `actor ${spec.actorId} is not running on node ${this.nodeId}`), true);
        return;
      }
      this.sendRun(w, a);
      return;
    }
    this.queue.push(a);
    this.drain();
  }

  // ───────────────────────────── scheduling ─────────────────────────────

  /** Hands queued tasks to workers: idle ones first, new ones while resources last, busy ones for short tasks. */
  private drain(): void {
    const q = this.queue;
    if (q.length === 0) return;
    // Compacted in place: what could not start keeps its order.
    let kept = 0;
    for (let i = 0; i < q.length; i++) {
      const a = q[i]!;
      if (!this.tryStart(a)) q[kept++] = a;
    }
    q.length = kept;
  }

  private tryStart(a: Assignment): boolean {
    const need = a.spec.resources;
    if (this.resources.fits(need)) {
      const w = this.pool.takeIdle(a.spec.fnId) ?? this.pool.spawnIfAllowed(Math.ceil(this.resources.total.CPU ?? 1));
      if (w) {
        this.resources.lease(w, need);
        this.sendRun(w, a);
        return true;
      }
    }
    if (this.durations.isShort(a.spec.fnId)) {
      const shape = shapeKey(need);
      const best = this.pool.pipelineTarget(shape);
      if (best) {
        this.sendRun(best, a);
        return true;
      }
    }
    return false;
  }

  private sendRun(w: WorkerSlot, a: Assignment): void {
    const spec = a.spec;
    const fnId = spec.kind === 'actor-method' ? undefined : spec.fnId;
    if (fnId && !this.pool.ensureLoaded(w, fnId)) {
      this.assignments.delete(spec.taskId);
      this.reporter.done(a, null, 0, 0, undefined, wireError('RaySystemError', `node ${this.nodeId} never received the code of ${spec.name}`), false);
      return;
    }
    a.worker = w;
    w.tasks.set(spec.taskId, a);
    // A worker with nothing else to do starts the task on receipt: report it running now, so the
    // worker never spends a message on it (a long synchronous body could not send one anyway).
    if (w.tasks.size === 1 && spec.enableTaskEvents) {
      this.deps.send({ type: 'task_started', taskId: spec.taskId, workerId: w.id, atMs: performance.timeOrigin + performance.now() });
    }
    const { objs: args, transfer } = withTransferableCopies(a.args!, TRANSFER_ARG_MIN_BYTES);
    const run: Extract<ToWorker, { type: 'run' }> = {
      type: 'run',
      taskId: spec.taskId,
      fnId: spec.fnId,
      name: spec.name,
      args,
      numReturns: spec.numReturns,
      backpressure: spec.generatorBackpressure,
      transferResults: spec.kind === 'normal',
      gpu: (spec.resources.GPU ?? 0) > 0,
    };
    if (spec.method !== undefined) (run as { method?: string }).method = spec.method;
    this.pool.post(w, run, transfer);
  }

  private createActor(a: Assignment): void {
    const spec = a.spec;
    this.resources.holdForActor(spec.heldResources ?? {});
    const w = this.pool.spawn(spec.actorId!);
    w.lease = spec.heldResources ?? {};
    if (!this.pool.ensureLoaded(w, spec.fnId)) {
      this.retire(w, null);
      this.assignments.delete(spec.taskId);
      this.reporter.done(a, null, 0, 0, undefined, wireError('RaySystemError', `node ${this.nodeId} never received the code of ${spec.name}`), false);
      return;
    }
    a.worker = w;
    w.tasks.set(spec.taskId, a);
    this.pool.post(w, {
      type: 'create_actor',
      actorId: spec.actorId!,
      taskId: spec.taskId,
      fnId: spec.fnId,
      args: a.args!,
      maxConcurrency: spec.actor!.maxConcurrency,
      gpu: (spec.resources.GPU ?? 0) > 0,
    });
  }

  // ───────────────────────────── from workers ─────────────────────────────

  private onWorkerMessages(w: WorkerSlot, batch: readonly FromWorker[]): void {
    if (w.dead || this.stopped) return;
    if (!Array.isArray(batch)) {
      this.log.warn(`worker ${w.id} sent a malformed message; ignoring it`);
      return;
    }
    for (const msg of batch) {
      try {
        this.onWorkerMessage(w, msg);
      } catch (e) {
        this.log.warn(`could not handle ${msg?.type} from worker ${w.id}: ${(e as Error).message}`);
      }
    }
    this.drain();
  }

  private onWorkerMessage(w: WorkerSlot, msg: FromWorker): void {
    switch (msg.type) {
      case 'done': {
        const a = w.tasks.get(msg.taskId);
        if (!a) return;
        this.finishOnWorker(w, a);
        if (a.spec.kind === 'normal') this.durations.record(a.spec.fnId, msg.endMs - msg.startMs);
        this.reporter.done(a, w.id, msg.startMs, msg.endMs, msg.results, msg.error, false);
        return;
      }
      case 'yield': {
        const a = w.tasks.get(msg.taskId);
        if (!a) return;
        this.deps.send({
          type: 'generator_item',
          taskId: msg.taskId,
          attempt: a.attempt,
          index: msg.index,
          result: this.reporter.keepOrFail(returnId(msg.taskId, msg.index), msg.obj),
        });
        return;
      }
      case 'actor_ready': {
        const a = w.tasks.get(msg.taskId);
        if (!a) return;
        w.tasks.delete(msg.taskId);
        this.assignments.delete(msg.taskId);
        this.reporter.done(a, w.id, msg.startMs, msg.endMs, [], msg.error, false);
        if (msg.error) this.retire(w, null);
        return;
      }
      case 'returned': {
        // The worker's running task blocked: its queued tasks go back to the node's queue, in order.
        const back: Assignment[] = [];
        for (const id of msg.taskIds) {
          const a = w.tasks.get(id);
          if (!a) continue;
          w.tasks.delete(id);
          a.worker = undefined;
          back.push(a);
        }
        this.queue = [...back, ...this.queue];
        return;
      }
      case 'request':
        this.forwarder.forward(w, msg.reqId, msg.taskId, msg.req);
        return;
      case 'refs': {
        const { type: _type, ...update } = msg;
        this.deps.send({ type: 'refs', holder: w.id, ...update });
        return;
      }
      case 'exit':
        this.onWorkerDied(w, msg.reason);
        return;
      default:
        assertNever(msg);
    }
  }

  /** A task left its worker: give the lease back when the worker has nothing else. */
  private finishOnWorker(w: WorkerSlot, a: Assignment): void {
    w.tasks.delete(a.spec.taskId);
    this.assignments.delete(a.spec.taskId);
    if (a.cancelTimer !== undefined) clearTimeout(a.cancelTimer);
    if (w.actorId) return;
    if (w.tasks.size === 0 && w.lease) {
      this.resources.release(w);
      this.pool.makeIdle(w);
    }
  }

  private onWorkerDied(w: WorkerSlot, reason: string): void {
    if (w.dead) return;
    this.log.warn(`worker ${w.id} died: ${reason}`);
    this.retire(w, reason);
  }

  /**
   * Takes a worker out of service: terminates it, gives back its resources, and — when it died
   * (`reason` set) rather than being retired on purpose — fails what it was running as a system failure.
   */
  private retire(w: WorkerSlot, reason: string | null): void {
    if (w.dead) return;
    this.pool.remove(w);
    this.forwarder.dropWorker(w);
    // The refs it held are gone with it.
    this.deps.send({ type: 'refs', holder: w.id, gone: true });
    if (w.blocked > 0) {
      for (const a of w.tasks.values()) this.deps.send({ type: 'task_unblocked', taskId: a.spec.taskId });
    }
    if (w.actorId) {
      this.resources.releaseActor(w);
      const creation = [...w.tasks.values()].find((a) => a.spec.kind === 'actor-creation');
      for (const a of w.tasks.values()) this.assignments.delete(a.spec.taskId);
      if (reason !== null) {
        const err = wireError('ActorDiedError', `actor ${w.actorId} died: its worker ${reason}`, { actorId: w.actorId });
        if (creation) this.reporter.done(creation, w.id, 0, 0, undefined, err, true);
        else this.deps.send({ type: 'actor_died', actorId: w.actorId, error: err });
      }
    } else {
      this.resources.release(w);
      const err = wireError(
        'WorkerCrashedError',
        `the worker running the task died (${reason ?? 'terminated'}); it is retried while maxRetries allows`,
      );
      for (const a of w.tasks.values()) {
        this.assignments.delete(a.spec.taskId);
        if (a.cancelTimer !== undefined) clearTimeout(a.cancelTimer);
        this.reporter.done(a, w.id, 0, 0, undefined, err, true);
      }
    }
    w.tasks.clear();
    this.drain();
  }

  // ───────────────────────────── cancellation ─────────────────────────────

  private cancel(taskId: TaskId, force: boolean): void {
    const a = this.assignments.get(taskId);
    if (!a) return;
    const err = wireError('TaskCancelledError', `task ${a.spec.name} was cancelled`);
    const qi = this.queue.indexOf(a);
    if (qi >= 0 || !a.worker) {
      if (qi >= 0) this.queue.splice(qi, 1);
      this.assignments.delete(taskId);
      this.reporter.done(a, null, 0, 0, undefined, err, false);
      return;
    }
    const w = a.worker;
    if (w.actorId) {
      this.pool.post(w, { type: 'cancel', taskId });
      return;
    }
    if (force) {
      this.retire(w, `terminated by ray.cancel(force: true)`);
      return;
    }
    this.pool.post(w, { type: 'cancel', taskId });
    a.cancelTimer = setTimeout(() => {
      if (w.tasks.get(taskId) === a && !w.dead) this.retire(w, `terminated: the cancelled task did not stop within ${CANCEL_GRACE_MS} ms`);
    }, CANCEL_GRACE_MS);
  }

  private reportStats(): void {
    const v = this.deps.store.changeCount;
    if (v === this.reportedStatsVersion) return;
    this.reportedStatsVersion = v;
    this.deps.send({ type: 'node_stats', ...this.deps.store.stats() });
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
