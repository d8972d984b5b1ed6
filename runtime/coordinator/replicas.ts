// Verified tasks (`replicas > 1`, docs/api.md): BOINC's redundant computing, for a Ray task. The
// task runs on `replicas` distinct nodes at once; each node reports the SHA-256 of every result's
// bytes (node/task-reporter.ts); the result is accepted when a majority agree (quorum.ts decides),
// more replicas run on other nodes on disagreement, up to `maxReplicas`, and with no majority the
// task fails with ResultMismatchError.
//
// The task's own entry is its first replica; the others are attempts like straggler copies
// (`copyOf`), each on a node that has not run the task. A replica's results stay out of the object
// directory until the vote: then the agreeing nodes are the result's locations (an inline value
// comes from one of them), and the copies the other nodes stored are freed there.
//
// Every node that agreed with an accepted majority gains a `verified`; one that disagreed gains a
// `mismatch`, and at `quarantineAfter` (QUARANTINE_MISMATCHES by default) it is quarantined: dropped from the cluster (it gets no
// more tasks and nothing more it sends is taken) and the driver is told.

import { resultMismatchWireError, type ReplicaReport } from '../api/errors.ts';
import { fits } from '../common/resources.ts';
import type { NodeId } from '../protocol/ids.ts';
import { resultSha256 } from '../protocol/result-hash.ts';
import type { NodeToCoordinator } from '../protocol/node-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { ClusterScheduler } from './cluster-scheduler.ts';
import { LATE_REPLICA_GRACE_MS } from './constants.ts';
import type { NodeManager } from './node-manager.ts';
import type { ObjectDirectory } from './object-directory.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import { decideQuorum, outcomeKey } from './quorum.ts';
import { detachCopy, type ReplicaOutcome, type TaskEntry, type Verification } from './task-entry.ts';
import { disarm, nowMs, type TaskTable } from './task-table.ts';

type TaskDone = Extract<NodeToCoordinator, { type: 'task_done' }>;

export interface ReplicasDeps {
  readonly tasks: TaskTable;
  readonly nodes: NodeManager;
  readonly lifetimes: ObjectLifetimes;
  readonly objects: ObjectDirectory;
  readonly scheduler: ClusterScheduler;
  readonly log: { (msg: string): void; warn(msg: string): void };
  /** Drops a node as if it had left (its link closed). */
  readonly quarantine: (nodeId: NodeId, reason: string) => void;
  /** Mismatches that quarantine a node (`init({ verification: { quarantineAfter } })`). */
  readonly quarantineAfter: () => number;
  /** The calls of replicated actors: their outcomes go to the actor manager. */
  readonly actorCalls: {
    /** The call left the table (its vote is over, its replicas all reported or were dropped). */
    ended(call: TaskEntry): void;
    /** These replicas' results disagreed with the majority's. */
    outvoted(call: TaskEntry, nodes: readonly NodeId[]): void;
    /** No majority: the replicas' states differ. */
    diverged(call: TaskEntry, err: WireError): void;
    /** The replica on `node` did not run the call (its worker died, its node left, an argument could not be fetched): its state is behind. */
    replicaLost(call: TaskEntry, node: NodeId, err: WireError): void;
  };
}

export class Replicas {
  /** Verified tasks with replicas wanted and not placed, tried again when room appears. */
  private readonly waiting = new Set<TaskEntry>();

  constructor(private readonly d: ReplicasDeps) {}

  /**
   * The task's first replica is about to go to its node: the task is verified from now on, with
   * `replicas` (its own option, or 2 for a spot check). Its run_task carries these counts, so the
   * node hashes its results.
   */
  begin(t: TaskEntry, replicas: number, maxReplicas: number, spotCheck: boolean): void {
    if (t.verification || !t.nodeId) return;
    t.verification = { replicas, maxReplicas, spotCheck, outcomes: [], reports: [], tried: new Set([t.nodeId]), wanted: replicas - 1, lost: 0, hashing: 0 };
  }

