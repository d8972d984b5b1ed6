// What a task is on the wire: Ray's TaskSpecification (src/ray/common/task/task_spec.h),
// reduced to what webray needs. Built by a driver, kept by the coordinator, run by a node.

import type { ActorId, FunctionId, HolderId, NodeId, ObjectId, TaskId } from './ids.ts';
import type { WireError } from './wire-error.ts';

/** Resource amounts by name: `CPU`, `GPU` and custom ones. */
export type ResourceSet = Readonly<Record<string, number>>;

/**
 * A value as it travels and is stored: structured-cloneable, with every ObjectRef, ActorHandle and
 * remote function inside replaced by a marker. `refs` lists the ObjectIds nested inside.
 */
export interface SerializedObject {
  /** The value (markers in place of handles when `m` is set). */
  readonly v: unknown;
  /** Set when `v` holds markers that must be revived into handles. */
  readonly m?: 1;
  /** ObjectIds nested inside `v`. */
  readonly refs?: readonly ObjectId[];
  /** Approximate size in bytes, for the object store and locality. */
  readonly size: number;
  /** Set when the object is an error: getting it raises this. */
  readonly err?: WireError;
}

export type FunctionKind = 'function' | 'generator' | 'async-generator' | 'class';

/** Code shipped by value, as Ray pickles a function: its source plus the `scope` it names. */
export interface FunctionDescriptor {
  readonly fnId: FunctionId;
  readonly kind: FunctionKind;
  readonly name: string;
  readonly source: string;
  /** `scope` entries: functions as source, everything else serialized. */
  readonly scope: readonly ScopeEntry[];
  /** The options the handle was defined with (without `scope`), for the self-reference handle. */
  readonly options: Readonly<Record<string, unknown>>;
}

export type ScopeEntry =
  | { readonly name: string; readonly kind: 'function'; readonly source: string }
  | { readonly name: string; readonly kind: 'value'; readonly value: SerializedObject };

export type TaskArg =
  | { readonly kind: 'value'; readonly obj: SerializedObject }
  | { readonly kind: 'ref'; readonly id: ObjectId };

export type SchedulingStrategy = 'DEFAULT' | 'SPREAD' | { readonly nodeId: NodeId; readonly soft: boolean };

export type TaskKind = TaskSpec['kind'];

/** What every task carries, whatever its kind. */
interface TaskSpecBase {
  readonly taskId: TaskId;
  readonly name: string;
  readonly args: readonly TaskArg[];
  /** Number of return objects, or 'streaming' for a generator. */
  readonly numReturns: number | 'streaming';
  /** Resources needed to place it (for actors: to place the actor). */
  readonly resources: ResourceSet;
  /** Resources held while it runs (for actors: for the actor's lifetime). */
  readonly heldResources?: ResourceSet;
  readonly maxRetries: number;
  readonly retryExceptions: boolean | readonly string[];
  readonly strategy: SchedulingStrategy;
  readonly enableTaskEvents: boolean;
  readonly generatorBackpressure: number;
  /** Normal tasks: an attempt still running this long after it started is stopped (TaskTimeoutError). */
  readonly timeoutMs?: number;
  /** Normal tasks: a worker that has run this many calls of the function is retired (a fresh one runs the next); absent: no limit. */
  readonly maxCalls?: number;
  /**
   * Verified results: run on this many distinct nodes and accept the majority result (by SHA-256
   * of its bytes). Absent for a single replica, the default; when present, at least 2 and at most
   * MAX_REPLICAS (limits.ts), and each node reports the hash of its results (TaskResult.sha256).
   */
  readonly replicas?: number;
  /** Verified results: run at most this many replicas in all when they disagree (≥ replicas). */
  readonly maxReplicas?: number;
  /** The task that submitted this one (for recursive cancel), if any. */
  readonly parentTaskId?: TaskId;
  /** Who submitted it: the driver or a worker; actor calls keep order per caller. */
  readonly callerId: HolderId;
}

/** A call of a remote function (Ray's NORMAL_TASK). */
export interface NormalTaskSpec extends TaskSpecBase {
  readonly kind: 'normal';
  readonly fnId: FunctionId;
}

/** Creates an actor: runs its class's constructor on the node it is placed on (ACTOR_CREATION_TASK). */
export interface ActorCreationTaskSpec extends TaskSpecBase {
  readonly kind: 'actor-creation';
  /** The actor's class. */
  readonly fnId: FunctionId;
  readonly actorId: ActorId;
  readonly actor: ActorCreationOptions;
}

/**
 * A method call on an actor (ACTOR_TASK). No function id: the actor's class was shipped with its
 * creation task, and the call runs on the actor's own worker.
 */
export interface ActorTaskSpec extends TaskSpecBase {
  readonly kind: 'actor-method';
  readonly actorId: ActorId;
  readonly method: string;
}

/** A task on the wire, by kind (Ray's TaskType). */
export type TaskSpec = NormalTaskSpec | ActorCreationTaskSpec | ActorTaskSpec;

/** The function a task runs, or undefined for an actor method call (its actor holds its code). */
export function functionIdOf(spec: TaskSpec): FunctionId | undefined {
  return spec.kind === 'actor-method' ? undefined : spec.fnId;
}

/** The actor a task creates or calls, or undefined for a normal task. */
export function actorIdOf(spec: TaskSpec): ActorId | undefined {
  return spec.kind === 'normal' ? undefined : spec.actorId;
}

