// The actor manager (Ray's GcsActorManager, its scheduling side): creates actors, sends each
// caller's calls in order once the actor is alive, restarts an actor that died within
// `maxRestarts` (re-running its creation task and retrying calls within `maxTaskRetries`), and
// kills actors for good. The state of each actor is in `actor-directory.ts`.

import { wireError } from '../api/errors.ts';
import { add } from '../common/resources.ts';
import { returnId, type ActorId, type NodeId } from '../protocol/ids.ts';
import type { ActorInfo } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { ActorDirectory, ActorEntry } from './actor-directory.ts';
import type { ClusterScheduler } from './cluster-scheduler.ts';
import type { NodeManager } from './node-manager.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import type { TaskEntry } from './task-entry.ts';
import type { TaskTable } from './task-table.ts';

export interface ActorManagerDeps {
  readonly actors: ActorDirectory;
  readonly tasks: TaskTable;
  readonly nodes: NodeManager;
  readonly scheduler: ClusterScheduler;
  readonly lifetimes: ObjectLifetimes;
  /** The coordinator's debug log. */
  readonly log: (msg: string) => void;
}

export class ActorManager {
  constructor(private readonly d: ActorManagerDeps) {}

  /**
   * A new actor task: a creation registers its actor, a call joins its caller's queue. False when
   * it failed instead (the name is taken, or the actor is unknown).
   */
  admit(t: TaskEntry): boolean {
    const spec = t.spec;
    if (spec.kind === 'actor-creation') {
      const a = this.d.actors.create(spec);
      if (!a) {
        const existing = spec.actor.actorName !== undefined ? this.d.actors.byName(spec.actor.actorName) : undefined;
        if (spec.actor.getIfExists && existing && existing.state !== 'DEAD') {
          // Two callers raced to create one named actor: the later one's handle reaches the first.
          this.d.actors.alias(spec.actorId, existing.actorId);
          for (let i = 0; i < (spec.numReturns as number); i++) this.d.lifetimes.ready(returnId(spec.taskId, i), 8, { v: null, size: 8 }, undefined);
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
      this.d.actors.enqueue(actor, t);
    }
    return true;
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
    const at = a.nodeId ?? a.holding;
    if (at) this.d.nodes.get(at)?.link.send({ type: 'kill_actor', actorId: a.actorId });
    const err = wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) was killed by ray.kill()`, { actorId: a.actorId });
    if (noRestart) this.killForGood(a, err);
    else this.died(a, err);
  }

  /** The actor a handle's id reaches (a `getIfExists` creation's id stands for the actor that had the name). */
  resolve(actorId: ActorId): ActorId {
    return this.d.actors.resolve(actorId);
  }

  /** `ray.get_actor`: a live actor by name. */
  byName(name: string): ActorInfo | undefined {
    const a = this.d.actors.byName(name);
    return a && a.state !== 'DEAD' ? a.info : undefined;
  }

  /** The node an actor runs on reports its worker died. */
  reportedDead(from: NodeId, actorId: ActorId, err: WireError): void {
    const a = this.d.actors.get(actorId);
    if (a && a.nodeId === from) this.died(a, err);
  }

  /** A node left: the actors on it (or holding its resources) died. */
  nodeLeft(nodeId: NodeId, reason: string): void {
    for (const a of this.d.actors.onNode(nodeId)) {
      this.died(a, wireError('ActorDiedError', `actor ${a.info.className} (${a.actorId}) died: its node ${nodeId} left (${reason})`));
    }
  }

  /** Its constructor finished: the actor is alive where it ran. */
  created(t: TaskEntry): void {
    const a = this.actorOf(t);
    if (!a) return;
    a.state = 'ALIVE';
    a.nodeId = t.nodeId;
    for (let i = 0; i < (t.spec.numReturns as number); i++) this.d.lifetimes.ready(returnId(t.spec.taskId, i), 8, { v: null, size: 8 }, undefined);
    this.d.tasks.finish(t, 'FINISHED');
    this.d.tasks.keep(t); // keep the creation spec for restarts
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
    this.actorOf(call)?.inflight.delete(call.spec.taskId);
  }

  /** A call was cancelled: it is neither running nor queued any more. */
  callCancelled(call: TaskEntry): void {
    const a = this.actorOf(call);
    if (a) {
      a.inflight.delete(call.spec.taskId);
      this.d.actors.removeQueued(a, call);
    }
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
    for (const t of this.d.actors.ready(a)) {
      if (t.cancelled) continue;
      t.attempt++;
      t.state = 'SUBMITTED_TO_WORKER';
      t.nodeId = node.nodeId;
      t.reserved = false;
      node.running.add(t.spec.taskId);
      a.inflight.set(t.spec.taskId, t);
      this.d.scheduler.sendTask(node, t);
    }
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

  /** Gives back the resources an actor holds on its node. */
  private releaseActor(a: ActorEntry): void {
    const node = a.holding ? this.d.nodes.get(a.holding) : undefined;
    const c = this.d.tasks.get(a.creationTaskId);
    if (node && node.alive && c) add(node.available, c.spec.heldResources ?? {}, node.total);
    if (node) node.running.delete(a.creationTaskId);
    if (c) this.d.scheduler.leaveClass(c);
    a.holding = null;
  }

  /** The actor is dead for good: its calls, queued and running, fail with `err`. */
  private killForGood(a: ActorEntry, err: WireError, creation?: TaskEntry): void {
    const c = creation ?? this.d.tasks.get(a.creationTaskId);
    this.releaseActor(a);
    this.d.actors.markDead(a, err);
    for (const t of [...a.inflight.values()]) this.d.tasks.failTask(t, err);
    a.inflight.clear();
    if (c) {
      if (c.state !== 'FINISHED' && c.state !== 'FAILED') this.d.tasks.failTask(c, err);
      this.d.tasks.delete(c.spec.taskId);
      this.d.tasks.dropArgs(c);
    }
    this.pump(a);
  }
}