  /**
   * A replicated actor's call is about to go to its replicas on `nodes` (actor-manager.ts): each
   * reports, and the call's result is taken by majority of the replicas the actor was created with.
   * No replica is added: a call whose replicas cannot reach that majority fails.
   */
  beginCall(t: TaskEntry, replicas: number, nodes: readonly NodeId[]): void {
    t.verification = { replicas, maxReplicas: replicas, spotCheck: false, outcomes: [], reports: [], tried: new Set(nodes), wanted: 0, lost: 0, hashing: 0 };
  }

  /** The task's first replica was sent: the others go to other nodes. */
  placeOthers(t: TaskEntry): void {
    if (t.verification && !t.copyOf) this.place(t);
  }

  /** Room may have appeared: place the replicas still wanted. */
  drain(): void {
    if (this.waiting.size === 0) return;
    for (const t of [...this.waiting]) {
      if (this.d.tasks.get(t.spec.taskId) !== t || t.cancelled) this.waiting.delete(t);
      else this.place(t);
    }
  }

  /**
   * A replica ended (`task_done` of its attempt `a`, which ran on `from`). Only an error its task
   * code threw (a RayTaskError) votes; any other failure — its worker died, its node's store was
   * full, its code never arrived — is the node's, not the task's: the replica is lost, and nobody
   * is blamed. Inline results are hashed here again: the vote is on the bytes the coordinator
   * holds, never on a hash a node merely claims for them.
   */
  report(a: TaskEntry, from: NodeId, msg: TaskDone): void {
    const t = a.copyOf ?? a;
    const v = t.verification;
    this.endAttempt(a);
    if (!v || t.cancelled) return;
    if (msg.error) {
      if (msg.systemFailure === true || msg.error.name !== 'RayTaskError') return this.replicaLost(t, msg.error, from);
      return this.record(t, v, { nodeId: from, error: msg.error });
    }
    const results = msg.results ?? [];
    const inline = results.filter((r) => r.obj !== undefined);
    if (inline.length === 0) return this.record(t, v, { nodeId: from, results });
    v.hashing++;
    void Promise.all(inline.map((r) => resultSha256(r.obj!))).then(
      (hashes) => {
        v.hashing--;
        const forged = inline.some((r, i) => r.sha256 !== hashes[i]);
        if (this.d.tasks.get(t.spec.taskId) !== t || t.verification !== v || t.cancelled) {
          this.freeStored([{ nodeId: from, results }]);
          return;
        }
        this.record(t, v, forged ? { nodeId: from, results, forged: true } : { nodeId: from, results });
      },
      (e: unknown) => {
        v.hashing--;
        if (this.d.tasks.get(t.spec.taskId) === t && !t.cancelled) this.replicaLost(t, { name: 'RaySystemError', message: `hashing a replica's result failed: ${String(e)}` }, from);
      },
    );
  }

  /** A replica's attempt `a` was lost (its node left, it sent what cannot be taken, it timed out): it reports nothing. */
  lost(a: TaskEntry, err: WireError): void {
    const t = a.copyOf ?? a;
    const node = a.nodeId;
    this.endAttempt(a);
    if (t.verification && !t.cancelled) this.replicaLost(t, err, node);
  }

  /**
   * The task was cancelled (before a result was accepted): every replica still out is stopped, what
   * the reported ones stored is freed, and it ends now.
   */
  cancel(t: TaskEntry): void {
    const v = t.verification;
    if (!v || v.accepted) return;
    this.freeStored(v.outcomes);
    this.waiting.delete(t);
    this.stopOwnAttempt(t);
    this.d.tasks.finish(t, 'FAILED');
    if (t.spec.kind === 'actor-method') this.d.actorCalls.ended(t);
  }

  /** Ends the task with `err` (its replicas failed or disagreed): every replica still out is stopped, what they stored is freed. */
  private fail(t: TaskEntry, err: WireError): void {
    this.freeStored(t.verification!.outcomes);
    this.waiting.delete(t);
    this.stopOwnAttempt(t);
    this.d.tasks.failTask(t, err);
    if (t.spec.kind === 'actor-method') this.d.actorCalls.ended(t);
  }

