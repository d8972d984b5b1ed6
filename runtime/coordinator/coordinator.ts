// The coordinator: Ray's GCS and cluster scheduler in the head tab. It keeps the task table, the
// function table, the object directory and the actor directory, decides where every task and
// actor runs, retries what failed, and answers drivers. It talks to nodes only through messages.

import { wireError } from '../api/errors.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { ClientRequest } from '../protocol/client-requests.ts';
import { returnId, taskIdOf, type ActorId, type FunctionId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, RefUpdate, TaskResult } from '../protocol/node-messages.ts';
import type {
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
import type { WireError } from '../protocol/wire-error.ts';
import { ActorDirectory } from './actor-directory.ts';
import type { TaskEntry } from './task-entry.ts';
import { GeneratorStreams } from './generator-streams.ts';
import { ObjectDirectory } from './object-directory.ts';
import { ObjectLifetimes } from './object-lifetimes.ts';
import { ObjectWaits } from './object-waits.ts';
import { NodeManager, type NodeLink, type NodeOptions } from './node-manager.ts';
import { TaskTable } from './task-table.ts';
import { Lineage } from './lineage.ts';
import { ActorManager } from './actor-manager.ts';
import { ClusterScheduler } from './cluster-scheduler.ts';

export type { NodeLink } from './node-manager.ts';

export interface ObjectLocation {
  readonly obj?: SerializedObject;
  readonly nodes: readonly NodeId[];
}

type ClientReply = (ok: boolean, value: unknown) => void;

export class Coordinator {
  private readonly nodes = new NodeManager();
  private readonly fns = new Map<FunctionId, FunctionDescriptor>();
  private readonly objects = new ObjectDirectory();
  private readonly actors = new ActorDirectory();
  private readonly generators = new GeneratorStreams((taskId, consumed) => {
    const t = this.tasks.get(taskId);
    if (t && t.spec.generatorBackpressure > 0 && t.nodeId) {
      this.nodes.get(t.nodeId)?.link.send({ type: 'generator_ack', taskId, consumed });
    }
  });
  /** How to make lost task results again. */
  private readonly lineage: Lineage = new Lineage({
    objects: this.objects,
    isPending: (taskId) => this.tasks.has(taskId),
    stopped: () => this.tasks.stopped,
    resubmit: (spec) => this.submit(spec, undefined, false),
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
  });
  private readonly tasks: TaskTable = new TaskTable({ lifetimes: this.lifetimes, generators: this.generators, release: (t) => this.scheduler.release(t) });
  private readonly scheduler = new ClusterScheduler({
    nodes: this.nodes,
    tasks: this.tasks,
    objects: this.objects,
    actors: this.actors,
    fns: this.fns,
    log: (m) => this.log(m),
  });
  private readonly actorManager = new ActorManager({
    actors: this.actors,
    tasks: this.tasks,
    nodes: this.nodes,
    scheduler: this.scheduler,
    lifetimes: this.lifetimes,
    log: (m) => this.log(m),
  });
  private readonly waits = new ObjectWaits(this.objects, this.nodes);
  private readonly log: Logger;

  constructor(private readonly selfId: NodeId) {
    this.log = createLogger('webray:coordinator', selfId);
  }

  // ───────────────────────────── nodes ─────────────────────────────

  addNode(
    nodeId: NodeId,
    resources: ResourceSet,
    link: NodeLink,
    opts: NodeOptions,
  ): void {
    this.nodes.add(nodeId, resources, link, opts);
    this.log(`node ${nodeId} joined with ${JSON.stringify(resources)}`);
    this.scheduler.retryInfeasible();
    this.scheduler.drain();
  }

  /** A node left or died: retry its tasks elsewhere, restart its actors, forget its objects. */
  removeNode(nodeId: NodeId, reason: string): void {
    const node = this.nodes.get(nodeId);
    if (!node || !node.alive) return;
    node.alive = false;
    this.log(`node ${nodeId} left: ${reason}`);
    const err = wireError('NodeDiedError', `node ${nodeId} died (${reason}) while running the task`, { nodeId });
    for (const taskId of [...node.running]) {
      const t = this.tasks.get(taskId);
      if (t && t.spec.kind !== 'actor-method') this.onTaskFailed(t, err, true);
    }
    node.running.clear();
    // The refs its workers held are gone with it.
    this.lifetimes.nodeLeft(nodeId);
    this.actorManager.nodeLeft(nodeId, reason);
    for (const id of this.objects.dropNode(nodeId)) this.lineage.objectLost(id);
    this.scheduler.drain();
  }

  // ─────────────────────── driver-facing calls ───────────────────────

  registerFunction(desc: FunctionDescriptor): void {
    if (this.fns.has(desc.fnId)) return;
    this.fns.set(desc.fnId, desc);
    for (const e of desc.scope) if (e.kind === 'value' && e.value.refs) this.lifetimes.holdForever(e.value.refs);
  }

  /** A task from the driver in this tab (or a test). */
  submitTask(spec: TaskSpec): void {
    this.submit(spec, undefined, true);
  }

  /**
   * Records and schedules a task. `callerHolds`: its caller got refs to its returns (false when
   * lineage re-runs it); `from`: the node of a worker caller.
   */
  private submit(spec: TaskSpec, from: NodeId | undefined, callerHolds: boolean): void {
    if (this.tasks.stopped) return;
    if (spec.kind !== 'actor-method' && !this.fns.has(spec.fnId)) {
      throw new Error(`internal: task ${spec.name} refers to unknown function ${spec.fnId}`);
    }
    const t = this.tasks.add(spec);
    if (spec.numReturns === 'streaming') this.generators.open(spec.taskId);
    else for (let i = 0; i < spec.numReturns; i++) this.objects.ensure(returnId(spec.taskId, i));
    t.argsHeld = this.lifetimes.holdArgs(spec);
    if (callerHolds && spec.numReturns !== 'streaming') {
      // No ref to an actor's creation result is handed out; its tiny entry stays for the session.
      const creation = spec.kind === 'actor-creation';
      const holder = creation ? actorHolder(spec.actorId!) : spec.callerId;
      const node = creation ? undefined : from;
      if (spec.numReturns === 1) this.lifetimes.callerHoldsOne(holder, node, returnId(spec.taskId, 0));
      else for (let i = 0; i < spec.numReturns; i++) this.lifetimes.callerHoldsOne(holder, node, returnId(spec.taskId, i));
    }

    if (spec.kind !== 'normal' && !this.actorManager.admit(t)) return;
    this.awaitArgs(t);
  }

  /**
   * Waits for the task's ObjectRef arguments that are not ready, then goes on to placement. On a
   * retry, an argument may be unready again: its only copy left with a node and is being recomputed.
   */
  private awaitArgs(t: TaskEntry): void {
    t.state = 'PENDING_ARGS_AVAIL';
    for (const arg of t.spec.args) {
      if (arg.kind !== 'ref') continue;
      if (this.objects.isReady(arg.id)) continue;
      t.depsPending++;
      this.objects.onReady(arg.id, () => {
        if (--t.depsPending === 0) this.onDepsReady(t);
      });
    }
    if (t.depsPending === 0) this.onDepsReady(t);
  }

  /** An object `put` by `holder` (which holds its ref) on `nodeId`; `nested` lists the refs inside a non-inline one. */
  putObject(id: ObjectId, size: number, obj: SerializedObject | undefined, nodeId: NodeId, holder = 'driver', nested?: readonly ObjectId[], holderNode?: NodeId): void {
    this.lifetimes.callerHoldsOne(holder, holderNode, id);
    this.lifetimes.ready(id, size, obj, nodeId, nested);
  }

  /** A holder's report of the ObjectRefs it gained and dropped (`from`: the node of a worker holder). */
  updateRefs(holder: string, from: NodeId | undefined, update: RefUpdate): void {
    if (!this.tasks.stopped) this.lifetimes.update(holder, from, update);
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

  /** See `ObjectWaits.wait`. */
  waitObjects(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, localTo?: NodeId, abortOnError = false): Promise<number[]> {
    return this.waits.wait(ids, numReturns, timeoutMs, localTo, abortOnError);
  }

  /** The error of the first of these objects that is ready as an error, if any. */
  firstError(ids: readonly ObjectId[]): WireError | undefined {
    return this.waits.firstError(ids);
  }

  cancel(objectId: ObjectId, force: boolean, recursive: boolean): void {
    const taskId = this.generators.has(objectId as unknown as TaskId) ? (objectId as unknown as TaskId) : taskIdOf(objectId);
    if (!taskId) return; // a put object: nothing to cancel, as in Ray
    const t = this.tasks.get(taskId);
    if (t) this.cancelTask(t, force, recursive);
  }

  killActor(actorId: ActorId, noRestart: boolean): void {
    this.actorManager.kill(actorId, noRestart);
  }

  getActor(name: string): ActorInfo | undefined {
    return this.actorManager.byName(name);
  }

  /** The next item of a streaming task, handed to `holder` (its ref becomes the holder's). */
  generatorNext(taskId: TaskId, index: number, holder = 'driver', holderNode?: NodeId): Promise<{ done: false; id: ObjectId } | { done: true }> {
    return this.generators.next(taskId, index).then((item) => {
      if (item.done) return item;
      const id = returnId(taskId, item.index);
      this.lifetimes.handOut(holder, holderNode, taskId, id);
      return { done: false, id };
    });
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

  timeline(): TraceEvent[] {
    return this.tasks.timeline();
  }

  /** Ends the session: every pending call fails, nothing more is scheduled. */
  stop(): void {
    this.tasks.close();
    this.lifetimes.stop();
    const err = wireError('RaySystemError', 'ray.shutdown() was called while the task was pending');
    for (const t of this.tasks.live()) this.tasks.failTask(t, err);
  }

  // ─────────────────────── messages from nodes ───────────────────────

  handleNodeMessage(from: NodeId, msg: NodeToCoordinator, reply?: (m: CoordinatorToNode) => void): void {
    switch (msg.type) {
      case 'task_started': {
        const t = this.tasks.get(msg.taskId);
        if (t && !t.cancelled && t.nodeId === from) {
          t.state = 'RUNNING';
          t.workerId = msg.workerId;
          t.startedAtMs = msg.atMs;
        }
        return;
      }
      case 'task_done':
        this.onTaskDone(from, msg);
        return;
      case 'generator_item':
        this.onGeneratorItem(from, msg.taskId, msg.attempt, msg.index, msg.result);
        return;
      case 'actor_died':
        this.actorManager.reportedDead(from, msg.actorId, msg.error);
        return;
      case 'task_blocked':
      case 'task_unblocked':
        this.scheduler.onBlocked(msg.taskId, msg.type === 'task_blocked');
        return;
      case 'object_put':
        this.putObject(msg.id, msg.size, msg.obj, from, msg.holder, msg.refs, from);
        return;
      case 'refs':
        this.updateRefs(msg.holder, from, msg);
        return;
      case 'object_located':
        if (!msg.failed) this.lifetimes.located(msg.id, from);
        this.waits.located(from, msg.id, !msg.failed);
        return;
      case 'client_request': {
        const send = reply ?? ((m: CoordinatorToNode) => this.nodes.get(from)?.link.send(m));
        this.handleClientRequest(from, msg.holder, msg.req, (ok, value) =>
          send(
            ok
              ? { type: 'client_reply', reqId: msg.reqId, ok: true, value }
              : { type: 'client_reply', reqId: msg.reqId, ok: false, error: value as WireError },
          ),
        );
        return;
      }
      case 'node_stats':
        this.nodes.setStats(from, { memoryBytes: msg.memoryBytes, spilledBytes: msg.spilledBytes, objects: msg.objects, budgetBytes: msg.budgetBytes ?? 0 });
        return;
      default:
        assertNever(msg);
    }
  }

  private handleClientRequest(from: NodeId, holder: string | undefined, req: ClientRequest, reply: ClientReply): void {
    try {
      switch (req.op) {
        case 'register':
          this.registerFunction(req.desc);
          return reply(true, null);
        case 'submit':
          this.submit(req.spec, from, true);
          return reply(true, null);
        case 'put':
          this.putObject(req.id, req.obj.size, req.obj, from, holder, undefined, from);
          return reply(true, null);
        case 'get':
          void this.waitObjects(req.ids, req.ids.length, req.timeoutMs, undefined, true).then((ready) => {
            const failed = ready.length < req.ids.length ? this.firstError(req.ids) : undefined;
            if (failed) {
              reply(false, failed);
              return;
            }
            if (ready.length < req.ids.length) {
              reply(false, wireError('GetTimeoutError', `ray.get timed out after ${req.timeoutMs} ms; the task keeps running`));
              return;
            }
            reply(true, req.ids.map((id) => this.objects.resolvedArg(id)));
          });
          return;
        case 'wait':
          void this.waitObjects(req.ids, req.numReturns, req.timeoutMs, req.fetchLocal ? from : undefined).then((ready) => reply(true, ready));
          return;
        case 'cancel':
          this.cancel(req.id, req.force, req.recursive);
          return reply(true, null);
        case 'kill':
          this.killActor(req.actorId, req.noRestart);
          return reply(true, null);
        case 'getActor': {
          const info = this.getActor(req.name);
          if (info) return reply(true, info);
          return reply(false, { name: 'Error', message: `no live actor is named "${req.name}"` });
        }
        case 'generatorNext':
          void this.generatorNext(req.taskId, req.index, holder ?? `node:${from}`, from).then((item) => reply(true, item));
          return;
        case 'tasks':
          return reply(true, this.taskInfos(req.state));
        case 'timeline':
          return reply(true, this.timeline());
        case 'clusterView':
          return reply(true, { nodes: this.nodeInfos(), total: this.clusterResources(), available: this.availableResources() });
        default:
          assertNever(req);
      }
    } catch (e) {
      reply(false, { name: (e as Error).name ?? 'Error', message: (e as Error).message ?? String(e) });
    }
  }

  // ─────────────────────────── scheduling ───────────────────────────

  private onDepsReady(t: TaskEntry): void {
    if (t.cancelled || this.tasks.stopped) return;
    // A failed dependency fails the task with the same error, as in Ray.
    for (const arg of t.spec.args) {
      if (arg.kind !== 'ref') continue;
      const err = this.objects.get(arg.id)?.obj?.err;
      if (err) {
        this.tasks.failTask(t, err);
        if (t.spec.kind === 'actor-method') this.actorManager.pumpFor(t);
        return;
      }
    }
    if (t.spec.kind === 'actor-method') {
      t.state = 'PENDING_NODE_ASSIGNMENT';
      this.actorManager.pumpFor(t);
      return;
    }
    this.scheduler.schedule(t);
  }

  // ─────────────────────────── completion ───────────────────────────

  private onTaskDone(from: NodeId, msg: Extract<NodeToCoordinator, { type: 'task_done' }>): void {
    const t = this.tasks.get(msg.taskId);
    if (!t || t.nodeId !== from || t.attempt !== msg.attempt) return; // stale: an earlier attempt
    if (t.spec.kind === 'actor-method') this.actorManager.callEnded(t);
    this.scheduler.release(t);
    t.workerId = msg.workerId;
    t.startedAtMs = msg.startMs;
    t.endedAtMs = msg.endMs;
    if (t.spec.kind === 'normal') this.scheduler.recordDuration(t.spec.fnId, msg.endMs - msg.startMs);
    if (t.cancelled) {
      this.tasks.finish(t, 'FAILED');
    } else if (msg.error) {
      this.onTaskFailed(t, msg.error, msg.systemFailure === true);
    } else if (t.spec.kind === 'actor-creation') {
      this.actorManager.created(t);
    } else {
      const results = msg.results ?? [];
      for (const r of results) this.lifetimes.ready(r.id, r.size, r.obj, from, r.refs);
      // Results kept only on their node can be lost with it: remember how to make them again
      // (the lineage entry keeps the task's arguments alive from now on, while a result lives).
      if (t.spec.kind === 'normal' && results.some((r) => r.obj === undefined) && this.lifetimes.recordLineage(t.spec, results.map((r) => r.id))) {
        t.argsHeld = false;
      }
      if (t.spec.numReturns === 'streaming') this.generators.end(t.spec.taskId);
      this.tasks.finish(t, 'FINISHED');
    }
    this.scheduler.drain();
  }

  private onTaskFailed(t: TaskEntry, err: WireError, system: boolean): void {
    this.scheduler.release(t);
    if (t.cancelled) return this.tasks.finish(t, 'FAILED');
    if (t.spec.kind === 'actor-creation') return this.actorManager.creationFailed(t, err, system);
    const max = t.spec.kind === 'actor-method' ? this.actorManager.maxTaskRetries(t) : t.spec.maxRetries;
    const retriesLeft = max === -1 || t.attempt <= max;
    const retryable = system || retryMatches(t.spec.retryExceptions, err);
    if (retryable && retriesLeft && !this.tasks.stopped) {
      this.log(`retrying task ${t.spec.name} (attempt ${t.attempt + 1}) after ${err.name}: ${err.message}`);
      t.nodeId = null;
      if (t.spec.kind === 'actor-method' && this.actorManager.retryCall(t)) return;
      if (t.spec.numReturns === 'streaming') {
        // Items already delivered stay; the retry's duplicates are ignored by index.
      }
      this.awaitArgs(t);
      return;
    }
    this.tasks.failTask(t, err);
  }

  private onGeneratorItem(from: NodeId, taskId: TaskId, attempt: number, index: number, r: TaskResult): void {
    const t = this.tasks.get(taskId);
    if (!t || t.nodeId !== from || t.attempt !== attempt || t.cancelled) return;
    if (this.generators.nextIndex(taskId) === undefined || index < this.generators.nextIndex(taskId)!) return; // ended, or re-yielded by a retry
    this.lifetimes.generatorItem(taskId, r.id, r.size, r.obj, from, r.refs);
    this.generators.yielded(taskId, index);
  }

  private cancelTask(t: TaskEntry, force: boolean, recursive: boolean): void {
    if (t.cancelled || t.state === 'FINISHED' || t.state === 'FAILED') return;
    t.cancelled = true;
    const err = wireError('TaskCancelledError', `task ${t.spec.name} (${t.spec.taskId}) was cancelled`, { taskId: t.spec.taskId });
    const wasSent = t.state === 'SUBMITTED_TO_WORKER' || t.state === 'RUNNING';
    if (wasSent && t.nodeId) {
      this.nodes.get(t.nodeId)?.link.send({ type: 'cancel_task', taskId: t.spec.taskId, force });
    }
    if (t.spec.kind === 'actor-method') this.actorManager.callCancelled(t);
    // Fail its returns at once; the node releases its resources when the worker lets go.
    this.tasks.failReturns(t, err);
    if (!wasSent) this.tasks.finish(t, 'FAILED');
    if (recursive && t.children) {
      for (const c of t.children) {
        const child = this.tasks.get(c);
        if (child) this.cancelTask(child, force, true);
      }
    }
  }

  get selfNodeId(): NodeId {
    return this.selfId;
  }
}

/** The pseudo-holder of an actor's creation result. */
function actorHolder(actorId: ActorId): string {
  return `actor:${actorId}`;
}

function retryMatches(policy: boolean | readonly string[], err: WireError): boolean {
  if (policy === false) return false;
  if (err.name !== 'RayTaskError') return false;
  if (policy === true) return true;
  const chain = err.cause?.classChain ?? (err.cause ? [err.cause.name] : []);
  return chain.some((n) => policy.includes(n));
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
