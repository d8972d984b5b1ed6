// The life of a task from submission to its end (Ray's TaskManager, the owner's side, centralised
// here): records it, waits for its ObjectRef arguments, hands it to the cluster scheduler (or its
// actor's queue), takes its results, retries it within maxRetries / retryExceptions, cancels it,
// and streams a generator's items.

import { wireError } from '../api/errors.ts';
import { generatorEndId, holderOfActor, returnId, taskIdOf, type FunctionId, type HolderId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import type { FunctionDescriptor, TaskSpec } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { ActorManager } from './actor-manager.ts';
import type { ClusterScheduler } from './cluster-scheduler.ts';
import type { GeneratorStreams } from './generator-streams.ts';
import type { NodeManager, NodeState } from './node-manager.ts';
import type { ObjectDirectory } from './object-directory.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import { detachCopy, type TaskEntry } from './task-entry.ts';
import { SPOT_CHECK_RECORD } from './constants.ts';
import { Replicas } from './replicas.ts';
import { disarm, nowMs, type TaskTable } from './task-table.ts';

export interface TaskManagerDeps {
  readonly tasks: TaskTable;
  /** The function table (shared with the scheduler, which ships the sources). */
  readonly fns: Map<FunctionId, FunctionDescriptor>;
  readonly objects: ObjectDirectory;
  readonly generators: GeneratorStreams;
  readonly lifetimes: ObjectLifetimes;
  readonly nodes: NodeManager;
  readonly scheduler: ClusterScheduler;
  readonly actorManager: ActorManager;
  /** The coordinator's debug log (`warn` for what the driver must hear of). */
  readonly log: { (msg: string): void; warn(msg: string): void };
  /** Drops a node as if it had left (a quarantined one). */
  readonly evict: (nodeId: NodeId, reason: string) => void;
  /** The fraction of tasks on proven volunteers to spot-check (`init({ verification: { spotCheck } })`); undefined: none. */
  readonly spotCheck: () => number | undefined;
  /** Mismatches that quarantine a node. */
  readonly quarantineAfter: () => number;
}

type TaskDone = Extract<NodeToCoordinator, { type: 'task_done' }>;
type TaskStarted = Extract<NodeToCoordinator, { type: 'task_started' }>;

export class TaskManager {
  /** Verified tasks' replicas and their vote. */
  private readonly replicas: Replicas;

  constructor(private readonly d: TaskManagerDeps) {
    const actors = d.actorManager;
    this.replicas = new Replicas({
      tasks: d.tasks,
      nodes: d.nodes,
      lifetimes: d.lifetimes,
      objects: d.objects,
      scheduler: d.scheduler,
      log: d.log,
      quarantine: d.evict,
      quarantineAfter: d.quarantineAfter,
      actorCalls: {
        ended: (t) => actors.callEnded(t),
        outvoted: (t, nodes) => actors.outvoted(t, nodes),
        diverged: (t, err) => actors.diverged(t, err),
        replicaLost: (t, node, err) => actors.replicaLost(t, node, err),
      },
    });
  }

  /** Resources may have freed up: verified tasks and replicated actors place the replicas they still want. */
  placeReplicas(): void {
    this.replicas.drain();
    this.d.actorManager.drain();
  }

  /** A replicated actor's call goes to its replicas on `nodes`: its vote begins. */
  verifyCall(t: TaskEntry, nodes: readonly NodeId[]): void {
    const count = this.d.actorManager.replicasOf(t);
    if (count > 1) this.replicas.beginCall(t, count, nodes);
  }

  registerFunction(desc: FunctionDescriptor): void {
    if (this.d.fns.has(desc.fnId)) return;
    this.d.fns.set(desc.fnId, desc);
    for (const e of desc.scope) if (e.kind === 'value' && e.value.refs) this.d.lifetimes.holdForever(e.value.refs);
  }

  /**
   * Records and schedules a task. `callerHolds`: its caller got refs to its returns (false when
   * lineage re-runs it); `from`: the node of a worker caller.
   */
  submit(submitted: TaskSpec, from: NodeId | undefined, callerHolds: boolean): void {
    if (this.d.tasks.stopped) return;
    // A call through a handle a `getIfExists` creation gave reaches the actor that had the name.
    const actorId = submitted.kind === 'actor-method' ? this.d.actorManager.resolve(submitted.actorId) : undefined;
    const spec: TaskSpec = submitted.kind === 'actor-method' && actorId !== submitted.actorId ? { ...submitted, actorId: actorId! } : submitted;
    if (spec.kind !== 'actor-method' && !this.d.fns.has(spec.fnId)) {
      throw new Error(`internal: task ${spec.name} refers to unknown function ${spec.fnId}`);
    }
    // Lineage runs a verified task again while the replicas of its accepted run are still judged: they end now.
    const earlier = this.d.tasks.get(spec.taskId);
    if (earlier?.verification?.accepted) this.replicas.endGrace(earlier);
    const t = this.d.tasks.add(spec);
    const volunteer = from !== undefined && this.d.nodes.get(from)?.grants ? from : undefined;
    if (volunteer) t.submittedBy = volunteer;
    if (spec.numReturns === 'streaming') {
      this.d.generators.open(spec.taskId, volunteer);
      // `completed()`: ready when the task ends; its caller holds it from now, as a return.
      const end = generatorEndId(spec.taskId);
      this.d.objects.ensure(end);
      if (callerHolds) this.d.lifetimes.callerHoldsOne(spec.callerId, from, end);
    } else for (let i = 0; i < spec.numReturns; i++) this.d.objects.ensure(returnId(spec.taskId, i));
    t.argsHeld = this.d.lifetimes.holdArgs(spec);
    if (callerHolds && spec.numReturns !== 'streaming') {
      // An actor's creation result is the object its handles hold refs to: the actor lives while
      // one does (it is terminated once none does and its calls have ended). A detached actor's is
      // held for the session, in its own name.
      const detached = spec.kind === 'actor-creation' && spec.actor.detached === true;
      const holder = detached ? holderOfActor(spec.actorId) : spec.callerId;
      const node = detached ? undefined : from;
      if (spec.kind === 'actor-creation' && !detached) this.d.lifetimes.watch(returnId(spec.taskId, 0));
      if (spec.numReturns === 1) this.d.lifetimes.callerHoldsOne(holder, node, returnId(spec.taskId, 0));
      else for (let i = 0; i < spec.numReturns; i++) this.d.lifetimes.callerHoldsOne(holder, node, returnId(spec.taskId, i));
    }

    if (spec.kind !== 'normal' && !this.d.actorManager.admit(t)) return;
    this.awaitArgs(t);
  }

  /** Its worker started it (`task_started`): its `timeoutMs` runs from now. */
  started(from: NodeId, msg: TaskStarted): void {
    const t = this.d.tasks.attemptOn(msg.taskId, from);
    if (t && !t.cancelled) {
      t.state = 'RUNNING';
      t.workerId = msg.workerId;
      t.startedAtMs = msg.atMs;
      this.armTimeout(t);
    }
  }

  /**
   * The scheduler sent an attempt to a node. Its `timeoutMs` already runs, so a node that never
   * reports the start cannot hold the task forever; `task_started` restarts the count.
   */
  dispatched(t: TaskEntry): void {
    this.armTimeout(t);
    this.replicas.placeOthers(t);
    if (t.spec.kind === 'actor-creation') this.d.actorManager.placeReplicas(t);
  }

  /**
   * A task's first attempt is about to go to `node`: it is verified when it asks for replicas, or
   * spot-checked (BOINC's adaptive replication) when `spotCheck` is set and the node is an
   * untrusted volunteer — always while its record is short (fewer than SPOT_CHECK_RECORD verified
   * replicas), else with probability `spotCheck`.
   */
  sending(t: TaskEntry, node: NodeState): void {
    const spec = t.spec;
    if (t.copyOf || t.verification || spec.kind !== 'normal' || spec.numReturns === 'streaming') return;
    const replicas = spec.replicas ?? 1;
    if (replicas > 1) return this.replicas.begin(t, replicas, spec.maxReplicas ?? 2 * replicas + 1, false);
    const p = this.d.spotCheck();
    if (p === undefined || p <= 0 || !node.grants || node.trusted) return;
    if (node.verified < SPOT_CHECK_RECORD || Math.random() < p) this.replicas.begin(t, 2, 3, true);
  }

  /** Its worker finished it (`task_done`): results, an error to retry or fail with, or an actor alive. */
  done(from: NodeId, msg: TaskDone): void {
    let t = this.d.tasks.attemptOn(msg.taskId, from);
    if (!t || t.attempt !== msg.attempt) return this.staleDone(from, msg); // an earlier attempt, or one the coordinator stopped
    // An actor's creation entry stays in the table while the actor lives: its node reports it once.
    if (t.spec.kind === 'actor-creation' && (t.state === 'FINISHED' || t.state === 'FAILED')) return;
    if ((t.copyOf ?? t).verification) {
      if (!msg.error) this.d.scheduler.recordDuration(t, msg.endMs - msg.startMs);
      disarm(t);
      this.replicas.report(t, from, msg);
      this.d.scheduler.drain();
      return;
    }
    if (t.copyOf && t.spec.kind === 'actor-creation') {
      // Another replica of a replicated actor finished its constructor (or failed).
      this.d.actorManager.replicaCreated(t, msg.error);
      this.d.scheduler.drain();
      return;
    }
    if (t.copyOf) {
      // A straggler copy ended first. A system failure only loses the copy (the task's own
      // attempt runs on); anything else is the task's outcome, taken as its own attempt's would be.
      if (msg.error && msg.systemFailure === true) {
        this.d.scheduler.dropCopy(t);
        this.d.scheduler.drain();
        return;
      }
      t = this.adoptCopy(t);
    }
    disarm(t);
    if (t.spec.kind === 'actor-method') this.d.actorManager.callEnded(t);
    this.d.scheduler.release(t);
    t.workerId = msg.workerId;
    t.startedAtMs = msg.startMs;
    t.endedAtMs = msg.endMs;
    if (!msg.error) this.d.scheduler.recordDuration(t, msg.endMs - msg.startMs);
    if (t.cancelled) {
      this.d.tasks.finish(t, 'FAILED');
    } else if (msg.error) {
      this.failed(t, msg.error, msg.systemFailure === true);
    } else if (t.spec.kind === 'actor-creation') {
      this.d.actorManager.created(t);
    } else {
      const results = msg.results ?? [];
      for (const r of results) this.d.lifetimes.ready(r.id, r.size, r.obj, from, r.refs);
      // Results kept only on their node can be lost with it: remember how to make them again
      // (the lineage entry keeps the task's arguments alive from now on, while a result lives).
      if (t.spec.kind === 'normal' && results.some((r) => r.obj === undefined) && this.d.lifetimes.recordLineage(t.spec, t.submittedBy, results.map((r) => r.id))) {
        t.argsHeld = false;
      }
      if (t.spec.numReturns === 'streaming') {
        this.d.generators.end(t.spec.taskId);
        this.d.lifetimes.ready(generatorEndId(t.spec.taskId), 8, { v: null, size: 8 }, undefined);
      }
      const node = this.d.nodes.get(from);
      if (node) node.finished++;
      this.d.tasks.finish(t, 'FINISHED');
    }
    this.d.scheduler.drain();
  }

  /**
   * The report of an attempt the coordinator no longer waits for (another attempt won, it was
   * stopped, cancelled or timed out). Results it stored on its node are freed there, once the task
   * has ended and the node is not a location of them (an earlier or later attempt on the same node
   * may be storing the same ids while the task is still live).
   */
  staleDone(from: NodeId, msg: TaskDone): void {
    if (this.d.tasks.has(msg.taskId)) return;
    const ids = (msg.results ?? []).filter((r) => r.obj === undefined && !this.d.objects.get(r.id)?.locations.has(from)).map((r) => r.id);
    const node = this.d.nodes.get(from);
    if (ids.length > 0 && node?.alive) node.link.send({ type: 'free_objects', ids });
  }

  /** A replica of a verified task straggles on its node: it is stopped and runs again elsewhere (nobody is blamed). */
  replicaStalled(a: TaskEntry): void {
    this.d.scheduler.stopAttempt(a);
    this.replicas.lost(a, wireError('RaySystemError', `a replica of task ${a.spec.name} straggled on node ${a.nodeId}`));
  }

  /** The session is over. */
  close(): void {
    this.replicas.close();
  }

  /**
   * The node sent a completion or item that cannot be taken (`capabilities.ts`): nothing it sent is
   * kept, and the attempt fails as a system failure (retried within maxRetries), so the task is never
   * left waiting for a report that will not come.
   */
  abandonAttempt(t: TaskEntry, err: WireError): void {
    if ((t.copyOf ?? t).verification) {
      disarm(t);
      this.replicas.lost(t, err);
      this.d.scheduler.drain();
      return;
    }
    if (t.copyOf && t.spec.kind === 'actor-creation') {
      this.d.actorManager.replicaCreated(t, err);
      this.d.scheduler.drain();
      return;
    }
    if (t.copyOf) {
      this.d.scheduler.dropCopy(t);
      this.d.scheduler.drain();
      return;
    }
    if (t.spec.kind === 'actor-method') this.d.actorManager.callEnded(t);
    this.failed(t, err, true);
    this.d.scheduler.drain();
  }

  /** A node left: the tasks it was running (not actor calls: their actor handles them) fail or retry. */
  nodeLeft(node: NodeState, err: WireError): void {
    for (const taskId of [...node.running]) {
      const t = this.d.tasks.attemptOn(taskId, node.nodeId);
      if (!t || t.spec.kind === 'actor-method') continue;
      if ((t.copyOf ?? t).verification) this.replicas.lost(t, err);
      else if (t.copyOf && t.spec.kind === 'actor-creation') this.d.actorManager.replicaCreated(t, err);
      else if (t.copyOf) this.d.scheduler.dropCopy(t);
      else this.failed(t, err, true);
    }
    node.running.clear();
  }

  /** A streaming task yielded an item (`generator_item`). */
  generatorItem(from: NodeId, taskId: TaskId, attempt: number, index: number, r: TaskResult): void {
    const t = this.d.tasks.get(taskId);
    // Streaming tasks get no straggler copies: only the task's own attempt yields.
    if (!t || t.nodeId !== from || t.attempt !== attempt || t.cancelled) return;
    if (this.d.generators.nextIndex(taskId) === undefined || index < this.d.generators.nextIndex(taskId)!) return; // ended, or re-yielded by a retry
    this.d.lifetimes.generatorItem(taskId, r.id, r.size, r.obj, from, r.refs);
    this.d.generators.yielded(taskId, index);
  }

  /** The next item of a streaming task, handed to `holder` (its ref becomes the holder's). */
  generatorNext(taskId: TaskId, index: number, holder: HolderId, holderNode?: NodeId): Promise<{ done: false; id: ObjectId } | { done: true }> {
    return this.d.generators.next(taskId, index).then((item) => {
      if (item.done) return item;
      const id = returnId(taskId, item.index);
      this.d.lifetimes.handOut(holder, holderNode, taskId, id);
      return { done: false, id };
    });
  }

  /** `ray.cancel` of the task that makes `objectId` (or of a streaming task, by its id). */
  cancel(objectId: ObjectId, force: boolean, recursive: boolean): void {
    const taskId = this.d.generators.has(objectId as unknown as TaskId) ? (objectId as unknown as TaskId) : taskIdOf(objectId);
    if (!taskId) return; // a put object: nothing to cancel, as in Ray
    const t = this.d.tasks.get(taskId);
    if (t) this.cancelTask(t, force, recursive);
  }

  /**
   * Waits for the task's ObjectRef arguments that are not ready, then goes on to placement. On a
   * retry, an argument may be unready again: its only copy left with a node and is being recomputed.
   */
  private awaitArgs(t: TaskEntry): void {
    t.state = 'PENDING_ARGS_AVAIL';
    for (const arg of t.spec.args) {
      if (arg.kind !== 'ref') continue;
      if (this.d.objects.isReady(arg.id)) continue;
      t.depsPending++;
      this.d.objects.onReady(arg.id, () => {
        if (--t.depsPending === 0) this.depsReady(t);
      });
    }
    if (t.depsPending === 0) this.depsReady(t);
  }

  private depsReady(t: TaskEntry): void {
    if (t.cancelled || this.d.tasks.stopped) return;
    // A failed dependency fails the task with the same error, as in Ray.
    for (const arg of t.spec.args) {
      if (arg.kind !== 'ref') continue;
      const err = this.d.objects.get(arg.id)?.obj?.err;
      if (err) {
        this.d.tasks.failTask(t, err);
        if (t.spec.kind === 'actor-method') this.d.actorManager.pumpFor(t);
        return;
      }
    }
    if (t.spec.kind === 'actor-method') {
      t.state = 'PENDING_NODE_ASSIGNMENT';
      this.d.actorManager.pumpFor(t);
      return;
    }
    this.d.scheduler.schedule(t);
  }

  /** The attempt failed: retry it (system failures, and errors `retryExceptions` names) or fail it. */
  private failed(t: TaskEntry, err: WireError, system: boolean): void {
    disarm(t);
    if (t.verification) return this.replicas.lost(t, err); // its first replica timed out
    this.d.scheduler.release(t);
    if (t.cancelled) return this.d.tasks.finish(t, 'FAILED');
    if (system && t.copies && t.spec.kind === 'normal' && !this.d.tasks.stopped) {
      // Its attempt is lost (its node left, its worker died) while a straggler copy runs: the copy
      // goes on as the task's attempt, and no retry is spent.
      this.d.log(`task ${t.spec.name} lost its attempt on node ${t.nodeId} (${err.name}); its copy on node ${t.copies[0]!.nodeId} goes on`);
      this.adoptCopy(t.copies[0]!);
      // Its timeoutMs counts from when the copy was sent, not from now.
      this.armTimeout(t, t.dispatchedAtMs);
      return;
    }
    this.d.scheduler.dropCopies(t);
    if (t.spec.kind === 'actor-creation') return this.d.actorManager.creationFailed(t, err, system);
    const max = t.spec.kind === 'actor-method' ? this.d.actorManager.maxTaskRetries(t) : t.spec.maxRetries;
    // An actor call counts every run (restarts of its actor included) against maxTaskRetries, as before.
    const used = t.spec.kind === 'actor-method' ? t.attempt - 1 : t.retries;
    const retriesLeft = max === -1 || used < max;
    const retryable = system || retryMatches(t.spec.retryExceptions, err);
    if (retryable && retriesLeft && !this.d.tasks.stopped) {
      t.retries++;
      this.d.log(`retrying task ${t.spec.name} (attempt ${t.attempt + 1}) after ${err.name}: ${err.message}`);
      t.nodeId = null;
      if (t.spec.kind === 'actor-method' && this.d.actorManager.retryCall(t)) return;
      // A streaming task's items already delivered stay; the retry's duplicates are ignored by index.
      this.awaitArgs(t);
      return;
    }
    this.d.tasks.failTask(t, err);
  }

  /**
   * A straggler copy takes over from the task's own attempt: that attempt is stopped on its node
   * (if still out) and the copy's node, worker and resources become the task's. Returns the task.
   */
  private adoptCopy(copy: TaskEntry): TaskEntry {
    const t = copy.copyOf!;
    this.d.scheduler.stopAttempt(t);
    detachCopy(copy);
    t.nodeId = copy.nodeId;
    t.attempt = copy.attempt;
    t.state = copy.state;
    t.workerId = copy.workerId;
    t.startedAtMs = copy.startedAtMs;
    t.dispatchedAtMs = copy.dispatchedAtMs;
    t.reserved = copy.reserved;
    t.waitingForWorker = false;
    t.blocked = copy.blocked;
    t.schedClass = copy.schedClass;
    return t;
  }

  /** Arms the attempt's `timeoutMs` (normal tasks only; actors have no such option). */
  private armTimeout(t: TaskEntry, sinceMs?: number): void {
    const ms = t.spec.timeoutMs;
    // A straggler copy's time is its task's: the task's own attempt carries the timer. Each replica
    // of a verified task carries its own.
    if (ms === undefined || t.spec.kind !== 'normal' || (t.copyOf && !t.copyOf.verification)) return;
    disarm(t);
    const attempt = t.attempt;
    const left = sinceMs === undefined ? ms : Math.max(0, ms - (nowMs() - sinceMs));
    t.deadline = setTimeout(() => this.timedOut(t, attempt, ms), left);
  }

  /**
   * The attempt outlived its `timeoutMs`: its worker is terminated, as `ray.cancel(ref, { force:
   * true })` does, and it fails as a system failure (retried within `maxRetries`) at once — the
   * coordinator does not wait for the node to confirm, so a node that never answers cannot wedge it.
   */
  private timedOut(t: TaskEntry, attempt: number, ms: number): void {
    t.deadline = undefined;
    const task = t.copyOf ?? t;
    if (this.d.tasks.stopped || this.d.tasks.get(t.spec.taskId) !== task || t.attempt !== attempt || task.cancelled || !t.nodeId) return;
    if (t.state !== 'SUBMITTED_TO_WORKER' && t.state !== 'RUNNING') return;
    this.d.nodes.get(t.nodeId)?.link.send({ type: 'cancel_task', taskId: t.spec.taskId, force: true });
    const err = wireError(
      'TaskTimeoutError',
      `task ${t.spec.name} (${t.spec.taskId}) was still running ${ms} ms after it started (its timeoutMs); its worker was terminated`,
      { taskId: t.spec.taskId },
    );
    this.failed(t, err, true);
    this.d.scheduler.drain();
  }

  private cancelTask(t: TaskEntry, force: boolean, recursive: boolean): void {
    if (t.cancelled || t.state === 'FINISHED' || t.state === 'FAILED') return;
    if (t.spec.kind === 'actor-method' && t.verification) {
      // A call of a replicated actor already sent to its replicas runs on each: one that skipped it
      // would no longer hold the others' state.
      this.d.log(`ray.cancel of ${t.spec.name}: a call of a replicated actor already sent to its replicas is not cancelled`);
      return;
    }
    t.cancelled = true;
    const err = wireError('TaskCancelledError', `task ${t.spec.name} (${t.spec.taskId}) was cancelled`, { taskId: t.spec.taskId });
    const wasSent = t.state === 'SUBMITTED_TO_WORKER' || t.state === 'RUNNING';
    if (wasSent && t.nodeId) {
      this.d.nodes.get(t.nodeId)?.link.send({ type: 'cancel_task', taskId: t.spec.taskId, force });
    }
    if (t.copies) {
      // Its copies are stopped at once and their resources given back: other tasks may use them now.
      this.d.scheduler.dropCopies(t);
      this.d.scheduler.drain();
    }
    if (t.spec.kind === 'actor-method') this.d.actorManager.callCancelled(t);
    // Fail its returns at once; the node releases its resources when the worker lets go. (A
    // verified task ends now: its replicas are stopped and what they stored is freed.)
    this.d.tasks.failReturns(t, err);
    if (t.verification) this.replicas.cancel(t);
    else if (!wasSent) this.d.tasks.finish(t, 'FAILED');
    if (recursive && t.children) {
      for (const c of t.children) {
        const child = this.d.tasks.get(c);
        if (child) this.cancelTask(child, force, true);
      }
    }
  }
}

/** The pseudo-holder of an actor's creation result. */


function retryMatches(policy: boolean | readonly string[], err: WireError): boolean {
  if (policy === false) return false;
  if (err.name !== 'RayTaskError') return false;
  if (policy === true) return true;
  const chain = err.cause?.classChain ?? (err.cause ? [err.cause.name] : []);
  return chain.some((n) => policy.includes(n));
}
