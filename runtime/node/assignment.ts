// The node's two records, shared by its parts: a task assigned to this node (its arguments and the
// worker it runs on) and a worker slot (one Web Worker of the pool and the tasks sent to it).

import type { ClusterView } from '../protocol/client-requests.ts';
import type { ActorId, FunctionId, ObjectId, TaskId, WorkerId } from '../protocol/ids.ts';
import type { SerializedObject, TaskSpec } from '../protocol/task-spec.ts';
import type { ToWorker } from '../protocol/worker-messages.ts';
import type { WorkerEndpoint } from './worker-endpoint.ts';

/** A task assigned to this node, its arguments resolved. */
export interface Assignment {
  readonly spec: TaskSpec;
  readonly attempt: number;
  /** The coordinator holds resources for it on this node (false: pipelined behind other tasks). */
  reserved: boolean;
  /** Pipelined and waiting here without a worker, and the coordinator was told so (`tasks_waiting`). */
  reportedWaiting?: true;
  args: SerializedObject[] | undefined;
  /** Arguments held in this node's store, pinned (kept in memory) until the task ends. */
  pinned: ObjectId[] | undefined;
  worker: WorkerSlot | undefined;
  /** Its blocking calls (get/wait) not answered yet: while any is, its CPU is lent back. */
  blocked: number;
  /** Sent to a worker that starts it on receipt (idle, or `shared`), or it made a blocking call there: it had started (see Node.retire). */
  started?: true;
  /** Requeued once without spending an attempt: its shared worker died while it was blocked (Node.retire). */
  spared?: true;
  /** The cluster view its run_task carried (its code reads it): handed to its worker with the task. */
  view?: ClusterView;
  cancelTimer?: ReturnType<typeof setTimeout>;
}

export interface WorkerSlot {
  readonly id: WorkerId;
  readonly ep: WorkerEndpoint;
  readonly loaded: Set<FunctionId>;
  /** Tasks sent to it and not finished, in the order sent. */
  readonly tasks: Map<TaskId, Assignment>;
  /** The resource shape of the task it took while idle, which tasks pipelined behind it share (null when idle). */
  shape: string | null;
  /** The CPUs of that task (0 when idle). */
  cpu: number;
  /** Its tasks with a blocking call (get/wait) outstanding. When all are, it may take another (`shared`). */
  blockedTasks: number;
  readonly actorId: ActorId | null;
  outbox: ToWorker[];
  transfer: Transferable[];
  /** A flush is queued: in this microtask ('now') or behind the events already queued ('later'). */
  flushQueued: false | 'now' | 'later';
  /** `flush` bound to this slot, queued as a microtask without a closure per message. */
  flushNow: () => void;
  dead: boolean;
  /** Calls sent to it per function with `maxCalls`. */
  calls?: Map<FunctionId, number>;
  /** It was sent the last call `maxCalls` allows: it takes no more tasks, and is retired once they end. */
  spent?: true;
}
