// The actor manager (Ray's GcsActorManager, its scheduling side): creates actors, sends each
// caller's calls in order once the actor is alive, restarts an actor that died within
// `maxRestarts` (re-running its creation task and retrying calls within `maxTaskRetries`), and
// kills actors for good. The state of each actor is in `actor-directory.ts`.

import { wireError } from '../api/errors.ts';
import { fits } from '../common/resources.ts';
import { returnId, taskIdOf, type ActorId, type HolderId, type NodeId, type ObjectId } from '../protocol/ids.ts';
import type { ActorInfo } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import { hosts, replicaNodes, type ActorDirectory, type ActorEntry } from './actor-directory.ts';
import type { ClusterScheduler } from './cluster-scheduler.ts';
import type { NodeManager } from './node-manager.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import { quorumSize } from './quorum.ts';
import { detachCopy, type TaskEntry } from './task-entry.ts';
import type { TaskTable } from './task-table.ts';

export interface ActorManagerDeps {
  readonly actors: ActorDirectory;
  readonly tasks: TaskTable;
  readonly nodes: NodeManager;
  readonly scheduler: ClusterScheduler;
  readonly lifetimes: ObjectLifetimes;
  /** The coordinator's debug log, and warnings for the driver. */
  readonly log: { (msg: string): void; warn(msg: string): void };
  /** A replicated actor's call is about to go to its replicas on these nodes: its vote begins (replicas.ts). */
  readonly verifyCall: (call: TaskEntry, nodes: readonly NodeId[]) => void;
  /** A replica's attempt of a call will never report (the replica was dropped): the vote goes on without it. */
  readonly callAttemptLost: (attempt: TaskEntry, err: WireError) => void;
}

export class ActorManager {
  /** Replicated actors with replicas not placed yet, tried again when room appears. */
  private readonly waiting = new Set<ActorEntry>();

  constructor(private readonly d: ActorManagerDeps) {}

  /**
   * A new actor task: a creation registers its actor, a call joins its caller's queue. False when
   * it failed instead (the name is taken, or the actor is unknown).
   */
  admit(t: TaskEntry): boolean {
    const spec = t.spec;
    if (spec.kind === 'actor-creation' && (spec.replicas ?? 1) > 1 && (spec.actor.maxRestarts !== 0 || spec.actor.maxConcurrency > 1)) {
      // `.remote()` refuses these; a spec from elsewhere is held to the same rule.
      this.d.tasks.failTask(t, wireError('TypeError', `${spec.actor.className}: a replicated actor runs one call at a time and is not restarted (maxConcurrency 1, maxRestarts 0)`));
      return false;
    }
    if (spec.kind === 'actor-creation') {
      const a = this.d.actors.create(spec);
      if (!a) {
        const existing = spec.actor.actorName !== undefined ? this.d.actors.byName(spec.actor.actorName, spec.actor.namespace) : undefined;
        if (spec.actor.getIfExists && existing && existing.state !== 'DEAD') {
          // Two callers raced to create one named actor: the later one's handle reaches the first,
          // and keeps it alive (its handle object holds the first's, as a nested ref).
          this.d.actors.alias(spec.actorId, existing.actorId);
          for (let i = 0; i < (spec.numReturns as number); i++) this.d.lifetimes.ready(returnId(spec.taskId, i), 8, { v: null, size: 8 }, undefined, i === 0 ? [returnId(existing.creationTaskId, 0)] : undefined);
          this.d.tasks.finish(t, 'FINISHED');
          return false;
        }
        this.d.tasks.failTask(t, wireError('ActorDiedError', `an actor named "${spec.actor.actorName}" already exists`));
        return false;
      }
    }
    if (spec.kind === 'actor-method') {
      const actor = this.d.actors.get(spec.actorId);
      if (!actor) {
        this.d.tasks.failTask(t, wireError('ActorDiedError', `actor ${spec.actorId} does not exist in this cluster (was it created by an earlier session?)`));
        return false;
      }
      if (actor.replication && spec.numReturns === 'streaming') {
        this.d.tasks.failTask(t, wireError('TypeError', `${spec.name}: a streaming method of a replicated actor cannot be verified (its items are not compared); return an array, or create the actor with replicas: 1`));
        return false;
      }
      this.d.actors.enqueue(actor, t);
    }
    return true;
  }

