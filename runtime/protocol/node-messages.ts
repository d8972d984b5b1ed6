// The control plane between the coordinator and a node (Ray's GCS/scheduler ⇄ raylet RPCs):
// in local mode an in-memory channel, in cluster mode a WebRTC data channel.

import type { ActorId, HolderId, NodeId, ObjectId, TaskId, WorkerId } from './ids.ts';
import type { ClientRequest, ClientRequestOf, ClusterView, GeneratorItem } from './client-requests.ts';
import type { ActorInfo, FunctionDescriptor, SerializedObject, TaskInfo, TaskSpec, TraceEvent } from './task-spec.ts';
import type { WireError } from './wire-error.ts';

/** A resolved task argument: the value inline, or where to pull it from. */
export type ResolvedArg =
  | { readonly kind: 'inline'; readonly obj: SerializedObject }
  /**
   * Kept on `nodes`. `sha256`: the agreed hash of a verified task's result (replicas.ts); a puller
   * takes a copy only if its bytes match it.
   */
  | { readonly kind: 'located'; readonly id: ObjectId; readonly nodes: readonly NodeId[]; readonly sha256?: string };

export type CoordinatorToNode =
  | {
      readonly type: 'run_task';
      readonly spec: TaskSpec;
      readonly attempt: number;
      readonly args: readonly ResolvedArg[];
      /** Present the first time this node sees the function. */
      readonly fn?: FunctionDescriptor;
      /**
       * The coordinator holds no resources for it on this node: a short task to queue behind a busy
       * worker of its resource shape (or run on an idle one), never on a worker of its own.
       */
      readonly pipelined?: true;
      /**
       * The cluster as the coordinator sees it when it sends the task, for task code that reads
       * `ray.nodes()`, `clusterResources()` or `availableResources()` (sent only when its source
       * names one of them), so that they answer from a fresh view from the first call.
       */
      readonly view?: ClusterView;
    }
  /**
   * The coordinator now holds resources for a pipelined task this node reported waiting
   * (`tasks_waiting`): start it, on a new worker if no idle one is free.
   */
  | { readonly type: 'start_task'; readonly taskId: TaskId }
  | { readonly type: 'cancel_task'; readonly taskId: TaskId; readonly force: boolean }
  | { readonly type: 'kill_actor'; readonly actorId: ActorId }
  | { readonly type: 'generator_ack'; readonly taskId: TaskId; readonly consumed: number }
  /** Pull these objects into this node's store (`ray.wait` with fetchLocal); answered by `object_located`. */
  | { readonly type: 'fetch_objects'; readonly objects: readonly { readonly id: ObjectId; readonly nodes: readonly NodeId[]; readonly sha256?: string }[] }
  /**
   * `puller` was told this node holds these objects: answer one pull of each from it (a node
   * answers a pull only from a member the coordinator told it to expect).
   */
  | { readonly type: 'expect_pulls'; readonly puller: NodeId; readonly ids: readonly ObjectId[] }
  /** No ObjectRef to these objects is reachable anywhere: drop them from memory and the spill store. */
  | { readonly type: 'free_objects'; readonly ids: readonly ObjectId[] }
  | { readonly type: 'client_reply'; readonly reqId: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'client_reply'; readonly reqId: number; readonly ok: false; readonly error: WireError };

/** One return object of a finished task: inline when small, else only its size (it stays on the node). */
export interface TaskResult {
  readonly id: ObjectId;
  readonly size: number;
  readonly obj?: SerializedObject;
  /** ObjectIds nested inside it (kept alive while it lives), when it is not inline. */
  readonly refs?: readonly ObjectId[];
  /**
   * Verified tasks only (`spec.replicas > 1`): the hex SHA-256 of the result's canonical bytes
   * (protocol/result-hash.ts), compared across replicas. Absent otherwise.
   */
  readonly sha256?: string;
}