  /** The session is over: no replica is placed or judged any more. */
  close(): void {
    for (const t of this.waiting) clearTimeout(t.verification?.lateTimer);
    this.waiting.clear();
    for (const t of this.d.tasks.live()) clearTimeout(t.verification?.lateTimer);
  }

  /** The task's own replica, if still out on its node, is stopped there (its copies go with the task's end). */
  private stopOwnAttempt(t: TaskEntry): void {
    if (!t.nodeId) return;
    this.d.scheduler.stopAttempt(t);
    t.nodeId = null;
  }

  /** A replica's outcome counts: in the vote, or, once a result was accepted, judged against it. */
  private record(t: TaskEntry, v: Verification, outcome: ReplicaOutcome): void {
    v.outcomes.push(outcome);
    v.reports.push(reportOf(outcome));
    if (v.accepted) this.judgeLate(t, v.accepted, outcome);
    else this.decide(t);
  }

  /**
   * A replica (on `node`) reported nothing. Of a task: another runs in its place, within the task's
   * maxRetries; past them the task fails with `err`. Of an actor's call: that replica did not run
   * the call, so it is dropped from the actor (nobody is blamed), and the vote goes on with those left.
   */
  private replicaLost(t: TaskEntry, err: WireError, node: NodeId | null): void {
    const v = t.verification!;
    if (t.spec.kind === 'actor-method' && node) {
      this.d.actorCalls.replicaLost(t, node, err);
      if (this.d.tasks.get(t.spec.taskId) !== t) return; // the actor died with it
    }
    if (v.accepted) {
      this.settleIfDone(t, v.accepted);
      return;
    }
    v.lost++;
    if (t.spec.kind === 'actor-method') return this.decide(t);
    if (t.spec.kind === 'normal' && t.spec.maxRetries !== -1 && v.lost > t.spec.maxRetries) return this.fail(t, err);
    // It reported nothing: the vote still needs it, so it runs again at once on a node that has not run the task.
    v.wanted++;
    this.place(t);
  }

  /** The attempt is over on its node: its resources go back; the task's own entry keeps no node until the vote. */
  private endAttempt(a: TaskEntry): void {
    disarm(a);
    this.d.scheduler.release(a);
    if (a.copyOf) detachCopy(a);
    else a.nodeId = null;
  }

  /** Runs the vote on what has been reported (quorum.ts) and acts on it. */
  private decide(t: TaskEntry): void {
    const v = t.verification!;
    const running = (t.copies?.length ?? 0) + (t.nodeId ? 1 : 0) + v.wanted + v.hashing;
    const d = decideQuorum(t.spec.name, {
      replicas: v.replicas,
      maxReplicas: v.maxReplicas,
      reports: v.reports,
      running,
    });
    switch (d.kind) {
      case 'wait':
        return;
      case 'more':
        if (t.spec.kind === 'actor-method') {
          // An actor's replicas cannot be added to: its replicas left reached no majority.
          const err = resultMismatchWireError(t.spec.name, v.reports);
          this.fail(t, err);
          this.d.actorCalls.diverged(t, err);
          return;
        }
        this.d.log(`task ${t.spec.name}: its replicas disagree or were lost; ${d.count} more run on other nodes`);
        v.wanted += d.count;
        this.place(t);
        return;
      case 'fail':
        // No majority says who is wrong (non-deterministic code disagrees on every node): nobody is credited or blamed.
        this.fail(t, resultMismatchWireError(t.spec.name, v.reports));
        if (t.spec.kind === 'actor-method') this.d.actorCalls.diverged(t, resultMismatchWireError(t.spec.name, v.reports));
        return;
      case 'accept': {
        const agreeing = d.agreeing as NodeId[];
        const disagreeing = d.disagreeing as NodeId[];
        if ('error' in d.outcome && t.spec.kind === 'actor-method') {
          // A quorum of an actor's replicas threw the same error: the call's failure. Its other
          // replicas still run it (each must, to stay in step) and are judged when they report.
          this.freeStored(v.outcomes.filter((o) => !agreeing.includes(o.nodeId)));
          this.d.tasks.failReturns(t, v.outcomes.find((o) => o.nodeId === agreeing[0])!.error!);
          this.accept(t, v, { key: `error: ${d.outcome.error}`, nodeId: agreeing[0]!, failed: true });
        } else if ('error' in d.outcome) {
          // A quorum threw the same error: the task's failure, as Ray raises a task's exception.
          this.fail(t, v.outcomes.find((o) => o.nodeId === agreeing[0])!.error!);
        } else {
          this.freeStored(v.outcomes.filter((o) => !agreeing.includes(o.nodeId)));
          this.take(t, v, agreeing, d.outcome.sha256);
        }
        if (t.spec.kind === 'actor-method' && disagreeing.length > 0) this.d.actorCalls.outvoted(t, disagreeing);
        this.credit(agreeing, disagreeing);
        return;
      }
    }
  }

