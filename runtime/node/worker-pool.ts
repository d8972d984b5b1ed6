// The node's worker pool (Ray's WorkerPool): the Web Workers it runs tasks on — pooled ones shared
// by tasks, dedicated ones hosting an actor each — with the code loaded into each, and the batched
// channel to them (every message posted in one microtask goes as one `postMessage`).

import { afterQueuedTasks } from '../common/after-queued-tasks.ts';
import { createLogger } from '../common/logger.ts';
import type { ActorId, FunctionId, IdGenerator, NodeId } from '../protocol/ids.ts';
import type { FunctionDescriptor } from '../protocol/task-spec.ts';
import type { FromWorker, ToWorker } from '../protocol/worker-messages.ts';
import type { WorkerSlot } from './assignment.ts';
import { EXTRA_WORKERS_MAX, WORKER_PIPELINE_DEPTH, WORKER_SHARED_TASKS_MAX } from './constants.ts';
import type { WorkerFactory } from './worker-endpoint.ts';
import { WorkerInbox } from './worker-inbox.ts';

export interface WorkerPoolDeps {
  readonly nodeId: NodeId;
  /** The session's job (the coordinator node's id), for `getRuntimeContext().jobId`. */
  readonly jobId: string;
  readonly ids: IdGenerator;
  readonly createWorker: WorkerFactory;
  /** A batch of messages from a worker, each checked field by field (worker-inbox.ts). */
  readonly onMessages: (w: WorkerSlot, batch: readonly FromWorker[]) => void;
  /** A worker died, failed to load, could not be sent to, or was cut off for malformed messages. */
  readonly onDied: (w: WorkerSlot, reason: string) => void;
}

export class WorkerPool {
  private readonly deps: WorkerPoolDeps;
  private readonly workers = new Set<WorkerSlot>();
  private readonly idle: WorkerSlot[] = [];
  private readonly actorWorkers = new Map<ActorId, WorkerSlot>();
  /** The code of every function this node was sent, loaded into a worker when it first runs there. */
  private readonly fns = new Map<FunctionId, FunctionDescriptor>();
  /** Where every worker's batches enter: checked, and malformed ones counted against their worker. */
  readonly inbox: WorkerInbox;

  constructor(deps: WorkerPoolDeps) {
    this.deps = deps;
    this.inbox = new WorkerInbox({ log: createLogger('webray:node', deps.nodeId), onMessages: deps.onMessages, onCutOff: deps.onDied });
  }

  get size(): number {
    return this.workers.size;
  }

  /** Starts `n` pooled workers ahead of need. */
  warm(n: number): void {
    for (let i = 0; i < n; i++) this.idle.push(this.spawn(null));
  }

  addFunction(desc: FunctionDescriptor): void {
    this.fns.set(desc.fnId, desc);
  }