  /**
   * A replicated actor's creation went to its first node: its other replicas go to other nodes,
   * each running the constructor there, and it is alive once every constructor has finished.
   */
  placeReplicas(creation: TaskEntry): void {
    const a = creation.copyOf ? undefined : this.actorOf(creation);
    const r = a?.replication;
    if (!a || !r || a.state === 'DEAD') return;
    const tried = new Set(replicaNodes(a));
    while (r.wanted > 0) {
      const node = this.d.scheduler.placeCopy(creation, tried);
      if (!node) break;
      tried.add(node);
      r.wanted--;
    }
    if (r.wanted === 0) {
      this.waiting.delete(a);
      creation.pendingReason = null;
      return;
    }
    this.waiting.add(a);
    creation.pendingReason = `${r.wanted} more replica(s) of the actor wait for a node with room that holds none`;
    if (!r.warned && !this.d.nodes.all().some((n) => n.alive && !tried.has(n.nodeId) && fits(creation.spec.resources, n.total))) {
      r.warned = true;
      this.d.log.warn(`actor ${a.info.className} (${a.actorId}) runs ${r.count} replicas on distinct nodes, and too few nodes could hold one: it waits until more nodes join (replicas: 1 runs it once)`);
    }
  }

  /** Room may have appeared: place the replicas still wanted. */
  drain(): void {
    for (const a of [...this.waiting]) {
      const c = this.d.tasks.get(a.creationTaskId);
      if (a.state === 'DEAD' || !c) this.waiting.delete(a);
      else this.placeReplicas(c);
    }
  }

  /**
   * One of a replicated actor's other replicas finished its constructor (the copy `attempt` of its
   * creation), or failed: a replica lost while the actor is being created takes the actor with it.
   */
  replicaCreated(attempt: TaskEntry, err: WireError | undefined): void {
    const a = this.actorOf(attempt);
    const node = attempt.nodeId;
    detachCopy(attempt);
    this.d.scheduler.release(attempt);
    if (!a?.replication || !node || a.state === 'DEAD') return;
    if (err) {
      const why = err.name === 'RayTaskError' ? `its constructor failed on node ${node}: ${err.cause?.name ?? err.name}: ${err.cause?.message ?? err.message}` : `a replica was lost on node ${node} (${err.name}: ${err.message})`;
      return this.killForGood(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) died: ${why}`, { actorId: a.actorId }, err));
    }
    a.replication.others.set(node, 'alive');
    const c = this.d.tasks.get(a.creationTaskId);
    if (c && a.nodeId && c.state !== 'FINISHED') this.alive(a, c);
  }

  /** An actor call's arguments are ready (or one failed): send what may go now. */
  pumpFor(call: TaskEntry): void {
    const a = this.actorOf(call);
    if (a) this.pump(a);
  }

  /** `ray.kill`: tells its node, then restarts it (within maxRestarts) or, with noRestart, ends it. */
  kill(actorId: ActorId, noRestart: boolean): void {
    const a = this.d.actors.get(actorId);
    if (!a || a.state === 'DEAD') return;
    // `holding` covers an actor whose constructor is still running on its node.
    for (const at of replicaNodes(a)) this.d.nodes.get(at)?.link.send({ type: 'kill_actor', actorId: a.actorId });
    const err = wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) was killed by ray.kill()`, { actorId: a.actorId });
    if (noRestart) this.killForGood(a, err);
    else this.died(a, err);
  }

  /** The actor a handle's id reaches (a `getIfExists` creation's id stands for the actor that had the name). */
  resolve(actorId: ActorId): ActorId {
    return this.d.actors.resolve(actorId);
  }

  /** `ray.get_actor`: a live actor by name, in `namespace` (default: the job's). */
  byName(name: string, namespace?: string): ActorInfo | undefined {
    const a = this.d.actors.byName(name, namespace);
    return a && a.state !== 'DEAD' && !a.unreferenced ? a.info : undefined;
  }

  /** `ray.get_actor` for `holder` (on `node`): the live actor by name, whose handle object the holder now holds a ref to. */
  handOut(name: string, namespace: string | undefined, holder: HolderId, node: NodeId | undefined): ActorInfo | undefined {
    const info = this.byName(name, namespace);
    if (info?.handleId) this.d.lifetimes.callerHoldsOne(holder, node, info.handleId);
    return info;
  }

  /**
   * The object every handle to an actor holds was freed: no handle to the actor is left anywhere.
   * As in Ray, the actor is terminated once the calls it was given have ended.
   */
  unreferenced(handleId: ObjectId): void {
    const creationTaskId = taskIdOf(handleId);
    const a = creationTaskId ? this.d.actors.byCreation(creationTaskId) : undefined;
    if (creationTaskId) this.d.actors.forgetCreation(creationTaskId);
    if (!a || a.state === 'DEAD') return;
    a.unreferenced = true;
    // Nobody can reach it by name any more: a new actor may take the name (getIfExists makes one).
    this.d.actors.releaseName(a);
    this.collectIfIdle(a);
  }