/**
 * Changes to the ObjectRefs one holder (the driver, or a worker: its id) keeps reachable (Ray's
 * borrower reports): refs it now holds that the coordinator did not count yet, refs it no longer
 * holds, streaming generators it dropped (their unconsumed items go), or `gone` when it died.
 */
export interface RefUpdate {
  readonly add?: readonly ObjectId[];
  readonly release?: readonly ObjectId[];
  readonly generators?: readonly TaskId[];
  readonly gone?: true;
}

export type NodeToCoordinator =
  | { readonly type: 'task_started'; readonly taskId: TaskId; readonly workerId: WorkerId; readonly atMs: number }
  | {
      readonly type: 'task_done';
      readonly taskId: TaskId;
      readonly attempt: number;
      readonly workerId: WorkerId | null;
      readonly startMs: number;
      readonly endMs: number;
      readonly results?: readonly TaskResult[];
      readonly error?: WireError;
      /** The failure was the system's (worker died, node left), not the task's own exception. */
      readonly systemFailure?: boolean;
    }
  | { readonly type: 'generator_item'; readonly taskId: TaskId; readonly attempt: number; readonly index: number; readonly result: TaskResult }
  | { readonly type: 'actor_died'; readonly actorId: ActorId; readonly error: WireError }
  | { readonly type: 'task_blocked'; readonly taskId: TaskId }
  | { readonly type: 'task_unblocked'; readonly taskId: TaskId }
  /**
   * Pipelined tasks waiting on this node without a worker — no busy worker of their shape could
   * take them, or the one they were queued behind blocked in get/wait and handed them back — until
   * the coordinator gives them resources (`start_task`) or a worker of the node goes idle.
   */
  | { readonly type: 'tasks_waiting'; readonly taskIds: readonly TaskId[] }
  | {
      readonly type: 'object_put';
      readonly id: ObjectId;
      readonly size: number;
      readonly obj?: SerializedObject;
      /** The worker that put it (it holds the ref). */
      readonly holder?: HolderId;
      /** ObjectIds nested inside it, when it is not inline. */
      readonly refs?: readonly ObjectId[];
    }
  | {
      readonly type: 'client_request';
      readonly reqId: number;
      readonly taskId: TaskId | null;
      readonly req: ClientRequest;
      /** The worker that made the request (refs it gets are counted as its own). */
      readonly holder?: HolderId;
    }
  | ({ readonly type: 'refs'; readonly holder: HolderId } & RefUpdate)
  /** This node now keeps a copy of the object too (it pulled it), or, `failed`, could not get one it was asked to fetch. */
  | { readonly type: 'object_located'; readonly id: ObjectId; readonly failed?: true }
  | {
      readonly type: 'node_stats';
      readonly memoryBytes: number;
      readonly spilledBytes: number;
      readonly objects: number;
      /** The node's objectStoreMemory (absent from nodes of an older build). */
      readonly budgetBytes?: number;
    };

/**
 * The requests the coordinator answers (a node forwarding its task code's calls, common/rpc.ts),
 * each with its reply: `get` answers where each object is, once all are ready.
 */
export interface CoordinatorRequests {
  readonly get: { readonly req: ClientRequestOf<'get'>; readonly reply: ResolvedArg[] };
  readonly wait: { readonly req: ClientRequestOf<'wait'>; readonly reply: number[] };
  readonly getActor: { readonly req: ClientRequestOf<'getActor'>; readonly reply: ActorInfo };
  readonly generatorNext: { readonly req: ClientRequestOf<'generatorNext'>; readonly reply: GeneratorItem };
  readonly tasks: { readonly req: ClientRequestOf<'tasks'>; readonly reply: TaskInfo[] };
  readonly timeline: { readonly req: ClientRequestOf<'timeline'>; readonly reply: TraceEvent[] };
  readonly clusterView: { readonly req: ClientRequestOf<'clusterView'>; readonly reply: ClusterView };
}