export interface ActorCreationOptions {
  readonly className: string;
  readonly actorName?: string;
  /** The namespace `actorName` lives in, when given (otherwise the job's). */
  readonly namespace?: string;
  /** A live actor already has `actorName`: this creation becomes a handle to it (`getIfExists`). */
  readonly getIfExists?: true;
  /** `lifetime: 'detached'`: lives until `ray.kill` (or the session's end), not only while handles to it exist. */
  readonly detached?: true;
  readonly maxRestarts: number;
  readonly maxTaskRetries: number;
  readonly maxConcurrency: number;
  readonly methods: readonly string[];
  /** Methods that are generators: calls return an ObjectRefGenerator. */
  readonly streamingMethods: readonly string[];
}

/** Per-task-state names, as Ray's state API reports them. */
export type TaskState =
  | 'PENDING_ARGS_AVAIL'
  | 'PENDING_NODE_ASSIGNMENT'
  | 'SUBMITTED_TO_WORKER'
  | 'RUNNING'
  | 'FINISHED'
  | 'FAILED';

/** An actor as `ray.actors()` lists it (Ray's `ray.util.state.list_actors`). */
export interface ActorListing {
  readonly actorId: ActorId;
  readonly className: string;
  /** Its name and namespace, for a named actor. */
  readonly name: string | null;
  readonly namespace: string | null;
  readonly state: 'PENDING_CREATION' | 'ALIVE' | 'RESTARTING' | 'DEAD';
  /** The node it runs on (a replicated actor: its first replica's); null while it is placed, and once dead. */
  readonly nodeId: NodeId | null;
  readonly numRestarts: number;
  /** Why it died (`"Name: message"`), once dead. */
  readonly deathCause: string | null;
  /** Replicas asked for (1 unless created with `replicas`), the nodes they run on, and whether any was dropped. */
  readonly replicas: number;
  readonly replicaNodes: readonly NodeId[];
  readonly degraded: boolean;
}

/** An object as `ray.objects()` lists it (Ray's `ray.util.state.list_objects`). */
export interface ObjectListing {
  readonly objectId: ObjectId;
  /** Bytes, once known. */
  readonly size: number;
  /** PENDING: its task has not finished; FAILED: it holds an error. */
  readonly state: 'PENDING' | 'READY' | 'FAILED';
  /** Kept by the coordinator (small values and errors). */
  readonly inline: boolean;
  /** Nodes whose store holds a copy. */
  readonly locations: readonly NodeId[];
  /** What keeps it alive: holders of refs, objects it is nested in, tasks it is an argument of, lineage. */
  readonly references: number;
  /** Who holds refs to it: `driver`, and workers by id. */
  readonly holders: readonly string[];
}

/** `ray.summary()` (Ray's `ray summary tasks`): tasks by name, with their count in each state. */
export interface TaskSummary {
  readonly total: number;
  readonly byName: Readonly<Record<string, { readonly kind: TaskKind; readonly total: number; readonly states: Readonly<Partial<Record<TaskState, number>>> }>>;
}

export interface TaskInfo {
  readonly taskId: TaskId;
  readonly name: string;
  readonly kind: TaskKind;
  readonly state: TaskState;
  readonly nodeId: NodeId | null;
  readonly workerId: string | null;
  readonly actorId: ActorId | null;
  readonly attempts: number;
  readonly error: string | null;
  /** Why it is still pending, e.g. waiting for resources no node offers. */
  readonly pendingReason: string | null;
  readonly submittedAtMs: number;
  readonly startedAtMs: number | null;
  readonly endedAtMs: number | null;
}

export interface ObjectStoreStats {
  readonly memoryBytes: number;
  readonly spilledBytes: number;
  readonly objects: number;
  /** The node's `objectStoreMemory`: bytes kept in memory before spilling (0 until it reports). */
  readonly budgetBytes: number;
}

export interface NodeInfo {
  readonly nodeId: NodeId;
  readonly alive: boolean;
  readonly isCoordinator: boolean;
  readonly resources: ResourceSet;
  readonly available: ResourceSet;
  readonly objectStore: ObjectStoreStats;
  readonly gpuFallback: boolean;
  readonly runningTasks: number;
  /** What the volunteer called itself when joining (e.g. "Ana's laptop"). */
  readonly label?: string;
  /** Replicas of verified tasks it ran whose result agreed with the accepted majority. */
  readonly verified: number;
  /** Replicas of verified tasks it ran whose result disagreed with the accepted majority. */
  readonly mismatches: number;
  /** Dropped for too many mismatches: it gets no tasks and nothing it sends is taken. */
  readonly quarantined: boolean;
  /** The coordinator's own node, or one the driver vouched for with `ray.trustNode`. */
  readonly trusted: boolean;
}

export interface ActorInfo {
  readonly actorId: ActorId;
  readonly className: string;
  readonly methods: readonly string[];
  readonly streamingMethods: readonly string[];
  readonly name?: string;
  /** A named actor's namespace. */
  readonly namespace?: string;
  /**
   * The object every handle to the actor holds a ref to (its creation's result): while any handle
   * exists — in the driver, a worker, or inside a stored object — the actor lives; when none does,
   * a non-detached actor is terminated once its calls end. Given with `ray.getActor`.
   */
  readonly handleId?: ObjectId;
}

/** One Chrome trace event (Trace Event Format, 'X' complete events and metadata). */
export interface TraceEvent {
  readonly name: string;
  readonly cat: string;
  readonly ph: 'X' | 'M' | 'i';
  readonly ts: number;
  readonly dur?: number;
  readonly pid: string | number;
  readonly tid: string | number;
  readonly args?: Record<string, unknown>;
  readonly s?: 'g' | 'p' | 't';
}