  /** An actor with no handle left and no call queued or running is terminated: its workers stop and its resources go back. */
  private collectIfIdle(a: ActorEntry): void {
    if (!a.unreferenced || a.state === 'DEAD' || this.d.tasks.stopped || a.inflight.size > 0 || this.d.actors.hasQueued(a)) return;
    for (const at of replicaNodes(a)) this.d.nodes.get(at)?.link.send({ type: 'kill_actor', actorId: a.actorId });
    this.d.log(`actor ${a.actorId} has no handle left: terminated`);
    this.killForGood(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) was terminated: no handle to it was left (create it with lifetime: 'detached' to keep it until ray.kill)`, { actorId: a.actorId }));
  }

  /** The node an actor runs on reports its worker died. */
  reportedDead(from: NodeId, actorId: ActorId, err: WireError): void {
    const a = this.d.actors.get(actorId);
    if (a?.replication && a.state === 'ALIVE' && hosts(a, from)) this.dropReplica(a, from, `its replica on node ${from} died (${err.message})`);
    else if (a && a.nodeId === from) this.died(a, err);
  }

  /** A node left: the actors on it (or holding its resources) died, or, replicated, lost a replica. */
  nodeLeft(nodeId: NodeId, reason: string): void {
    for (const a of this.d.actors.onNode(nodeId)) {
      if (a.replication && a.state === 'ALIVE') this.dropReplica(a, nodeId, `its node ${nodeId} left (${reason})`);
      else this.died(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) died: its node ${nodeId} left (${reason})`));
    }
  }

  /**
   * A replicated actor's call was judged: the replicas on `nodes` disagreed with the majority. They
   * are dropped (each actor is killed on its node), and the actor goes on degraded.
   */
  outvoted(call: TaskEntry, nodes: readonly NodeId[]): void {
    const a = this.actorOf(call);
    if (!a?.replication) return;
    for (const n of nodes) if (a.state === 'ALIVE') this.dropReplica(a, n, `its replica on node ${n} returned a result the majority of its replicas disagree with, in call ${call.spec.name}`);
  }

  /** A replica of the call's actor did not run the call (it reported no outcome): it is dropped, and nobody is blamed. */
  replicaLost(call: TaskEntry, node: NodeId, err: WireError): void {
    const a = this.actorOf(call);
    if (a?.replication && a.state === 'ALIVE') this.dropReplica(a, node, `its replica on node ${node} did not run call ${call.spec.name} (${err.name}: ${err.message})`);
  }

  /**
   * A replicated actor's call reached no majority (ResultMismatchError): its replicas no longer
   * agree on its state, so no later call can be trusted: the actor dies.
   */
  diverged(call: TaskEntry, err: WireError): void {
    const a = this.actorOf(call);
    if (!a?.replication || a.state === 'DEAD') return;
    this.killForGood(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) died: its replicas no longer agree (${err.message})`, { actorId: a.actorId }, err));
  }

  /** Its constructor finished: the actor is alive where it ran (a replicated actor, once every replica's has). */
  created(t: TaskEntry): void {
    const a = this.actorOf(t);
    if (!a) return;
    a.nodeId = t.nodeId;
    const r = a.replication;
    if (r && (r.wanted > 0 || [...r.others.values()].some((s) => s !== 'alive'))) return; // the others' constructors still run
    this.alive(a, t);
  }

  /** Every replica's constructor finished: the actor takes calls. */
  private alive(a: ActorEntry, t: TaskEntry): void {
    a.state = 'ALIVE';
    this.d.tasks.finish(t, 'FINISHED');
    this.d.tasks.keep(t); // keep the creation spec for restarts
    // Its handle object becomes ready: if every handle went meanwhile, the actor is collected here.
    for (let i = 0; i < (t.spec.numReturns as number); i++) this.d.lifetimes.ready(returnId(t.spec.taskId, i), 8, { v: null, size: 8 }, undefined);
    this.pump(a);
  }

  /** Its creation task failed: a system failure restarts it, a constructor error ends it. */
  creationFailed(t: TaskEntry, err: WireError, system: boolean): void {
    const a = this.actorOf(t);
    if (!a) return this.d.tasks.failTask(t, err);
    if (system) return this.died(a, err);
    return this.killForGood(
      a,
      wireError(
        'ActorDiedError',
        `actor ${a.info.className} (${a.actorId}) died: its constructor failed: ${err.cause?.name ?? err.name}: ${err.cause?.message ?? err.message}`,
        { actorId: a.actorId },
        err,
      ),
      t,
    );
  }

  /**
   * A task can never be placed. An actor's creation (first, or a restart pinned to a node that
   * left): the actor dies for good and its calls, queued or to come, fail with ActorDiedError
   * naming why, rather than wait forever. Any other task fails with `err`.
   */
  unschedulable(t: TaskEntry, err: WireError): void {
    const a = t.spec.kind === 'actor-creation' ? this.actorOf(t) : undefined;
    if (!a) return this.d.tasks.failTask(t, err);
    this.killForGood(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) died: it cannot be placed: ${err.message}`, { actorId: a.actorId }, err), t);
  }

  /** How many replicas the call's actor was created with (1: not replicated, or unknown). */
  replicasOf(call: TaskEntry): number {
    return this.actorOf(call)?.replication?.count ?? 1;
  }

  /** How many times a call to this actor may be retried (0 when the actor is unknown). */
  maxTaskRetries(call: TaskEntry): number {
    return this.actorOf(call)?.maxTaskRetries ?? 0;
  }

  /** Puts a failed call back at the head of its caller's queue; false when the actor is unknown. */
  retryCall(call: TaskEntry): boolean {
    const a = this.actorOf(call);
    if (!a) return false;
    call.state = 'PENDING_NODE_ASSIGNMENT';
    this.d.actors.requeue(a, [call]);
    this.pump(a);
    return true;
  }

  /** A call's worker reported it done. */
  callEnded(call: TaskEntry): void {
    const a = this.actorOf(call);
    if (!a) return;
    a.inflight.delete(call.spec.taskId);
    if (a.unreferenced) this.collectSoon(a);
  }

  /** A call was cancelled: it is neither running nor queued any more. */
  callCancelled(call: TaskEntry): void {
    const a = this.actorOf(call);
    if (a) {
      a.inflight.delete(call.spec.taskId);
      this.d.actors.removeQueued(a, call);
      if (a.unreferenced) this.collectSoon(a);
    }
  }

  /**
   * Looks again once the report being handled is done: a call that ended with an error may be
   * put back in the queue for a retry (maxTaskRetries, retryExceptions) in the same turn, and the
   * actor must stay for it.
   */
  private collectSoon(a: ActorEntry): void {
    queueMicrotask(() => this.collectIfIdle(a));
  }

  /** The actor a creation task creates or a call calls (undefined for a normal task, or an unknown actor). */
  private actorOf(t: TaskEntry): ActorEntry | undefined {
    return t.spec.kind === 'normal' ? undefined : this.d.actors.get(t.spec.actorId);
  }

  /** Sends every call whose turn has come (per caller, in order) to the actor's node. */
  private pump(a: ActorEntry): void {
    if (a.state === 'DEAD') {
      for (const t of this.d.actors.drainQueued(a)) this.d.tasks.failTask(t, a.deathCause!);
      return;
    }
    if (a.state !== 'ALIVE' || !a.nodeId) return;
    const node = this.d.nodes.get(a.nodeId);
    if (!node || !node.alive) return;
    const nodes = a.replication ? replicaNodes(a) : undefined;
    for (const t of this.d.actors.ready(a)) {
      if (t.cancelled) continue;
      t.attempt = ++t.dispatches;
      t.state = 'SUBMITTED_TO_WORKER';
      t.nodeId = node.nodeId;
      t.reserved = false;
      node.running.add(t.spec.taskId);
      a.inflight.set(t.spec.taskId, t);
      // A replicated actor's call goes to every replica, in the same order on each.
      if (nodes) this.d.verifyCall(t, nodes);
      this.d.scheduler.sendTask(node, t);
      if (nodes) for (let i = 1; i < nodes.length; i++) this.d.scheduler.sendReplicaCall(t, this.d.nodes.get(nodes[i]!)!);
    }
  }

  /**
   * Drops one replica of a live replicated actor: it is killed on its node (if still there), its
   * resources go back, its calls still out count as lost in their votes. With fewer replicas left
   * than a majority of those asked for, no call can be verified any more: the actor dies.
   */
  private dropReplica(a: ActorEntry, nodeId: NodeId, why: string): void {
    const r = a.replication!;
    const node = this.d.nodes.get(nodeId);
    if (nodeId === a.nodeId || nodeId === a.holding) {
      // The first replica goes: another takes its place (every replica has had every call).
      const next = [...r.others.keys()][0];
      if (next) r.others.delete(next);
      this.giveBack(a, nodeId);
      a.nodeId = a.holding = next ?? null;
      const c = this.d.tasks.get(a.creationTaskId);
      if (c) c.nodeId = a.nodeId;
    } else if (r.others.delete(nodeId)) {
      this.giveBack(a, nodeId);
    } else {
      return;
    }
    if (node?.alive) node.link.send({ type: 'kill_actor', actorId: a.actorId });
    r.degraded = true;
    const left = replicaNodes(a).length;
    if (left < quorumSize(r.count)) {
      // No call can be verified any more: the actor dies, and its calls with it.
      return this.killForGood(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) died: ${left} of its ${r.count} replicas are left, fewer than a majority, so no call can be verified (the last one dropped: ${why})`, { actorId: a.actorId }));
    }
    this.d.log.warn(`actor ${a.info.className} (${a.actorId}): dropped a replica: ${why}; ${left} of its ${r.count} replicas run`);
    const err = wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) lost a replica: ${why}`, { actorId: a.actorId });
    for (const call of [...a.inflight.values()]) {
      const attempt = call.nodeId === nodeId ? call : call.copies?.find((c) => c.nodeId === nodeId);
      if (attempt) {
        node?.running.delete(call.spec.taskId);
        this.d.callAttemptLost(attempt, err);
      }
    }
  }

  /** Gives back the actor's resources on one node. */
  private giveBack(a: ActorEntry, nodeId: NodeId): void {
    const node = this.d.nodes.get(nodeId);
    const c = this.d.tasks.get(a.creationTaskId);
    if (node && node.alive && c) this.d.nodes.giveBack(node, c.spec.heldResources ?? {});
    if (node) node.running.delete(a.creationTaskId);
  }

  /** The actor died: restart it within maxRestarts, its running calls within maxTaskRetries. */
  private died(a: ActorEntry, err: WireError): void {
    if (a.state === 'DEAD') return;
    const node = a.nodeId ? this.d.nodes.get(a.nodeId) : undefined;
    const creation = this.d.tasks.get(a.creationTaskId);
    this.releaseActor(a);
    if (node) for (const id of a.inflight.keys()) node.running.delete(id);
    const canRestart = a.maxRestarts === -1 || a.restarts < a.maxRestarts;
    if (!canRestart || !creation || this.d.tasks.stopped) {
      this.killForGood(a, err);
      return;
    }
    a.restarts++;
    a.state = 'RESTARTING';
    a.nodeId = null;
    const retry: TaskEntry[] = [];
    for (const t of a.inflight.values()) {
      if (a.maxTaskRetries === -1 || t.attempt <= a.maxTaskRetries) {
        t.state = 'PENDING_NODE_ASSIGNMENT';
        retry.push(t);
      } else {
        this.d.tasks.failTask(t, wireError('ActorDiedError', `${err.message}; the call was running and maxTaskRetries is ${a.maxTaskRetries}`, { actorId: a.actorId }));
      }
    }
    a.inflight.clear();
    this.d.actors.requeue(a, retry);
    this.d.log(`restarting actor ${a.actorId} (${a.restarts}/${a.maxRestarts})`);
    creation.state = 'PENDING_NODE_ASSIGNMENT';
    creation.nodeId = null;
    this.d.scheduler.schedule(creation);
  }

  /** Gives back the resources an actor holds on its node (a replicated actor: on each; the others are killed there). */
  private releaseActor(a: ActorEntry): void {
    const c = this.d.tasks.get(a.creationTaskId);
    if (a.holding) this.giveBack(a, a.holding);
    for (const n of a.replication?.others.keys() ?? []) {
      this.giveBack(a, n);
      const node = this.d.nodes.get(n);
      if (node?.alive) node.link.send({ type: 'kill_actor', actorId: a.actorId });
    }
    a.replication?.others.clear();
    this.waiting.delete(a);
    if (c) this.d.scheduler.leaveClass(c);
    a.holding = null;
  }

  /** The actor is dead for good: its calls, queued and running, fail with `err`. */
  private killForGood(a: ActorEntry, err: WireError, creation?: TaskEntry): void {
    const c = creation ?? this.d.tasks.get(a.creationTaskId);
    this.releaseActor(a);
    this.d.actors.markDead(a, err);
    // A replicated actor's call already decided by its majority (still waiting for late replicas) ends as decided.
    for (const t of [...a.inflight.values()]) {
      if (t.state === 'FINISHED' || t.state === 'FAILED') this.d.tasks.finish(t, t.state);
      else this.d.tasks.failTask(t, err);
    }
    a.inflight.clear();
    if (c) {
      if (c.state !== 'FINISHED' && c.state !== 'FAILED') this.d.tasks.failTask(c, err);
      this.d.tasks.delete(c.spec.taskId);
      this.d.tasks.dropArgs(c);
    }
    this.pump(a);
  }
}
