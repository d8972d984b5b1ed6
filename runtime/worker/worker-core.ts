// The Core of code running inside a Web Worker: every call goes to the node as a request
// (fire-and-forget for submit/put, awaited for get/wait/...), batched per microtask.

import type { Core, GeneratorItem, RuntimeContext } from '../api/core.ts';
import { fromWireError } from '../api/errors.ts';
import { LocalRefs } from '../api/local-refs.ts';
import { seedOf } from '../api/task-seed.ts';
import { RpcCaller, type CallOptions, type RpcReply, type RpcRequest } from '../common/rpc.ts';
import { holderOfWorker, IdGenerator, type ActorId, type HolderId, type NodeId, type ObjectId, type TaskId, type WorkerId } from '../protocol/ids.ts';
import type { ClientNotification, ClusterView } from '../protocol/client-requests.ts';
import type { ActorInfo, ActorListing, FunctionDescriptor, NodeInfo, ObjectListing, ResourceSet, SerializedObject, TaskInfo, TaskSpec, TaskState, TaskSummary, TraceEvent } from '../protocol/task-spec.ts';
import type { FromWorker, NodeRequests } from '../protocol/worker-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';

export interface CurrentTask {
  readonly taskId: TaskId | null;
  readonly actorId: ActorId | null;
  readonly signal: AbortSignal;
  readonly gpu: boolean;
  /** What the task holds (in an actor: what the actor holds). */
  readonly resources: ResourceSet;
  /** The actor's name, and whether this instance is a restart. */
  readonly actorName?: string;
  readonly restarted?: boolean;
}

export interface WorkerCoreDeps {
  readonly workerId: WorkerId;
  readonly nodeId: NodeId;
  /** The session's job (the coordinator node's id). */
  readonly jobId: string;
  readonly idPrefix: string;
  readonly post: (msg: FromWorker) => void;
  readonly current: () => CurrentTask;
  /**
   * Called before a blocking request of task `taskId`: the worker may run another task meanwhile.
   * Returns how long the task's code has held the worker so far, sent with the request.
   */
  readonly onBlock: (taskId: TaskId | null) => number | undefined;
  /** A blocking request of task `taskId` has its answer (`failed`: an error); `settle` hands it over (when the task may go on). */
  readonly onUnblock: (taskId: TaskId | null, settle: () => void, failed: boolean) => void;
}

/** Who a request is from: the task whose code made it, and (a blocking one) how long that code has held the worker. */
interface Caller {
  readonly taskId: TaskId | null;
  readonly heldMs?: number | undefined;
}

export class WorkerCore implements Core {
  readonly ids: IdGenerator;
  readonly callerId: HolderId;
  readonly refs: LocalRefs;
  private readonly deps: WorkerCoreDeps;
  private readonly registered = new Set<string>();
  /** Requests to the node; a notification goes with reqId -1 and is never answered. */
  private readonly rpc: RpcCaller<NodeRequests, ClientNotification, Caller>;
  private view: ClusterView = { nodes: [], total: {}, available: {} };
  private gpuDevice: Promise<unknown> | undefined;

  constructor(deps: WorkerCoreDeps) {
    this.deps = deps;
    this.ids = new IdGenerator(deps.idPrefix);
    this.callerId = holderOfWorker(deps.workerId);
    this.refs = new LocalRefs((update) => this.deps.post({ type: 'refs', ...update }));
    this.rpc = new RpcCaller({
      callee: `node ${deps.nodeId}`,
      send: (req, reqId, c) =>
        this.deps.post(c.heldMs === undefined ? { type: 'request', reqId: reqId ?? -1, taskId: c.taskId, req } : { type: 'request', reqId: reqId ?? -1, taskId: c.taskId, req, heldMs: c.heldMs }),
    });
  }

  currentTaskId(): TaskId | undefined {
    return this.deps.current().taskId ?? undefined;
  }

  private notify(req: ClientNotification): void {
    this.rpc.notify(req, { taskId: this.deps.current().taskId });
  }

