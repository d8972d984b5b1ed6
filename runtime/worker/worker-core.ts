// The Core of code running inside a Web Worker: every call goes to the node as a request
// (fire-and-forget for submit/put, awaited for get/wait/...), batched per microtask.

import type { Core, GeneratorItem, RuntimeContext } from '../api/core.ts';
import { fromWireError } from '../api/errors.ts';
import { LocalRefs } from '../api/local-refs.ts';
import { holderOfWorker, IdGenerator, type ActorId, type HolderId, type NodeId, type ObjectId, type TaskId, type WorkerId } from '../protocol/ids.ts';
import type { ClientRequest } from '../protocol/client-requests.ts';
import type { ActorInfo, FunctionDescriptor, NodeInfo, ResourceSet, SerializedObject, TaskInfo, TaskSpec, TaskState, TraceEvent } from '../protocol/task-spec.ts';
import type { FromWorker } from '../protocol/worker-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';

export interface CurrentTask {
  readonly taskId: TaskId | null;
  readonly actorId: ActorId | null;
  readonly signal: AbortSignal;
  readonly gpu: boolean;
}

export interface WorkerCoreDeps {
  readonly workerId: WorkerId;
  readonly nodeId: NodeId;
  readonly idPrefix: string;
  readonly post: (msg: FromWorker) => void;
  readonly current: () => CurrentTask;
  /** Called before a blocking request: the executor hands back tasks queued behind the current one. */
  readonly onBlock: () => void;
  /** Called when a blocking request has its answer. */
  readonly onUnblock: () => void;
}

interface ClusterView {
  nodes: NodeInfo[];
  total: ResourceSet;
  available: ResourceSet;
}

export class WorkerCore implements Core {
  readonly ids: IdGenerator;
  readonly callerId: HolderId;
  readonly refs: LocalRefs;
  private readonly deps: WorkerCoreDeps;
  private readonly registered = new Set<string>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; blocking: boolean }>();
  private nextReqId = 1;
  private view: ClusterView = { nodes: [], total: {}, available: {} };
  private gpuDevice: Promise<unknown> | undefined;

  constructor(deps: WorkerCoreDeps) {
    this.deps = deps;
    this.ids = new IdGenerator(deps.idPrefix);
    this.callerId = holderOfWorker(deps.workerId);
    this.refs = new LocalRefs((update) => this.deps.post({ type: 'refs', ...update }));
  }

  currentTaskId(): TaskId | undefined {
    return this.deps.current().taskId ?? undefined;
  }

  private notify(req: ClientRequest): void {
    this.deps.post({ type: 'request', reqId: -1, taskId: this.deps.current().taskId, req });
  }

  private request<T>(req: ClientRequest, blocking = false): Promise<T> {
    if (blocking) this.deps.onBlock();
    const reqId = this.nextReqId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(reqId, { resolve: resolve as (v: unknown) => void, reject, blocking });
      this.deps.post({ type: 'request', reqId, taskId: this.deps.current().taskId, req });
    });
  }

  onReply(reqId: number, ok: boolean, value: unknown, error: WireError | undefined): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    if (p.blocking) this.deps.onUnblock();
    if (ok) p.resolve(value);
    else p.reject(fromWireError(error!));
  }

  registerFunction(desc: FunctionDescriptor): void {
    if (this.registered.has(desc.fnId)) return;
    this.registered.add(desc.fnId);
    this.notify({ type: 'register', desc });
  }

  submitTask(spec: TaskSpec): void {
    this.notify({ type: 'submit', spec });
  }

  put(id: ObjectId, obj: SerializedObject): void {
    this.notify({ type: 'put', id, obj });
  }

  get(ids: readonly ObjectId[], timeoutMs: number | null): Promise<SerializedObject[]> {
    return this.request({ type: 'get', ids, timeoutMs }, true);
  }

  wait(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, fetchLocal: boolean): Promise<number[]> {
    return this.request({ type: 'wait', ids, numReturns, timeoutMs, fetchLocal }, true);
  }

  cancel(id: ObjectId, force: boolean, recursive: boolean): void {
    this.notify({ type: 'cancel', id, force, recursive });
  }

  killActor(actorId: ActorId, noRestart: boolean): void {
    this.notify({ type: 'kill', actorId, noRestart });
  }

  getActor(name: string): Promise<ActorInfo> {
    return this.request({ type: 'getActor', name });
  }

  actorNameTaken(): boolean {
    return false;
  }

  generatorNext(taskId: TaskId, index: number): Promise<GeneratorItem> {
    return this.request({ type: 'generatorNext', taskId, index }, true);
  }

  getGpuDevice(): Promise<unknown> {
    const cur = this.deps.current();
    if (!cur.gpu) {
      return Promise.reject(
        new Error('ray.getGpuDevice(): this task asked for no GPU; give it numGpus: 1 (or a fraction) to get a WebGPU device'),
      );
    }
    this.gpuDevice ??= (async () => {
      const gpu = (navigator as { gpu?: GPU }).gpu; // WorkerNavigator; optional: WebGPU may be missing
      if (!gpu) throw new Error('ray.getGpuDevice(): WebGPU is not available in this worker (navigator.gpu is missing)');
      const adapter = await gpu.requestAdapter();
      if (!adapter) throw new Error('ray.getGpuDevice(): no WebGPU adapter is available on this node');
      return adapter.requestDevice();
    })();
    return this.gpuDevice;
  }

  runtimeContext(): RuntimeContext {
    const cur = this.deps.current();
    return {
      nodeId: this.deps.nodeId,
      taskId: cur.taskId,
      actorId: cur.actorId,
      workerId: this.deps.workerId,
      signal: cur.signal,
      isDriver: false,
    };
  }

  private refreshView(): void {
    void this.request<ClusterView>({ type: 'clusterView' }).then((v) => (this.view = v), () => {});
  }

  nodes(): NodeInfo[] {
    this.refreshView();
    return this.view.nodes;
  }

  clusterResources(): ResourceSet {
    this.refreshView();
    return this.view.total;
  }

  availableResources(): ResourceSet {
    this.refreshView();
    return this.view.available;
  }

  tasks(filter?: { state?: TaskState }): Promise<TaskInfo[]> {
    return this.request(filter?.state ? { type: 'tasks', state: filter.state } : { type: 'tasks' });
  }

  timeline(): Promise<TraceEvent[]> {
    return this.request({ type: 'timeline' });
  }

  shutdown(): Promise<void> {
    return Promise.reject(new Error('ray.shutdown() cannot be called from inside a task'));
  }
}