  /**
   * The agreed results become the task's: ready, located on every agreeing node. Replicas still
   * running go on for up to LATE_REPLICA_GRACE_MS, and each is judged against the result when it
   * reports (a node that answers after the majority is held to it too); then the task ends.
   */
  private take(t: TaskEntry, v: Verification, agreeing: readonly NodeId[], sha256: string): void {
    const first = v.outcomes.find((o) => o.nodeId === agreeing[0])!;
    const results = first.results ?? [];
    for (const r of results) {
      this.d.lifetimes.ready(r.id, r.size, r.obj, first.nodeId, r.refs);
      // A stored result is pulled from one of the agreeing nodes: the puller checks the bytes it gets.
      const e = this.d.objects.get(r.id);
      if (!r.obj && e) e.sha256 = r.sha256;
    }
    for (const o of v.outcomes) {
      if (o === first || !agreeing.includes(o.nodeId)) continue;
      for (const r of o.results ?? []) if (!r.obj) this.d.lifetimes.located(r.id, o.nodeId);
    }
    if (t.spec.kind === 'normal' && results.some((r) => r.obj === undefined) && this.d.lifetimes.recordLineage(t.spec, t.submittedBy, results.map((r) => r.id))) {
      t.argsHeld = false;
    }
    this.accept(t, v, { key: sha256, nodeId: first.nodeId });
  }

  /** The task's outcome is decided: it waits only for the replicas still out (for a task, up to LATE_REPLICA_GRACE_MS). */
  private accept(t: TaskEntry, v: Verification, accepted: NonNullable<Verification['accepted']>): void {
    v.accepted = accepted;
    v.wanted = 0;
    this.waiting.delete(t);
    t.state = accepted.failed ? 'FAILED' : 'FINISHED';
    t.endedAtMs = nowMs();
    if (this.settleIfDone(t, accepted)) return;
    // An actor's replicas run its calls in order: a late one is judged whenever it reports (or is dropped).
    if (t.spec.kind === 'actor-method') return;
    v.lateTimer = setTimeout(() => {
      v.lateTimer = undefined;
      if (this.d.tasks.get(t.spec.taskId) === t) this.endGrace(t);
    }, LATE_REPLICA_GRACE_MS);
  }

  /**
   * Stops the replicas of an accepted task still out and ends it: its grace ran out, or its
   * result was lost and lineage runs it again (the new run takes its place in the table).
   */
  endGrace(t: TaskEntry): void {
    const v = t.verification;
    if (!v?.accepted) return;
    clearTimeout(v.lateTimer);
    this.d.scheduler.dropCopies(t);
    this.stopOwnAttempt(t);
    this.settleIfDone(t, v.accepted);
  }

  /** A replica reported after the result was accepted: held to it. */
  private judgeLate(t: TaskEntry, accepted: NonNullable<Verification['accepted']>, o: ReplicaOutcome): void {
    if (outcomeKey(reportOf(o)) === accepted.key) {
      for (const r of o.results ?? []) if (!r.obj) this.d.lifetimes.located(r.id, o.nodeId);
      this.credit([o.nodeId], []);
    } else {
      this.freeStored([o]);
      if (t.spec.kind === 'actor-method') this.d.actorCalls.outvoted(t, [o.nodeId]);
      this.credit([], [o.nodeId]);
    }
    this.settleIfDone(t, accepted);
  }

