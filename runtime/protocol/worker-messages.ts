// Messages between a node and one of its Web Workers. Each postMessage carries an array of them,
// so a burst of small tasks costs one message event, not one per task.

import type { ActorId, FunctionId, NodeId, ObjectId, TaskId, WorkerId } from './ids.ts';
import type { ClientRequest, ClientRequestOf, ClusterView } from './client-requests.ts';
import type { CoordinatorRequests, RefUpdate } from './node-messages.ts';
import type { FunctionDescriptor, ResourceSet, SerializedObject } from './task-spec.ts';
import type { WireError } from './wire-error.ts';

export interface RunTask {
  readonly type: 'run';
  readonly taskId: TaskId;
  readonly fnId: FunctionId;
  readonly name: string;
  readonly args: readonly SerializedObject[];
  readonly numReturns: number | 'streaming';
  readonly backpressure: number;
  /** Actor method calls: the method's name. */
  readonly method?: string;
  /** Transfer result buffers back instead of copying (not for actor methods: the actor may keep them). */
  readonly transferResults: boolean;
  readonly gpu: boolean;
  /** What the task holds (`getRuntimeContext().assignedResources`). */
  readonly resources: ResourceSet;
  /** Sent to a worker whose every task is blocked in get/wait, to run while they wait. */
  readonly shared?: true;
}

export type ToWorker =
  | { readonly type: 'init'; readonly workerId: WorkerId; readonly nodeId: NodeId; readonly jobId: string; readonly idPrefix: string }
  | { readonly type: 'load'; readonly desc: FunctionDescriptor }
  | RunTask
  | {
      readonly type: 'create_actor';
      readonly actorId: ActorId;
      readonly taskId: TaskId;
      readonly fnId: FunctionId;
      readonly args: readonly SerializedObject[];
      readonly maxConcurrency: number;
      readonly gpu: boolean;
      /** What the actor holds while it lives. */
      readonly resources: ResourceSet;
      readonly actorName?: string;
      /** This instance is a restart of the actor. */
      readonly restarted: boolean;
    }
  | { readonly type: 'cancel'; readonly taskId: TaskId }
  /** The cluster view the coordinator sent with the next task (its code reads `ray.nodes()` & co.). */
  | { readonly type: 'view'; readonly view: ClusterView }
  | { readonly type: 'gen_ack'; readonly taskId: TaskId; readonly consumed: number }
  | { readonly type: 'reply'; readonly reqId: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly reqId: number; readonly ok: false; readonly error: WireError };

export type FromWorker =
  | {
      readonly type: 'done';
      readonly taskId: TaskId;
      readonly startMs: number;
      readonly endMs: number;
      /** How long its code held the worker (not counting its waits in get/wait): under 2 ms on average, its function may share a worker. */
      readonly heldMs?: number;
      readonly results?: readonly SerializedObject[];
      readonly error?: WireError;
    }
  | { readonly type: 'yield'; readonly taskId: TaskId; readonly index: number; readonly obj: SerializedObject }
  | { readonly type: 'actor_ready'; readonly actorId: ActorId; readonly taskId: TaskId; readonly startMs: number; readonly endMs: number; readonly error?: WireError }
  /** Pipelined tasks the worker had not started, handed back because its running task blocked. */
  | { readonly type: 'returned'; readonly taskIds: readonly TaskId[] }
  | {
      readonly type: 'request';
      readonly reqId: number;
      readonly taskId: TaskId | null;
      readonly req: ClientRequest;
      /**
       * A blocking request (get, wait, …): how long the task's code has held the worker so far. The
       * node learns from it whether a function's tasks hold their worker briefly before any ends.
       */
      readonly heldMs?: number;
    }
  /** ObjectRefs this worker started or stopped holding (see RefUpdate). */
  | ({ readonly type: 'refs' } & RefUpdate)
  /** Task code called close(): the worker is going away. */
  | { readonly type: 'exit'; readonly reason: string };

export type PutRequest = { readonly id: ObjectId; readonly obj: SerializedObject };

/**
 * Sent once to a worker, alone rather than in a batch, by the task-origin runner that created it
 * (isolated workers, runtime/node/isolated-workers.ts): from then on the worker exchanges its
 * batches with the node over the MessagePort in `event.ports[0]` instead of `self`.
 */
export interface WorkerPortHandover {
  readonly type: 'port';
}

/** The requests task code makes of its node: as the coordinator's, but `get` answers the values themselves. */
export interface NodeRequests extends Omit<CoordinatorRequests, 'get'> {
  readonly get: { readonly req: ClientRequestOf<'get'>; readonly reply: SerializedObject[] };
}