  /** An idle pooled worker, preferring one that already has the function loaded. */
  takeIdle(fnId: FunctionId): WorkerSlot | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const w = this.idle[i]!;
      if (w.loaded.has(fnId)) {
        this.idle.splice(i, 1);
        return w;
      }
    }
    return this.idle.pop();
  }

  /** Puts a pooled worker whose lease ended back among the idle ones. */
  makeIdle(w: WorkerSlot): void {
    if (!w.dead) this.idle.push(w);
  }

  /** The CPUs of the tasks pooled workers run, not counting those blocked in get/wait. */
  cpusInUse(): number {
    let n = 0;
    for (const w of this.workers) if (!w.actorId && !w.dead && w.tasks.size > w.blockedTasks) n += w.cpu;
    return n;
  }

  /** A new pooled worker, unless the pool already has its CPUs' worth plus EXTRA_WORKERS_MAX. */
  spawnIfAllowed(cpus: number): WorkerSlot | undefined {
    let pooled = 0;
    for (const w of this.workers) if (!w.actorId) pooled++;
    if (pooled >= cpus + EXTRA_WORKERS_MAX) return undefined;
    return this.spawn(null);
  }

  /** A new worker: pooled (`actorId` null) or dedicated to an actor for its lifetime. */
  spawn(actorId: ActorId | null): WorkerSlot {
    const ep = this.deps.createWorker();
    const w: WorkerSlot = {
      flushNow: () => this.flush(w),
      id: this.deps.ids.workerId(),
      ep,
      loaded: new Set(),
      tasks: new Map(),
      shape: null,
      cpu: 0,
      blockedTasks: 0,
      actorId,
      outbox: [],
      transfer: [],
      flushQueued: false,
      dead: false,
    };
    this.workers.add(w);
    if (actorId !== null) this.actorWorkers.set(actorId, w);
    ep.listen(
      (batch) => this.inbox.push(w, batch),
      (reason) => this.deps.onDied(w, reason),
    );
    this.post(w, { type: 'init', workerId: w.id, nodeId: this.deps.nodeId, jobId: this.deps.jobId, idPrefix: `${this.deps.ids.prefix}${w.id}:` });
    return w;
  }

  actorWorker(actorId: ActorId): WorkerSlot | undefined {
    return this.actorWorkers.get(actorId);
  }

  /**
   * The least loaded pooled worker, leased for the same resource shape, that can queue one more
   * short task behind the one it runs (never a worker whose task is blocked in get/wait).
   */
  pipelineTarget(shape: string): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const w of this.workers) {
      if (w.actorId || w.dead || w.spent || w.blockedTasks > 0 || w.shape !== shape || w.tasks.size >= WORKER_PIPELINE_DEPTH) continue;
      if (!best || w.tasks.size < best.tasks.size) best = w;
    }
    return best;
  }

  /**
   * A pooled worker whose every task is blocked in get/wait, so it would sit idle: it may run one
   * more task meanwhile (up to WORKER_SHARED_TASKS_MAX in all), preferring one that has the
   * function loaded. A blocked task goes on when the worker is free again (worker/executor.ts).
   */
  takeParked(fnId: FunctionId, accept: (w: WorkerSlot) => boolean): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const w of this.workers) {
      if (!isParked(w) || !accept(w)) continue;
      if (w.loaded.has(fnId)) return w;
      best ??= w;
    }
    return best;
  }

  /** Sends the function's code to the worker unless it has it; false when this node never received it. */
  ensureLoaded(w: WorkerSlot, fnId: FunctionId): boolean {
    if (w.loaded.has(fnId)) return true;
    const desc = this.fns.get(fnId);
    if (!desc) return false;
    w.loaded.add(fnId);
    this.post(w, { type: 'load', desc });
    return true;
  }

  /**
   * Queues a message for the worker; everything queued in this microtask goes as one batch. With
   * `coalesce` (a task for a worker busy with others, which will not get to it at once), the batch
   * waits behind the events already queued here — the worker's own reports among them — so the
   * tasks they free go with it in one `postMessage` rather than one each.
   */
  post(w: WorkerSlot, msg: ToWorker, transfer?: Transferable[], coalesce = false): void {
    if (w.dead) return;
    w.outbox.push(msg);
    if (transfer) w.transfer.push(...transfer);
    if (!coalesce && w.flushQueued !== 'now') {
      w.flushQueued = 'now';
      queueMicrotask(w.flushNow);
    } else if (!w.flushQueued) {
      w.flushQueued = 'later';
      afterQueuedTasks(w.flushNow);
    }
  }

  private flush(w: WorkerSlot): void {
    w.flushQueued = false;
    if (w.dead || w.outbox.length === 0) return;
    const batch = w.outbox;
    const transfer = w.transfer;
    w.outbox = [];
    w.transfer = [];
    try {
      w.ep.post(batch, transfer);
    } catch (e) {
      this.deps.onDied(w, `could not send to the worker: ${(e as Error).message}`);
    }
  }

  /** Terminates a worker and takes it out of the pool (its tasks and lease are the caller's business). */
  remove(w: WorkerSlot): void {
    w.dead = true;
    w.ep.terminate();
    this.workers.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    if (w.actorId) this.actorWorkers.delete(w.actorId);
  }

  /** Terminates every worker. */
  stop(): void {
    for (const w of this.workers) {
      w.dead = true;
      w.ep.terminate();
    }
    this.workers.clear();
    this.idle.length = 0;
    this.actorWorkers.clear();
  }
}

/** Whether a pooled worker's tasks are all blocked, and it may take one more while they wait. */
export function isParked(w: WorkerSlot): boolean {
  return !w.actorId && !w.dead && !w.spent && w.tasks.size > 0 && w.blockedTasks === w.tasks.size && w.tasks.size < WORKER_SHARED_TASKS_MAX;
}
