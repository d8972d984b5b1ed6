// The coordinator: Ray's GCS and cluster scheduler in the head tab. This class is the façade the
// driver and the head session use; it composes the parts, each one concept in its own file:
//   node-manager.ts      the nodes, their resources and links
//   task-table.ts        every task until it ends, and the records of finished ones
//   task-manager.ts      a task's life: submit, argument waits, results, retries, cancel
//   cluster-scheduler.ts placement, class queues, pipelining, dispatch, release
//   actor-manager.ts     actors: creation, per-caller call order, restarts, kill
//   lineage.ts           recomputing lost results by re-running their tasks
//   object-waits.ts      get/wait on objects, and fetchLocal waits for copies
//   request-handlers.ts  node messages, and the requests task code makes through them
//   client-handlers.ts   the answer to each request (task code's, and the driver's in process)
// over the directories (objects, actors, generator streams) and object lifetimes. The parts meet
// only here: where one must call a part built after it, it gets a callback, so imports stay acyclic.
// It talks to nodes only through messages.

import { wireError } from '../api/errors.ts';
import type { VerificationOptions } from '../api/options.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { DRIVER_HOLDER, type ActorId, type FunctionId, type HolderId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, RefUpdate } from '../protocol/node-messages.ts';
import type {
  ActorInfo,
  ActorListing,
  FunctionDescriptor,
  NodeInfo,
  ObjectListing,
  TaskSummary,
  ResourceSet,
  SerializedObject,
  TaskInfo,
  TaskSpec,
  TaskState,
} from '../protocol/task-spec.ts';
import { ActorDirectory, DEFAULT_NAMESPACE } from './actor-directory.ts';
import { QUARANTINE_MISMATCHES, TASK_HISTORY_MAX } from './constants.ts';
import { ActorManager } from './actor-manager.ts';
import { ClusterScheduler } from './cluster-scheduler.ts';
import { GeneratorStreams } from './generator-streams.ts';
import { Lineage } from './lineage.ts';
import { NodeManager, type NodeLink, type NodeOptions } from './node-manager.ts';
import { ObjectDirectory } from './object-directory.ts';
import { ObjectLifetimes } from './object-lifetimes.ts';
import { ObjectWaits } from './object-waits.ts';
import { Capabilities } from './capabilities.ts';
import type { CoordinatorHandlers } from './client-handlers.ts';
import { RequestHandlers } from './request-handlers.ts';
import { TaskManager } from './task-manager.ts';
import { TaskTable } from './task-table.ts';

export type { NodeLink } from './node-manager.ts';

/** Where to read an object: inline, or from the stores of these nodes. */
export interface ObjectLocation {
  readonly obj?: SerializedObject;
  readonly nodes: readonly NodeId[];
}

/** What `init({ verification })` tells the coordinator: the spot-check fraction and the mismatches that quarantine a node. */
export type VerificationSettings = Pick<VerificationOptions, 'spotCheck' | 'quarantineAfter'>;

