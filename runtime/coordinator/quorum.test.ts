import { describe, expect, it } from 'vitest';
import { ResultMismatchError, RayError } from '../api/errors.ts';
import { decideQuorum, quorumSize, type QuorumDecision, type ReplicaReport } from './quorum.ts';

const H = 'a'.repeat(64); // the honest answer
const L1 = 'b'.repeat(64); // liars' answers
const L2 = 'c'.repeat(64);
const L3 = 'd'.repeat(64);

const ok = (nodeId: string, sha256: string): ReplicaReport => ({ nodeId, sha256 });
const threw = (nodeId: string, error: string): ReplicaReport => ({ nodeId, error });

function decide(replicas: number, maxReplicas: number, reports: ReplicaReport[], running = 0): QuorumDecision {
  return decideQuorum('estimate', { replicas, maxReplicas, reports, running });
}

/**
 * Plays a verified task through to the end: nodes answer in order (each a fresh node), the
 * decision is followed (more replicas start, waits are answered by the next node).
 */
function play(replicas: number, maxReplicas: number, answers: readonly (string | { error: string })[]): { decision: QuorumDecision; ran: number } {
  const reports: ReplicaReport[] = [];
  let running = 0;
  let next = 0;
  for (;;) {
    const d = decide(replicas, maxReplicas, reports, running);
    if (d.kind === 'accept' || d.kind === 'fail') return { decision: d, ran: next };
    if (d.kind === 'more') running += d.count;
    // One running replica reports.
    const a = answers[next];
    if (a === undefined) throw new Error(`ran out of answers after ${next}`);
    const nodeId = `n${++next}`;
    reports.push(typeof a === 'string' ? ok(nodeId, a) : threw(nodeId, a.error));
    running--;
  }
}

describe('quorum size', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
  ])('%i replicas need %i agreeing', (n, q) => expect(quorumSize(n)).toBe(q));
});