  private request<R extends RpcRequest<NodeRequests>>(req: R, options?: CallOptions): Promise<RpcReply<NodeRequests, R>> {
    return this.rpc.call(req, { taskId: this.deps.current().taskId }, options);
  }

  /**
   * A request that waits on other work: the executor is told the task blocks, and its reply is
   * handed over when the executor lets the task go on (another task may hold the worker then).
   */
  private blockingRequest<R extends RpcRequest<NodeRequests>>(req: R): Promise<RpcReply<NodeRequests, R>> {
    const taskId = this.deps.current().taskId;
    const heldMs = this.deps.onBlock(taskId);
    return new Promise((resolve, reject) => {
      this.rpc.call(req, { taskId, heldMs }).then(
        (value) => this.deps.onUnblock(taskId, () => resolve(value), false),
        (e: unknown) => this.deps.onUnblock(taskId, () => reject(e), true),
      );
    });
  }

  /** The node's answer to request `reqId`. */
  onReply(reqId: number, ok: boolean, value: unknown, error: WireError | undefined): void {
    this.rpc.settle(reqId, ok ? { ok: true, value } : { ok: false, error: fromWireError(error!) });
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
    return this.blockingRequest({ type: 'get', ids, timeoutMs });
  }

  wait(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, fetchLocal: boolean): Promise<number[]> {
    return this.blockingRequest({ type: 'wait', ids, numReturns, timeoutMs, fetchLocal });
  }

  cancel(id: ObjectId, force: boolean, recursive: boolean): void {
    this.notify({ type: 'cancel', id, force, recursive });
  }

  killActor(actorId: ActorId, noRestart: boolean): void {
    this.notify({ type: 'kill', actorId, noRestart });
  }

  getActor(name: string, namespace?: string): Promise<ActorInfo> {
    return this.request(namespace === undefined ? { type: 'getActor', name } : { type: 'getActor', name, namespace });
  }

  actorByName(): undefined {
    return undefined;
  }

  listNamedActors(): never {
    throw new Error('ray.listNamedActors() is the driver\'s: call it in the coordinator tab (task code can ray.getActor(name))');
  }

  actorNameTaken(): boolean {
    return false;
  }

  generatorNext(taskId: TaskId, index: number): Promise<GeneratorItem> {
    return this.blockingRequest({ type: 'generatorNext', taskId, index });
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
      seed: seedOf(cur.taskId ?? cur.actorId ?? this.deps.workerId),
      jobId: this.deps.jobId,
      actorName: cur.actorName ?? null,
      wasCurrentActorRestarted: cur.restarted ?? false,
      assignedResources: { ...cur.resources },
    };
  }

  /** The cluster view that came with a task: what `nodes()` & co. answer until a fresher one arrives. */
  setView(view: ClusterView): void {
    this.view = view;
  }

  private refreshView(): void {
    void this.request({ type: 'clusterView' }).then((v) => (this.view = v), () => {});
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

  free(): void {
    throw new Error('ray.free() is the driver\'s: call it in the coordinator tab, not in task code');
  }

  trustNode(): void {
    throw new Error('ray.trustNode() is the driver\'s: call it in the coordinator tab, not in task code');
  }

  tasks(filter?: { state?: TaskState }): Promise<TaskInfo[]> {
    return this.request(filter?.state ? { type: 'tasks', state: filter.state } : { type: 'tasks' });
  }

  timeline(): Promise<TraceEvent[]> {
    return this.request({ type: 'timeline' });
  }

  actors(): Promise<ActorListing[]> {
    return Promise.reject(new Error('ray.actors() is the driver\'s: call it in the coordinator tab, not in task code'));
  }

  objects(): Promise<ObjectListing[]> {
    return Promise.reject(new Error('ray.objects() is the driver\'s: call it in the coordinator tab, not in task code'));
  }

  summary(): Promise<TaskSummary> {
    return Promise.reject(new Error('ray.summary() is the driver\'s: call it in the coordinator tab, not in task code'));
  }

  shutdown(): Promise<void> {
    return Promise.reject(new Error('ray.shutdown() cannot be called from inside a task'));
  }
}
