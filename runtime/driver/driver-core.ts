// The Core of the program in the coordinator tab (Ray's driver CoreWorker): calls go straight
// to the coordinator in this tab — to the same handlers that answer a node's client requests
// (coordinator/client-handlers.ts), called in process; values are read inline, from this node's
// store, or pulled (node/get-objects.ts, the one `ray.get`).

import type { Core, GeneratorItem, RuntimeContext } from '../api/core.ts';
import { fromWireError, ObjectLostError } from '../api/errors.ts';
import { LocalRefs } from '../api/local-refs.ts';
import { seedOf } from '../api/task-seed.ts';
import { RequestFailure, type CoordinatorHandlers } from '../coordinator/client-handlers.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { INLINE_OBJECT_MAX_BYTES } from '../node/constants.ts';
import { getObjects } from '../node/get-objects.ts';
import type { Node } from '../node/node.ts';
import { DRIVER_HOLDER, type ActorId, type IdGenerator, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { ActorInfo, ActorListing, FunctionDescriptor, NodeInfo, ObjectListing, ResourceSet, SerializedObject, TaskInfo, TaskSpec, TaskState, TaskSummary, TraceEvent } from '../protocol/task-spec.ts';

export interface DriverCoreDeps {
  readonly ids: IdGenerator;
  readonly coordinator: Coordinator;
  readonly node: Node;
  readonly nodeId: NodeId;
  /** Fetches an object from the nodes that hold it (cluster mode). */
  readonly pull?: (id: ObjectId, from: readonly NodeId[]) => Promise<SerializedObject>;
  readonly onShutdown: () => Promise<void>;
}

const NEVER_ABORTED = new AbortController().signal;

export class DriverCore implements Core {
  readonly ids: IdGenerator;
  readonly callerId = DRIVER_HOLDER;
  readonly refs: LocalRefs;
  private readonly d: DriverCoreDeps;
  /** The coordinator's answers to client requests, called in process (the driver's node is the coordinator's own). */
  private readonly rpc: CoordinatorHandlers;

  constructor(deps: DriverCoreDeps) {
    this.d = deps;
    this.ids = deps.ids;
    this.rpc = deps.coordinator.clientHandlers(deps.nodeId, DRIVER_HOLDER);
    this.refs = new LocalRefs((update) => deps.coordinator.updateRefs(this.callerId, undefined, update));
  }

  currentTaskId(): TaskId | undefined {
    return undefined;
  }

  registerFunction(desc: FunctionDescriptor): void {
    this.rpc.register({ type: 'register', desc });
  }

  submitTask(spec: TaskSpec): void {
    for (const arg of spec.args) if (arg.kind === 'ref') this.checkKnown(arg.id);
    this.d.coordinator.submitTask(spec);
  }

  /** A ref kept across `shutdown()`/`init()` names an object this session never had: fail at once, never wait. */
  private checkKnown(id: ObjectId): void {
    if (!this.d.coordinator.hasObject(id)) {
      throw new ObjectLostError(
        `ObjectRef(${id}) does not belong to this session: ObjectRefs do not survive ray.shutdown(); make the object again after ray.init()`,
      );
    }
  }

  put(id: ObjectId, obj: SerializedObject): void {
    if (obj.size > INLINE_OBJECT_MAX_BYTES) {
      this.d.node.store.put(id, obj);
      this.d.coordinator.putObject(id, obj.size, undefined, this.d.nodeId, this.callerId, obj.refs);
    } else {
      this.d.coordinator.putObject(id, obj.size, obj, this.d.nodeId, this.callerId);
    }
  }

  async get(ids: readonly ObjectId[], timeoutMs: number | null): Promise<SerializedObject[]> {
    for (const id of ids) this.checkKnown(id);
    return getObjects(ids, timeoutMs, {
      // The coordinator's own `get` handler, as a node's request is answered, in process.
      locate: (ids, t) => inProcess(() => this.rpc.get({ type: 'get', ids, timeoutMs: t })),
      // A ready object with no copy anywhere fails in fetchObject; getObjects asks again where it is.
      fetch: (id, nodes, sha256) => this.d.node.store.get(id) ?? this.d.node.fetchObject(id, nodes, sha256),
    });
  }

  wait(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, fetchLocal: boolean): Promise<number[]> {
    try {
      for (const id of ids) this.checkKnown(id);
    } catch (e) {
      return Promise.reject(raised(e));
    }
    // fetchLocal (Ray's default): ready means pulled into this tab's node, not just made somewhere.
    return Promise.resolve(inProcess(() => this.rpc.wait({ type: 'wait', ids, numReturns, timeoutMs, fetchLocal })));
  }

  cancel(id: ObjectId, force: boolean, recursive: boolean): void {
    this.rpc.cancel({ type: 'cancel', id, force, recursive });
  }

  free(ids: readonly ObjectId[]): void {
    this.d.coordinator.free(ids);
  }

  killActor(actorId: ActorId, noRestart: boolean): void {
    this.rpc.kill({ type: 'kill', actorId, noRestart });
  }

  getActor(name: string, namespace?: string): Promise<ActorInfo> {
    try {
      return Promise.resolve(inProcess(() => this.rpc.getActor(namespace === undefined ? { type: 'getActor', name } : { type: 'getActor', name, namespace })));
    } catch (e) {
      return Promise.reject(raised(e));
    }
  }

  actorByName(name: string, namespace?: string): ActorInfo | undefined {
    return this.d.coordinator.handOutActor(name, namespace);
  }

  listNamedActors(): { actors: { name: string; namespace: string }[]; namespace: string } {
    return { actors: this.d.coordinator.listNamedActors(), namespace: this.d.coordinator.namespace };
  }

  actorNameTaken(name: string, namespace?: string): boolean {
    return this.d.coordinator.getActor(name, namespace) !== undefined;
  }

  generatorNext(taskId: TaskId, index: number): Promise<GeneratorItem> {
    return this.d.coordinator.generatorNext(taskId, index, this.callerId);
  }

  getGpuDevice(): Promise<unknown> {
    return Promise.reject(new Error('ray.getGpuDevice() is for code running inside a task or actor with numGpus > 0'));
  }

  runtimeContext(): RuntimeContext {
    return {
      nodeId: this.d.nodeId,
      taskId: null,
      actorId: null,
      workerId: null,
      signal: NEVER_ABORTED,
      isDriver: true,
      seed: seedOf(this.d.nodeId),
      jobId: this.d.nodeId,
      actorName: null,
      wasCurrentActorRestarted: false,
      assignedResources: {},
    };
  }

  nodes(): NodeInfo[] {
    return this.d.coordinator.nodeInfos();
  }

  clusterResources(): ResourceSet {
    return this.d.coordinator.clusterResources();
  }

  trustNode(nodeId: string): void {
    this.d.coordinator.trustNode(nodeId as NodeId);
  }

  availableResources(): ResourceSet {
    return this.d.coordinator.availableResources();
  }

  tasks(filter?: { state?: TaskState }): Promise<TaskInfo[]> {
    return Promise.resolve(this.rpc.tasks(filter?.state === undefined ? { type: 'tasks' } : { type: 'tasks', state: filter.state }));
  }

  timeline(): Promise<TraceEvent[]> {
    return Promise.resolve(this.rpc.timeline({ type: 'timeline' }));
  }

  actors(filter?: { state?: ActorListing['state'] }): Promise<ActorListing[]> {
    return Promise.resolve(this.d.coordinator.actorListings(filter?.state));
  }

  objects(): Promise<ObjectListing[]> {
    return Promise.resolve(this.d.coordinator.objectListings());
  }

  summary(): Promise<TaskSummary> {
    return Promise.resolve(this.d.coordinator.taskSummary());
  }

  shutdown(): Promise<void> {
    return this.d.onShutdown();
  }
}

/**
 * Runs a coordinator handler in process; a failure it answered (RequestFailure) is raised as the
 * error class a node's task code would see for it.
 */
function inProcess<T>(handler: () => T | Promise<T>): T | Promise<T> {
  let out: T | Promise<T>;
  try {
    out = handler();
  } catch (e) {
    throw raised(e);
  }
  return out instanceof Promise ? out.catch((e: unknown) => Promise.reject(raised(e))) : out;
}

function raised(e: unknown): Error {
  if (e instanceof RequestFailure) return fromWireError(e.wire);
  return e instanceof Error ? e : new Error(String(e));
}
