// The quorum of a verified task (`replicas > 1`), as BOINC validates a work unit: the pure decision,
// from the replicas reported so far, whether to wait, accept a result, run more replicas, or fail.
// replicas.ts runs the replicas on distinct nodes and acts on the decision; this file holds no
// state and sends nothing.
//
// The rule (BOINC's min_quorum / target_nresults / max_total_results):
//   - quorum q = ⌊replicas / 2⌋ + 1, a majority of the replicas first asked for (2 of 2, 2 of 3, 3 of 4);
//   - a result is accepted once q replicas reported the same SHA-256 and no other outcome has as
//     many; the nodes that reported it agree, every other reporting node disagrees;
//   - otherwise, with replicas still running, wait for them;
//   - otherwise run as many more as the leading outcome still lacks (at least one), never past
//     maxReplicas in all;
//   - when even every remaining replica agreeing with the leading outcome could not make q, fail
//     with ResultMismatchError listing every node and what it reported.
//
// Errors: a replica that crashed or whose node left (a system failure) is no report at all — the
// scheduler re-runs that replica elsewhere within the task's maxRetries, as for any task. A
// replica whose task code threw reports that error (`Name: message`) as its outcome: deterministic
// code throws the same on every honest node, so an error reached by a quorum is accepted as the
// task's failure (the caller gets the RayTaskError, as in Ray), and an error in the minority is a
// disagreement like a wrong hash (BOINC counts error results against the host as well).

import { ResultMismatchError, type ReplicaReport } from '../api/errors.ts';

export type { ReplicaReport };

/** What the coordinator knows of one verified task's replicas. */
export interface QuorumState {
  /** Replicas first asked for (≥ 1). */
  readonly replicas: number;
  /** Most replicas to run in all; below `replicas` counts as `replicas`. */
  readonly maxReplicas: number;
  /** One report per replica that finished, in the order they came (one per node: replicas run on distinct nodes). */
  readonly reports: readonly ReplicaReport[];
  /** Replicas started that have not reported yet. */
  readonly running: number;
}

export type QuorumDecision =
  /** Replicas still running could settle it: wait for them. */
  | { readonly kind: 'wait' }
  /** Start this many more replicas, on nodes that have not run this task. */
  | { readonly kind: 'more'; readonly count: number }
  /**
   * A quorum agreed: on a result (`sha256`: keep the copy of an agreeing node) or on an error (the
   * task fails with it). `disagreeing` nodes reported something else.
   */
  | {
      readonly kind: 'accept';
      readonly outcome: { readonly sha256: string } | { readonly error: string };
      readonly agreeing: readonly string[];
      readonly disagreeing: readonly string[];
    }
  /** No majority is possible any more. */
  | { readonly kind: 'fail'; readonly error: ResultMismatchError };

/** ⌊replicas / 2⌋ + 1: the reports that must agree. */
export function quorumSize(replicas: number): number {
  return Math.floor(Math.max(1, replicas) / 2) + 1;
}

/** The outcome a report stands for: its hash, or its error (never equal to a hash: hashes are hex). */
export function outcomeKey(r: ReplicaReport): string {
  return r.sha256 ?? `error: ${r.error ?? 'unknown'}`;
}

export function decideQuorum(taskName: string, s: QuorumState): QuorumDecision {
  const replicas = Math.max(1, Math.floor(s.replicas));
  const maxReplicas = Math.max(replicas, Math.floor(s.maxReplicas));
  const q = replicas === 1 ? 1 : quorumSize(replicas);
  const groups = new Map<string, string[]>();
  for (const r of s.reports) {
    const key = outcomeKey(r);
    const nodes = groups.get(key);
    if (nodes) nodes.push(r.nodeId);
    else groups.set(key, [r.nodeId]);
  }
  let leader: string | undefined;
  let lead = 0;
  let second = 0;
  for (const [key, nodes] of groups) {
    if (nodes.length > lead) {
      second = lead;
      lead = nodes.length;
      leader = key;
    } else if (nodes.length > second) {
      second = nodes.length;
    }
  }
  if (leader !== undefined && lead >= q && lead > second) {
    const agreeing = groups.get(leader)!;
    const first = s.reports.find((r) => outcomeKey(r) === leader)!;
    return {
      kind: 'accept',
      outcome: first.sha256 !== undefined ? { sha256: first.sha256 } : { error: first.error ?? 'unknown' },
      agreeing,
      disagreeing: s.reports.filter((r) => outcomeKey(r) !== leader).map((r) => r.nodeId),
    };
  }
  const started = s.reports.length + s.running;
  const budget = Math.max(0, maxReplicas - started);
  // Replicas that must still agree with the leader (one more to break a tie at the quorum).
  const needed = Math.max(q - lead, lead > 0 && lead === second ? 1 : 0, 1);
  if (needed > s.running + budget) {
    return { kind: 'fail', error: new ResultMismatchError(taskName, s.reports) };
  }
  if (s.running > 0) return { kind: 'wait' };
  if (s.reports.length === 0) return { kind: 'more', count: Math.min(replicas, budget) };
  return { kind: 'more', count: Math.min(needed, budget) };
}
