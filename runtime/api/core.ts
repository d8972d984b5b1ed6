// The narrow interface the public API calls into: Ray's CoreWorker. One implementation serves the
// program in a tab (driver/driver-core.ts), another serves task code inside a Web Worker
// (worker/worker-core.ts). The composition root (index.ts, or the worker entry) installs it.

import type { ActorId, FunctionId, HolderId, IdGenerator, NodeId, ObjectId, TaskId, WorkerId } from '../protocol/ids.ts';
import type { GeneratorItem } from '../protocol/client-requests.ts';
import type { LocalRefs } from './local-refs.ts';
import type {
  ActorListing,
  ObjectListing,
  TaskSummary,
  ActorInfo,
  FunctionDescriptor,
  NodeInfo,
  ResourceSet,
  SerializedObject,
  TaskInfo,
  TaskSpec,
  TaskState,
  TraceEvent,
} from '../protocol/task-spec.ts';

export interface RuntimeContext {
  readonly nodeId: NodeId | null;
  readonly taskId: TaskId | null;
  readonly actorId: ActorId | null;
  readonly workerId: WorkerId | null;
  /** Aborted when the current task is cancelled. */
  readonly signal: AbortSignal;
  /** True in the coordinator tab's driver. */
  readonly isDriver: boolean;
  /**
   * A 32-bit unsigned integer derived from the task id (api/task-seed.ts): the same for every
   * replica and retry of a task, different across tasks; seed task randomness with it. In the
   * driver (no task) it is derived from the driver's node id: fixed for the session.
   */
  readonly seed: number;
  /** The session's job: the coordinator node's id (one job per `init`), the same in the driver and every task. */
  readonly jobId: string;
  /** In a named actor (its constructor and methods), its name; otherwise null. */
  readonly actorName: string | null;
  /** In an actor, whether this instance is a restart (after its worker died or its node left, within maxRestarts). */
  readonly wasCurrentActorRestarted: boolean;
  /** The resources the current task (or the actor, in its methods) holds: `{ CPU: 1 }` for a default task; `{}` in the driver. */
  readonly assignedResources: ResourceSet;
}

/** What the next item of a streaming generator is (protocol/client-requests.ts). */
export type { GeneratorItem };

export interface Core {
  readonly ids: IdGenerator;
  /** The ObjectRefs this process holds, reported to the coordinator (reference counting). */
  readonly refs?: LocalRefs;
  /** Id of this caller (driver or worker), for per-caller actor call ordering. */
  readonly callerId: HolderId;
  /** The task this core is running now, if inside a task. */
  currentTaskId(): TaskId | undefined;

  registerFunction(desc: FunctionDescriptor): void;
  submitTask(spec: TaskSpec): void;
  put(id: ObjectId, obj: SerializedObject): void;
  /** Resolves with each object (error objects included) or rejects with a GetTimeoutError. */
  get(ids: readonly ObjectId[], timeoutMs: number | null): Promise<SerializedObject[]>;
  /** Resolves with the indexes of ready objects, at most `numReturns`, once that many are ready or on timeout. */
  wait(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, fetchLocal: boolean): Promise<number[]>;
  cancel(id: ObjectId, force: boolean, recursive: boolean): void;
  killActor(actorId: ActorId, noRestart: boolean): void;
  /** `ray.free`: the driver's power; task code is refused. */
  free(ids: readonly ObjectId[]): void;
  /** Rejects when no live actor has that name (in `namespace`; default: the job's). */
  getActor(name: string, namespace?: string): Promise<ActorInfo>;
  /** Synchronously true when a live actor already has that name (driver only; a worker says false). */
  actorNameTaken(name: string, namespace?: string): boolean;
  /** The live actor with that name, when known synchronously (the driver's; a worker says undefined). */
  actorByName(name: string, namespace?: string): ActorInfo | undefined;
  /** The live named actors and their namespaces, and the job's namespace (the driver's). */
  listNamedActors(): { readonly actors: { name: string; namespace: string }[]; readonly namespace: string };
  generatorNext(taskId: TaskId, index: number): Promise<GeneratorItem>;
  getGpuDevice(): Promise<unknown>;

  runtimeContext(): RuntimeContext;
  nodes(): NodeInfo[];
  clusterResources(): ResourceSet;
  availableResources(): ResourceSet;
  /** `ray.trustNode`: the driver's power; task code is refused. */
  trustNode(nodeId: string): void;
  tasks(filter?: { state?: TaskState }): Promise<TaskInfo[]>;
  timeline(): Promise<TraceEvent[]>;
  /** The state API (`ray.actors`, `ray.objects`, `ray.summary`): the driver's; task code is refused. */
  actors(filter?: { state?: ActorListing['state'] }): Promise<ActorListing[]>;
  objects(): Promise<ObjectListing[]>;
  summary(): Promise<TaskSummary>;
  shutdown(): Promise<void>;
}

let current: Core | undefined;
/**
 * Where a test running several workers in one process finds the Core of the task code running now
 * (testing/in-process-worker.fixture.ts); a browser worker or page has one Core and no resolver.
 */
let resolve: (() => Core | undefined) | undefined;

/** Installed by the composition root; cleared on shutdown. */
export function setCore(core: Core | undefined): void {
  current = core;
}

/** For tests only: `resolver` names the Core of the code running now, before the installed one. */
export function setCoreResolver(resolver: (() => Core | undefined) | undefined): void {
  resolve = resolver;
}

export function currentCore(): Core | undefined {
  return resolve?.() ?? current;
}

export function requireCore(what: string): Core {
  const core = currentCore();
  if (!core) {
    throw new Error(`${what} needs a running webray: call \`await ray.init()\` first (or \`ray.join(...)\` on a volunteer page)`);
  }
  return core;
}

export type { FunctionId };