describe('decideQuorum', () => {
  it('starts the replicas asked for', () => {
    expect(decide(2, 5, [])).toEqual({ kind: 'more', count: 2 });
    expect(decide(3, 3, [])).toEqual({ kind: 'more', count: 3 });
  });

  it('waits while the replicas still running could settle it', () => {
    expect(decide(2, 5, [ok('n1', H)], 1)).toEqual({ kind: 'wait' });
    expect(decide(3, 3, [ok('n1', H), ok('n2', L1)], 1)).toEqual({ kind: 'wait' });
  });

  it('accepts when 2 of 2 agree', () => {
    expect(decide(2, 5, [ok('n1', H), ok('n2', H)])).toEqual({ kind: 'accept', outcome: { sha256: H }, agreeing: ['n1', 'n2'], disagreeing: [] });
  });

  it('accepts a majority of 3 before the last replica reports', () => {
    expect(decide(3, 7, [ok('n1', H), ok('n2', H)], 1)).toMatchObject({ kind: 'accept', outcome: { sha256: H }, agreeing: ['n1', 'n2'] });
  });

  it('runs one more on a 1-1 split, then accepts the majority and names the node that disagreed', () => {
    expect(decide(2, 5, [ok('n1', H), ok('n2', L1)])).toEqual({ kind: 'more', count: 1 });
    expect(decide(2, 5, [ok('n1', H), ok('n2', L1), ok('n3', H)])).toEqual({
      kind: 'accept',
      outcome: { sha256: H },
      agreeing: ['n1', 'n3'],
      disagreeing: ['n2'],
    });
  });

  it('fails with ResultMismatchError when 3 replicas give 3 answers and maxReplicas is 3', () => {
    const reports = [ok('n1', L1), ok('n2', L2), ok('n3', H)];
    const d = decide(3, 3, reports);
    expect(d.kind).toBe('fail');
    const err = (d as Extract<QuorumDecision, { kind: 'fail' }>).error;
    expect(err).toBeInstanceOf(ResultMismatchError);
    expect(err).toBeInstanceOf(RayError);
    expect(err.taskName).toBe('estimate');
    expect(err.reports).toEqual(reports);
    expect(err.message).toContain(`node n1: sha256 ${L1}`);
    expect(err.message).toContain(`node n3: sha256 ${H}`);
  });

  it('with two liars, two honest nodes and maxReplicas 5, accepts the honest answer after one more', () => {
    const { decision, ran } = play(3, 5, [L1, L2, H, H]);
    expect(ran).toBe(4);
    expect(decision).toEqual({ kind: 'accept', outcome: { sha256: H }, agreeing: ['n3', 'n4'], disagreeing: ['n1', 'n2'] });
  });

  it('runs as many more as the leader lacks, at most up to maxReplicas', () => {
    // 5 replicas, quorum 3; answers split 1-1-1-1-1: the leader lacks 2, and the budget is 7 - 5 = 2.
    expect(decide(5, 7, [ok('n1', H), ok('n2', L1), ok('n3', L2), ok('n4', L3), ok('n5', 'e'.repeat(64))])).toEqual({ kind: 'more', count: 2 });
    // Budget 1 left but 2 needed: no majority is possible.
    expect(decide(5, 6, [ok('n1', H), ok('n2', L1), ok('n3', L2), ok('n4', L3), ok('n5', 'e'.repeat(64))]).kind).toBe('fail');
  });

  it('fails early when even every replica left agreeing could not make a quorum', () => {
    // 4 replicas (quorum 3), maxReplicas 4: two answers with one each and one still running.
    expect(decide(4, 4, [ok('n1', H), ok('n2', L1), ok('n3', L2)], 1).kind).toBe('fail');
  });

  it('breaks a tie at the quorum with one more replica', () => {
    expect(decide(2, 6, [ok('n1', H), ok('n2', L1), ok('n3', H), ok('n4', L1)])).toEqual({ kind: 'more', count: 1 });
  });

  it('keeps going through several splits until maxReplicas, then fails listing everyone', () => {
    const { decision, ran } = play(2, 5, [H, L1, L2, L3, 'e'.repeat(64)]);
    expect(ran).toBe(5);
    expect(decision.kind).toBe('fail');
    expect((decision as Extract<QuorumDecision, { kind: 'fail' }>).error.reports.map((r) => r.nodeId)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
  });

  it('accepts a single replica at once (replicas: 1)', () => {
    expect(decide(1, 3, [ok('n1', H)])).toMatchObject({ kind: 'accept', outcome: { sha256: H }, agreeing: ['n1'] });
  });

  it('clamps a maxReplicas below replicas to replicas', () => {
    expect(decide(3, 1, [])).toEqual({ kind: 'more', count: 3 });
  });

  describe('errors of the task code', () => {
    it('accepts the same error reached by a quorum as the task failure', () => {
      expect(decide(2, 5, [threw('n1', 'TypeError: x is undefined'), threw('n2', 'TypeError: x is undefined')])).toEqual({
        kind: 'accept',
        outcome: { error: 'TypeError: x is undefined' },
        agreeing: ['n1', 'n2'],
        disagreeing: [],
      });
    });

    it('counts an error in the minority as a disagreement with the majority result', () => {
      const { decision } = play(2, 5, [H, { error: 'Error: lied' }, H]);
      expect(decision).toEqual({ kind: 'accept', outcome: { sha256: H }, agreeing: ['n1', 'n3'], disagreeing: ['n2'] });
    });

    it('never takes an error for a hash', () => {
      expect(decide(2, 2, [ok('n1', H), threw('n2', H)]).kind).toBe('fail');
    });

    it('lists errors in the ResultMismatchError', () => {
      const d = decide(2, 2, [ok('n1', H), threw('n2', 'RangeError: boom')]);
      expect((d as Extract<QuorumDecision, { kind: 'fail' }>).error.message).toContain('node n2: error RangeError: boom');
    });
  });
});
