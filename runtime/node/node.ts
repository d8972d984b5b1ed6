// A node: one tab's share of the cluster (Ray's raylet). It runs the tasks the coordinator assigns
// on a pool of Web Workers sized by its CPUs, keeps its object store, hosts actors in dedicated
// workers, and forwards the calls task code makes (`.remote`, `get`, `put`, `wait`) to the coordinator.
// This class wires the parts and routes messages to them: the worker pool (worker-pool.ts), the
// task queue and dispatch (local-task-manager.ts; the coordinator owns the node's resources), argument
// and object fetching (dependency-manager.ts), completion reports (task-reporter.ts) and the calls
// from task code (request-forwarder.ts). What happens when a worker dies or is retired is here.

import { wireError } from '../api/errors.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { holderOfWorker, returnId, type IdGenerator, type NodeId, type ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { ResourceSet, SerializedObject } from '../protocol/task-spec.ts';
import type { FromWorker } from '../protocol/worker-messages.ts';
import type { Assignment, WorkerSlot } from './assignment.ts';
import { STATS_INTERVAL_MS } from './constants.ts';
import { DependencyManager } from './dependency-manager.ts';
import { LocalTaskManager } from './local-task-manager.ts';
import type { ObjectStore } from './object-store.ts';
import { PullGrants } from './pull-grants.ts';
import { RequestForwarder } from './request-forwarder.ts';
import { TaskReporter } from './task-reporter.ts';
import type { WorkerFactory } from './worker-endpoint.ts';
import { WorkerPool } from './worker-pool.ts';

export interface NodeDeps {
  readonly nodeId: NodeId;
  /** The coordinator node's id (the session's job); this node's own when it is the coordinator's. */
  readonly coordinatorId?: NodeId;
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
  private readonly dependencies: DependencyManager;
  private readonly reporter: TaskReporter;
  private readonly forwarder: RequestForwarder;
  private readonly tasks: LocalTaskManager;
  private readonly pool: WorkerPool;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private reportedStatsVersion = -1;
  private stopped = false;
  /** Which members may pull which of this node's objects (the mesh asks before answering a pull). */
  readonly pullGrants = new PullGrants();

  constructor(deps: NodeDeps) {
    this.deps = deps;
    this.nodeId = deps.nodeId;
    this.dependencies = new DependencyManager(deps);
    this.reporter = new TaskReporter({ store: deps.store, send: deps.send, unpin: (a) => this.dependencies.unpin(a) });
    this.log = createLogger('webray:node', deps.nodeId);
    this.forwarder = new RequestForwarder({
      send: deps.send,
      post: (w, msg) => this.pool.post(w, msg),
      keep: (id, obj) => this.reporter.keepOrFail(id, obj),
      fetch: (id, from, sha256) => this.dependencies.fetch(id, from, false, sha256),
      stopped: () => this.stopped,
    });
    this.pool = new WorkerPool({
      nodeId: deps.nodeId,
      jobId: deps.coordinatorId ?? deps.nodeId,
      ids: deps.ids,
      createWorker: deps.createWorker,
      onMessages: (w, batch) => this.onWorkerMessages(w, batch),
      onDied: (w, reason) => this.onWorkerDied(w, reason),
    });
    this.tasks = new LocalTaskManager({
      nodeId: deps.nodeId,
      pool: this.pool,
      cpus: Math.ceil(deps.resources.CPU ?? 1),
      dependencies: this.dependencies,
      reporter: this.reporter,
      send: deps.send,
      retire: (w, reason) => this.retire(w, reason),
    });
  }

  /** Warms the pool: one worker per CPU, so the first tasks don't wait for workers to load. */
  start(): void {
    const n = Math.floor(this.deps.resources.CPU ?? 0);
    this.pool.warm(n);
    this.statsTimer = setInterval(() => this.reportStats(), STATS_INTERVAL_MS);
    this.reportStats(); // the budget, for clusterResources().objectStoreMemory, at once
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pullGrants.close();
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.pool.stop();
    this.tasks.clear();
    this.forwarder.close();
  }

  get store(): ObjectStore {
    return this.deps.store;
  }

  stats(): { workers: number; running: number; queued: number; finished: number; runningNames: string[] } {
    const { running, queued, runningNames } = this.tasks.counts();
    return { workers: this.pool.size, running, queued, finished: this.reporter.finished, runningNames };
  }

  // ───────────────────────── from the coordinator ─────────────────────────

  handle(msg: CoordinatorToNode): void {
    if (this.stopped) return;
    switch (msg.type) {
      case 'run_task':
        if (msg.fn) this.pool.addFunction(msg.fn);
        this.tasks.assign(msg.spec, msg.attempt, msg.args, msg.pipelined === true, msg.view);
        return;
      case 'start_task':
        this.tasks.reserve(msg.taskId);
        return;
      case 'cancel_task':
        this.tasks.cancel(msg.taskId, msg.force);
        return;
      case 'kill_actor': {
        const w = this.pool.actorWorker(msg.actorId);
        if (w) this.retire(w, null);
        return;
      }
      case 'generator_ack': {
        const a = this.tasks.get(msg.taskId);
        if (a?.worker) this.pool.post(a.worker, { type: 'gen_ack', taskId: msg.taskId, consumed: msg.consumed });
        return;
      }
      case 'client_reply':
        this.forwarder.onReply(msg);
        return;
      case 'free_objects':
        this.deps.store.free(msg.ids);
        this.pullGrants.forget(msg.ids);
        return;
      case 'expect_pulls':
        this.pullGrants.expect(msg.puller, msg.ids);
        return;
      case 'fetch_objects':
        for (const { id, nodes, sha256 } of msg.objects) this.dependencies.fetchForWait(id, nodes, sha256);
        return;
      default:
        assertNever(msg);
    }
  }