export class Coordinator {
  private readonly log: Logger;
  private readonly nodes = new NodeManager();
  /** The function table: every remote function and actor class registered this session. */
  private readonly fns = new Map<FunctionId, FunctionDescriptor>();
  private readonly objects = new ObjectDirectory();
  private readonly actors = new ActorDirectory();
  /** Streaming tasks' items; consumption is acknowledged to the node for backpressure. */
  private readonly generators = new GeneratorStreams((taskId, consumed) => {
    const t = this.tasks.get(taskId);
    if (t && t.spec.generatorBackpressure > 0 && t.nodeId) {
      this.nodes.get(t.nodeId)?.link.send({ type: 'generator_ack', taskId, consumed });
    }
  });
  /** How to make lost task results again. */
  private readonly lineage: Lineage = new Lineage({
    objects: this.objects,
    // A verified task whose result was accepted stays in the table while late replicas are judged: it is not pending.
    isPending: (taskId) => {
      const t = this.tasks.get(taskId);
      return t !== undefined && !t.verification?.accepted;
    },
    stopped: () => this.tasks.stopped,
    resubmit: (spec, submittedBy) => this.taskManager.submit(spec, submittedBy, false),
    log: (m) => this.log(m),
  });
  /** Reference counts: which objects may be freed, and freeing them. */
  private readonly lifetimes: ObjectLifetimes = new ObjectLifetimes({
    objects: this.objects,
    lineage: this.lineage.specs,
    reconstructions: this.lineage.reconstructions,
    sendFree: (node, ids) => {
      const n = this.nodes.get(node);
      if (n?.alive) n.link.send({ type: 'free_objects', ids });
    },
    // A generator nobody can read any more: its producer stops (Ray cancels a dropped generator's task).
    generatorDropped: (taskId) => this.taskManager.cancel(taskId as unknown as ObjectId, false, true),
    // The object every handle to an actor holds is gone: no handle to it is left.
    unreferenced: (id) => this.actorManager.unreferenced(id),
  });
  private readonly tasks: TaskTable = new TaskTable({
    lifetimes: this.lifetimes,
    generators: this.generators,
    release: (t) => this.scheduler.release(t),
    dropCopies: (t) => this.scheduler.dropCopies(t),
  });
  private readonly scheduler = new ClusterScheduler({
    nodes: this.nodes,
    tasks: this.tasks,
    objects: this.objects,
    actors: this.actors,
    fns: this.fns,
    log: (m) => this.log(m),
    sending: (t, node) => this.taskManager.sending(t, node),
    dispatched: (t) => this.taskManager.dispatched(t),
    onRoom: () => this.taskManager.placeReplicas(),
    replicaStalled: (a) => this.taskManager.replicaStalled(a),
    unschedulable: (t, err) => this.actorManager.unschedulable(t, err),
  });
  private readonly actorManager = new ActorManager({
    actors: this.actors,
    tasks: this.tasks,
    nodes: this.nodes,
    scheduler: this.scheduler,
    lifetimes: this.lifetimes,
    log: Object.assign((m: string) => this.log(m), { warn: (m: string) => this.log.warn(m) }),
    verifyCall: (t, nodes) => this.taskManager.verifyCall(t, nodes),
    callAttemptLost: (a, err) => this.taskManager.abandonAttempt(a, err),
  });
  private readonly taskManager = new TaskManager({
    tasks: this.tasks,
    fns: this.fns,
    objects: this.objects,
    generators: this.generators,
    lifetimes: this.lifetimes,
    nodes: this.nodes,
    scheduler: this.scheduler,
    actorManager: this.actorManager,
    log: Object.assign((m: string) => this.log(m), { warn: (m: string) => this.log.warn(m) }),
    evict: (nodeId, reason) => this.evict(nodeId, reason),
    spotCheck: () => this.verification.spotCheck,
    quarantineAfter: () => this.verification.quarantineAfter ?? QUARANTINE_MISMATCHES,
  });
  private readonly waits = new ObjectWaits(this.objects, this.nodes);
  /** What each volunteer node may do (capabilities.ts). */
  private readonly capabilities = new Capabilities({
    tasks: this.tasks,
    objects: this.objects,
    actors: this.actors,
    generators: this.generators,
    holds: (holder, id) => this.lifetimes.holds(holder, id),
    heldBy: (holder) => this.lifetimes.refs.heldBy(holder),
    scopeRefs: (fnId) => scopeRefs(this.fns.get(fnId)),
  });
  private readonly handlers: RequestHandlers;

  constructor(private readonly selfId: NodeId) {
    this.log = createLogger('webray:coordinator', selfId);
    this.handlers = new RequestHandlers({
      nodes: this.nodes,
      tasks: this.tasks,
      taskManager: this.taskManager,
      scheduler: this.scheduler,
      actorManager: this.actorManager,
      objects: this.objects,
      lifetimes: this.lifetimes,
      waits: this.waits,
      capabilities: this.capabilities,
      selfId: this.selfId,
      evict: (nodeId, reason) => this.evict(nodeId, reason),
      log: this.log,
    });
  }

  // ───────────────────────────── nodes ─────────────────────────────

  /** `init({ verification })`: the fraction of tasks on proven volunteers run on a second node too, and the mismatches that quarantine a node. */
  private verification: VerificationSettings = {};

  setVerification(v: VerificationSettings): void {
    this.verification = v;
  }

  /**
   * `ray.trustNode`: the driver vouches for a node — its tasks are not spot-checked, it is never
   * quarantined, and copies and replicas prefer it. Throws for a node that never joined.
   */
  trustNode(nodeId: NodeId): void {
    const n = this.nodes.get(nodeId);
    if (!n) throw new TypeError(`ray.trustNode: no node ${nodeId} ever joined this cluster (ray.nodes() lists them)`);
    n.trusted = true;
  }

  /** A node joined: tasks waiting for a node like it are placed. */
  addNode(nodeId: NodeId, resources: ResourceSet, link: NodeLink, opts: NodeOptions): void {
    this.nodes.add(nodeId, resources, link, opts);
    this.log(`node ${nodeId} joined with ${JSON.stringify(resources)}`);
    this.scheduler.retryInfeasible();
    this.scheduler.drain();
  }

