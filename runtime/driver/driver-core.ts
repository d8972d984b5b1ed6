// The Core of the program in the coordinator tab (Ray's driver CoreWorker): calls go straight
// to the coordinator in this tab; values are read inline, from this node's store, or pulled.

import type { Core, GeneratorItem, RuntimeContext } from '../api/core.ts';
import { fromWireError, GetTimeoutError, ObjectLostError } from '../api/errors.ts';
import { LocalRefs } from '../api/local-refs.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { INLINE_OBJECT_MAX_BYTES } from '../node/constants.ts';
import { getObjects } from '../node/get-objects.ts';
import type { Node } from '../node/node.ts';
import { DRIVER_HOLDER, type ActorId, type IdGenerator, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { ResolvedArg } from '../protocol/node-messages.ts';
import type { ActorInfo, FunctionDescriptor, NodeInfo, ResourceSet, SerializedObject, TaskInfo, TaskSpec, TaskState, TraceEvent } from '../protocol/task-spec.ts';

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

  constructor(deps: DriverCoreDeps) {
    this.d = deps;
    this.ids = deps.ids;
    this.refs = new LocalRefs((update) => deps.coordinator.updateRefs(this.callerId, undefined, update));
  }

  currentTaskId(): TaskId | undefined {
    return undefined;
  }

  registerFunction(desc: FunctionDescriptor): void {
    this.d.coordinator.registerFunction(desc);
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

  /** Where a ready object is: inline, or the nodes that hold it (this one's store included). */
  private located(id: ObjectId): ResolvedArg {
    const loc = this.d.coordinator.locate(id)!;
    return loc.obj ? { kind: 'inline', obj: loc.obj } : { kind: 'located', id, nodes: loc.nodes };
  }

  /** Where each object is once all are ready (the coordinator's answer to a node's `get`, in process). */
  private locate(ids: readonly ObjectId[], timeoutMs: number | null): ResolvedArg[] | Promise<ResolvedArg[]> {
    if (ids.every((id) => this.d.coordinator.locate(id))) return ids.map((id) => this.located(id));
    return this.d.coordinator.waitObjects(ids, ids.length, timeoutMs, undefined, true).then((ready) => {
      // Stopped early because one of them failed: raise that at once, as Ray's get does.
      const failed = ready.length < ids.length ? this.d.coordinator.firstError(ids) : undefined;
      if (failed) throw fromWireError(failed);
      if (ready.length < ids.length) {
        throw new GetTimeoutError(
          `ray.get timed out after ${timeoutMs} ms with ${ids.length - ready.length} of ${ids.length} object(s) not ready; the task(s) keep running`,
        );
      }
      return ids.map((id) => this.located(id));
    });
  }

  async get(ids: readonly ObjectId[], timeoutMs: number | null): Promise<SerializedObject[]> {
    for (const id of ids) this.checkKnown(id);
    return getObjects(ids, timeoutMs, {
      locate: (ids, t) => this.locate(ids, t),
      // A ready object with no copy anywhere fails in fetchObject; getObjects asks again where it is.
      fetch: (id, nodes) => this.d.node.store.get(id) ?? this.d.node.fetchObject(id, nodes),
    });
  }

  wait(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, fetchLocal: boolean): Promise<number[]> {
    try {
      for (const id of ids) this.checkKnown(id);
    } catch (e) {
      return Promise.reject(e);
    }
    // fetchLocal (Ray's default): ready means pulled into this tab's node, not just made somewhere.
    return this.d.coordinator.waitObjects(ids, numReturns, timeoutMs, fetchLocal ? this.d.nodeId : undefined);
  }

  cancel(id: ObjectId, force: boolean, recursive: boolean): void {
    this.d.coordinator.cancel(id, force, recursive);
  }

  killActor(actorId: ActorId, noRestart: boolean): void {
    this.d.coordinator.killActor(actorId, noRestart);
  }

  getActor(name: string): Promise<ActorInfo> {
    const info = this.d.coordinator.getActor(name);
    return info ? Promise.resolve(info) : Promise.reject(new Error(`ray.getActor: no live actor is named "${name}"`));
  }

  actorNameTaken(name: string): boolean {
    return this.d.coordinator.getActor(name) !== undefined;
  }

  generatorNext(taskId: TaskId, index: number): Promise<GeneratorItem> {
    return this.d.coordinator.generatorNext(taskId, index, this.callerId);
  }

  getGpuDevice(): Promise<unknown> {
    return Promise.reject(new Error('ray.getGpuDevice() is for code running inside a task or actor with numGpus > 0'));
  }

  runtimeContext(): RuntimeContext {
    return { nodeId: this.d.nodeId, taskId: null, actorId: null, workerId: null, signal: NEVER_ABORTED, isDriver: true };
  }

  nodes(): NodeInfo[] {
    return this.d.coordinator.nodeInfos();
  }

  clusterResources(): ResourceSet {
    return this.d.coordinator.clusterResources();
  }

  availableResources(): ResourceSet {
    return this.d.coordinator.availableResources();
  }

  tasks(filter?: { state?: TaskState }): Promise<TaskInfo[]> {
    return Promise.resolve(this.d.coordinator.taskInfos(filter?.state));
  }

  timeline(): Promise<TraceEvent[]> {
    return Promise.resolve(this.d.coordinator.timeline());
  }

  shutdown(): Promise<void> {
    return this.d.onShutdown();
  }
}