  /**
   * An object from this node's store (restored from IndexedDB if spilled) or pulled from a node
   * that holds it and kept here (the driver's `get` on the coordinator tab).
   */
  fetchObject(id: ObjectId, from: readonly NodeId[], sha256?: string): Promise<SerializedObject> {
    return this.dependencies.fetch(id, from, false, sha256);
  }

  // ───────────────────────────── from workers ─────────────────────────────

  private onWorkerMessages(w: WorkerSlot, batch: readonly FromWorker[]): void {
    if (w.dead || this.stopped) return;
    // Each message was checked field by field where the batch entered (worker-pool.ts → worker-inbox.ts).
    for (const msg of batch) {
      try {
        this.onWorkerMessage(w, msg);
      } catch (e) {
        this.log.warn(`could not handle ${msg.type} from worker ${w.id}: ${(e as Error).message}`);
      }
    }
    this.tasks.drain();
  }

  private onWorkerMessage(w: WorkerSlot, msg: FromWorker): void {
    switch (msg.type) {
      case 'done':
        this.tasks.onDone(w, msg);
        return;
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
      case 'actor_ready':
        this.tasks.onActorReady(w, msg);
        return;
      case 'returned':
        this.tasks.onReturned(w, msg.taskIds);
        return;
      case 'request':
        if (msg.heldMs !== undefined && msg.taskId !== null) this.tasks.onHeld(w, msg.taskId, msg.heldMs);
        this.forwarder.forward(w, msg.reqId, msg.taskId, msg.req);
        return;
      case 'refs': {
        // Only the fields RefUpdate names: the holder is always this worker, whatever it posted.
        const { add, release, generators, gone } = msg;
        this.deps.send({ type: 'refs', holder: holderOfWorker(w.id), ...(add && { add }), ...(release && { release }), ...(generators && { generators }), ...(gone && { gone }) });
        return;
      }
      case 'exit':
        this.onWorkerDied(w, msg.reason);
        return;
      default:
        assertNever(msg);
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
    // The refs it held are gone with it.
    this.deps.send({ type: 'refs', holder: holderOfWorker(w.id), gone: true });
    const wasBlocked = new Set([...w.tasks.values()].filter((a) => a.blocked > 0));
    for (const a of w.tasks.values()) {
      if (a.blocked === 0) continue;
      a.blocked = 0;
      this.deps.send({ type: 'task_unblocked', taskId: a.spec.taskId });
    }
    w.blockedTasks = 0;
    if (w.actorId) {
      const creation = [...w.tasks.values()].find((a) => a.spec.kind === 'actor-creation');
      for (const a of w.tasks.values()) this.tasks.forget(a.spec.taskId);
      this.tasks.actorGone(w.actorId);
      if (reason !== null) {
        const err = wireError('ActorDiedError', `actor ${w.actorId} died: its worker ${reason}`, { actorId: w.actorId });
        if (creation) this.reporter.done(creation, w.id, 0, 0, undefined, err, true);
        else this.deps.send({ type: 'actor_died', actorId: w.actorId, error: err });
      }
    } else {
      const err = wireError(
        'WorkerCrashedError',
        `the worker running the task died (${reason ?? 'terminated'}); it is retried while maxRetries allows`,
      );
      // A pooled worker starts its tasks one after another: those it started on receipt or that
      // blocked had started; with none of those left, the first of the others was running. The
      // rest never ran, so they go back to the queue rather than spend an attempt.
      const started: Assignment[] = [];
      const queued: Assignment[] = [];
      for (const a of w.tasks.values()) (a.started ? started : queued).push(a);
      if (started.length === 0 && queued.length > 0) started.push(queued.shift()!);
      // A task blocked in get/wait on a shared worker did not hold it when it died: the task
      // holding its turn did. It goes back to the queue, once, without spending an attempt, as in
      // Ray, where a neighbour's crash would not have touched it (once: its own timer could have
      // been the cause, while another task held the turn).
      const holders = started.filter((a) => !wasBlocked.has(a));
      const spared = holders.length > 0 ? started.filter((a) => wasBlocked.has(a) && a.spared !== true) : [];
      for (const a of spared) a.spared = true;
      for (const a of started) {
        if (spared.includes(a)) continue;
        this.tasks.forget(a.spec.taskId);
        if (a.cancelTimer !== undefined) clearTimeout(a.cancelTimer);
        this.reporter.done(a, w.id, 0, 0, undefined, err, true);
      }
      this.tasks.requeue([...spared, ...queued]);
    }
    w.tasks.clear();
    this.tasks.drain();
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
