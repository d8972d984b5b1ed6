// The Core of the program in the coordinator tab (Ray's driver CoreWorker): calls go straight
// to the coordinator in this tab; values are read inline, from this node's store, or pulled.

import type { Core, GeneratorItem, RuntimeContext } from '../api/core.ts';
import { fromWireError, GetTimeoutError, ObjectLostError } from '../api/errors.ts';
import { LocalRefs } from '../api/local-refs.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { GET_REFETCH_DELAY_MS, GET_REFETCH_MAX, INLINE_OBJECT_MAX_BYTES } from '../node/constants.ts';
import type { Node } from '../node/node.ts';
import { DRIVER_HOLDER, type ActorId, type IdGenerator, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
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

  /** The value of a ready object, wherever it is: inline, in this node's memory, spilled here, or on another node. */
  private read(id: ObjectId): SerializedObject | Promise<SerializedObject> {
    const loc = this.d.coordinator.locate(id)!;
    if (loc.obj) return loc.obj;
    const local = this.d.node.store.get(id);
    if (local) return local;
    if (!this.d.node.store.has(id) && loc.nodes.length === 0) {
      throw new Error(`object ${id} is ready but no copy can be found`);
    }
    return this.d.node.fetchObject(id, loc.nodes);
  }

  /**
   * Reads an object again after a pull failed. The usual cause: its holder left mid-transfer, so the
   * coordinator has dropped that copy and is recomputing the object from lineage (or has marked it
   * lost): wait until it is ready again, then read it from wherever it now is.
   */
  private async reread(id: ObjectId, first: Promise<SerializedObject>, deadline: number | null): Promise<SerializedObject> {
    let pending = first;
    for (let attempt = 1; ; attempt++) {
      try {
        return await pending;
      } catch (e) {
        if (attempt > GET_REFETCH_MAX) throw e;
        await new Promise((r) => setTimeout(r, GET_REFETCH_DELAY_MS * attempt));
        const left = deadline === null ? null : Math.max(0, deadline - performance.now());
        if ((await this.d.coordinator.waitObjects([id], 1, left)).length === 0) {
          throw new GetTimeoutError(`ray.get timed out: object ${id} was being recomputed after its node left`);
        }
        pending = Promise.resolve().then(() => this.read(id));
      }
    }
  }

  async get(ids: readonly ObjectId[], timeoutMs: number | null): Promise<SerializedObject[]> {
    for (const id of ids) this.checkKnown(id);
    const deadline = timeoutMs === null ? null : performance.now() + timeoutMs;
    let allReady = true;
    for (const id of ids) {
      if (!this.d.coordinator.locate(id)) {
        allReady = false;
        break;
      }
    }
    if (!allReady) {
      const ready = await this.d.coordinator.waitObjects(ids, ids.length, timeoutMs, undefined, true);
      // Stopped early because one of them failed: raise that at once, as Ray's get does.
      const failed = ready.length < ids.length ? this.d.coordinator.firstError(ids) : undefined;
      if (failed) throw fromWireError(failed);
      if (ready.length < ids.length) {
        throw new GetTimeoutError(
          `ray.get timed out after ${timeoutMs} ms with ${ids.length - ready.length} of ${ids.length} object(s) not ready; the task(s) keep running`,
        );
      }
    }
    const out: (SerializedObject | Promise<SerializedObject>)[] = ids.map((id) => {
      const obj = this.read(id);
      return obj instanceof Promise ? this.reread(id, obj, deadline) : obj;
    });
    return out.some((o) => o instanceof Promise) ? Promise.all(out) : (out as SerializedObject[]);
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