  /** A node left or died: retry its tasks elsewhere, restart its actors, forget its objects. */
  removeNode(nodeId: NodeId, reason: string): void {
    const node = this.nodes.get(nodeId);
    if (!node || !node.alive) return;
    this.nodes.markDead(nodeId);
    // What it was granted goes with it: nothing it (or a member reusing its id) sends is judged by it.
    node.grants?.sentTasks.clear();
    node.grants?.expectedObjects.clear();
    node.grants?.hostedActors.clear();
    this.capabilities.nodeLeft(nodeId);
    this.log(`node ${nodeId} left: ${reason}`);
    const err = wireError('NodeDiedError', `node ${nodeId} died (${reason}) while running the task`, { nodeId });
    this.taskManager.nodeLeft(node, err);
    // The refs its workers held are gone with it.
    this.lifetimes.nodeLeft(nodeId);
    this.actorManager.nodeLeft(nodeId, reason);
    for (const id of this.objects.dropNode(nodeId)) this.lineage.objectLost(id);
    this.scheduler.drain();
  }

  /** Drops a volunteer that broke the rules as if it had left: its link closes, its tasks retry elsewhere. */
  private evict(nodeId: NodeId, reason: string): void {
    this.log.warn(`dropping node ${nodeId}: ${reason}`);
    this.nodes.get(nodeId)?.link.close?.(reason);
    this.removeNode(nodeId, reason);
  }

  // ─────────────────────── driver-facing calls ───────────────────────

  registerFunction(desc: FunctionDescriptor): void {
    this.taskManager.registerFunction(desc);
  }

  /** A task from the driver in this tab (or a test). */
  submitTask(spec: TaskSpec): void {
    this.taskManager.submit(spec, undefined, true);
  }

  /** An object `put` by `holder` (which holds its ref) on `nodeId`; `nested` lists the refs inside a non-inline one. */
  putObject(id: ObjectId, size: number, obj: SerializedObject | undefined, nodeId: NodeId, holder = DRIVER_HOLDER, nested?: readonly ObjectId[], holderNode?: NodeId): void {
    this.lifetimes.put(id, size, obj, nodeId, holder, holderNode, nested);
  }

  /** A holder's report of the ObjectRefs it gained and dropped (`from`: the node of a worker holder). */
  updateRefs(holder: HolderId, from: NodeId | undefined, update: RefUpdate): void {
    if (!this.tasks.stopped) this.lifetimes.update(holder, from, update);
  }

  /** What the coordinator keeps about a volunteer's grants (tests: zero once it left). */
  grantsKept(nodeId: NodeId): number {
    const g = this.nodes.get(nodeId)?.grants;
    return (g ? g.sentTasks.size + g.expectedObjects.size + g.hostedActors.size : 0) + this.capabilities.holdersOf(nodeId);
  }

  /** `ray.free` (the driver's): the objects' values are dropped on every node; later reads fail with ObjectFreedError. */
  free(ids: readonly ObjectId[]): void {
    this.lifetimes.freeValues(ids, (id) =>
      wireError('ObjectFreedError', `object ${id} was freed with ray.free(): its value is gone on every node and is not recomputed`, { objectId: id }),
    );
  }

  /** Refused messages counted against a volunteer node so far (tests, introspection). */
  strikesOf(nodeId: NodeId): number {
    return this.nodes.get(nodeId)?.grants?.strikes ?? 0;
  }

  /** How many objects are counted as referenced (tests). */
  get referencedObjects(): number {
    return this.lifetimes.referenced;
  }

  /** Whether this cluster made the object (a task's return, a put); refs from an earlier session are not. */
  hasObject(id: ObjectId): boolean {
    return this.objects.get(id) !== undefined;
  }

  /** Where to read an object from: inline, or the nodes holding it. Undefined while not ready. */
  locate(id: ObjectId): ObjectLocation | undefined {
    const e = this.objects.get(id);
    if (!e || !e.ready) return undefined;
    return e.obj ? { obj: e.obj, nodes: [] } : { nodes: [...e.locations] };
  }

  /** The indexes of ready objects once `numReturns` are ready or the timeout passes (`ObjectWaits.wait`: fetchLocal, abortOnError). */
  waitObjects(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, localTo?: NodeId, abortOnError = false): Promise<number[]> {
    return this.waits.wait(ids, numReturns, timeoutMs, localTo, abortOnError);
  }

  cancel(objectId: ObjectId, force: boolean, recursive: boolean): void {
    this.taskManager.cancel(objectId, force, recursive);
  }

  killActor(actorId: ActorId, noRestart: boolean): void {
    this.actorManager.kill(actorId, noRestart);
  }