  /** An accepted task with no replica out any more leaves the table. True when it did. */
  private settleIfDone(t: TaskEntry, accepted: NonNullable<Verification['accepted']>): boolean {
    // A report still being hashed is a replica out: it is judged when its hash is known.
    if (t.nodeId || t.copies || (t.verification?.hashing ?? 0) > 0) return false;
    clearTimeout(t.verification?.lateTimer);
    t.nodeId = accepted.nodeId;
    this.d.tasks.finish(t, accepted.failed ? 'FAILED' : 'FINISHED');
    if (t.spec.kind === 'actor-method') this.d.actorCalls.ended(t);
    return true;
  }

  /** Frees the results these replicas stored on their nodes (never listed as locations). */
  private freeStored(outcomes: readonly ReplicaOutcome[]): void {
    for (const o of outcomes) {
      const ids = (o.results ?? []).filter((r) => !r.obj).map((r) => r.id);
      const node = this.d.nodes.get(o.nodeId);
      if (ids.length > 0 && node?.alive) node.link.send({ type: 'free_objects', ids });
    }
  }

  /** Nodes that agreed with an accepted result are verified once more; the others mismatched, and may be quarantined. */
  private credit(agreeing: readonly NodeId[], disagreeing: readonly NodeId[]): void {
    for (const id of agreeing) {
      const n = this.d.nodes.get(id);
      if (n) n.verified++;
    }
    for (const id of disagreeing) {
      const n = this.d.nodes.get(id);
      if (!n) continue;
      n.mismatches++;
      if (n.mismatches >= this.d.quarantineAfter() && !n.quarantined && !n.isCoordinator && !n.trusted) {
        n.quarantined = true;
        const why = `its results disagreed with the majority of a verified task's replicas ${n.mismatches} times`;
        this.d.log.warn(`quarantining node ${id}${n.label ? ` (${n.label})` : ''}: ${why}; it gets no more tasks and nothing more it sends is taken`);
        if (n.alive) this.d.quarantine(id, `quarantined: ${why}`);
      }
    }
  }

  /** Places wanted replicas on nodes that have not run the task, while one has room. */
  private place(t: TaskEntry): void {
    const v = t.verification!;
    while (v.wanted > 0) {
      const node = this.d.scheduler.placeCopy(t, v.tried);
      if (!node) break;
      v.tried.add(node);
      v.wanted--;
    }
    if (v.wanted > 0) {
      t.pendingReason = `${v.wanted} more replica(s) wait for a node with room that has not run this task`;
      const nowhere = !this.d.nodes.all().some((n) => n.alive && !v.tried.has(n.nodeId) && fits(t.spec.resources, n.total));
      if (nowhere && v.spotCheck) {
        // A spot check never holds a task back: with no other node that could run it, its one replica stands.
        v.replicas = 1;
        v.maxReplicas = 1;
        v.wanted = 0;
        this.waiting.delete(t);
        if (v.reports.length > 0) this.decide(t);
        return;
      }
      if (!v.warned && nowhere) {
        v.warned = true;
        this.d.log.warn(
          `task ${t.spec.name} runs ${v.replicas} replicas on distinct nodes, and no node that has not run it could run it: ` +
            `it waits until more nodes join (replicas: 1 runs it once)`,
        );
      }
      this.waiting.add(t);
    } else {
      t.pendingReason = null;
      this.waiting.delete(t);
    }
  }
}

/** A replica's outcome as the vote and ResultMismatchError see it. */
function reportOf(o: ReplicaOutcome): ReplicaReport {
  if (o.error) return { nodeId: o.nodeId, error: `${o.error.name}: ${o.error.message}` };
  if (o.forged) return { nodeId: o.nodeId, error: 'an inline result whose bytes do not match the SHA-256 it was reported with' };
  const hashes = (o.results ?? []).map((r) => r.sha256);
  // A result without its hash cannot be compared: it stands for nothing another node can match.
  if (hashes.some((h) => h === undefined)) return { nodeId: o.nodeId, error: 'a result without its SHA-256' };
  return { nodeId: o.nodeId, sha256: hashes.join('+') };
}