  /** The live named actors, with their namespaces. */
  listNamedActors(): { name: string; namespace: string }[] {
    return this.actors.namedActors();
  }

  /** `init({ namespace })`: the job's namespace, where names given without one live. */
  /** `init({ maxTaskEvents })`: finished tasks kept for `ray.tasks()` and `ray.timeline()` (default TASK_HISTORY_MAX). */
  setMaxTaskEvents(n: number | undefined): void {
    this.tasks.setHistoryMax(n ?? TASK_HISTORY_MAX);
  }

  setNamespace(namespace: string | undefined): void {
    this.actors.namespace = namespace ?? DEFAULT_NAMESPACE;
  }

  /** The job's namespace. */
  get namespace(): string {
    return this.actors.namespace;
  }

  /** `ray.actors({ state })`: every actor of the session. */
  actorListings(state?: ActorListing['state']): ActorListing[] {
    return this.actors.listings(state);
  }

  /** `ray.objects()`: every object the coordinator knows, where it is and who keeps it. */
  objectListings(): ObjectListing[] {
    const holders = this.lifetimes.refs.holdersByObject();
    const out: ObjectListing[] = [];
    for (const [id, e] of this.objects.all()) {
      out.push({
        objectId: id,
        size: e.size,
        state: !e.ready ? 'PENDING' : e.obj?.err ? 'FAILED' : 'READY',
        inline: e.obj !== undefined,
        locations: [...e.locations],
        references: this.lifetimes.refs.count(id),
        holders: holders.get(id) ?? [],
      });
    }
    return out;
  }

  /** `ray.summary()`: the tasks (live and recorded) by name, counted per state. */
  taskSummary(): TaskSummary {
    const byName: Record<string, { kind: TaskInfo['kind']; total: number; states: Partial<Record<TaskState, number>> }> = {};
    const infos = this.tasks.infos();
    for (const t of infos) {
      const s = (byName[t.name] ??= { kind: t.kind, total: 0, states: {} });
      s.total++;
      s.states[t.state] = (s.states[t.state] ?? 0) + 1;
    }
    return { total: infos.length, byName };
  }

  getActor(name: string, namespace?: string): ActorInfo | undefined {
    return this.actorManager.byName(name, namespace);
  }

  /** The live actor by name, its handle object now held by the driver too (`getIfExists` in the driver). */
  handOutActor(name: string, namespace?: string): ActorInfo | undefined {
    return this.actorManager.handOut(name, namespace, DRIVER_HOLDER, undefined);
  }

  /** The next item of a streaming task, handed to `holder` (its ref becomes the holder's). */
  generatorNext(taskId: TaskId, index: number, holder = DRIVER_HOLDER, holderNode?: NodeId): Promise<{ done: false; id: ObjectId } | { done: true }> {
    return this.taskManager.generatorNext(taskId, index, holder, holderNode);
  }

  nodeInfos(): NodeInfo[] {
    return this.nodes.infos();
  }

  clusterResources(): Record<string, number> {
    return this.nodes.clusterResources();
  }

  availableResources(): Record<string, number> {
    return this.nodes.availableResources();
  }

  taskInfos(state?: TaskState): TaskInfo[] {
    return this.tasks.infos(state);
  }

  /** Ends the session: every pending call fails, nothing more is scheduled. */
  stop(): void {
    this.tasks.close();
    this.scheduler.close();
    this.taskManager.close();
    this.lifetimes.stop();
    const err = wireError('RaySystemError', 'ray.shutdown() was called while the task was pending');
    for (const t of this.tasks.live()) this.tasks.failTask(t, err);
  }

  /** The answers to client requests made on node `from` by `holder`; the driver calls them in process. */
  clientHandlers(from: NodeId, holder?: HolderId): CoordinatorHandlers {
    return this.handlers.clientHandlers(from, holder);
  }

  // ─────────────────────── messages from nodes ───────────────────────

  /** A message from node `from`; `reply` answers its client requests (default: over its link). */
  handleNodeMessage(from: NodeId, msg: NodeToCoordinator, reply?: (m: CoordinatorToNode) => void): void {
    this.handlers.handleNodeMessage(from, msg, reply);
  }

  get selfNodeId(): NodeId {
    return this.selfId;
  }
}

/** Refs shipped in a function's `scope`. */
function scopeRefs(desc: FunctionDescriptor | undefined): ObjectId[] {
  const out: ObjectId[] = [];
  for (const e of desc?.scope ?? []) if (e.kind === 'value' && e.value.refs) out.push(...e.value.refs);
  return out;
}
