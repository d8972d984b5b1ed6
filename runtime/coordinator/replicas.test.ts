// Verified tasks at the coordinator: replicas on distinct nodes, the vote on their hashes, the
// results taken from the agreeing nodes, more replicas on disagreement, cancel, too few nodes.
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import type { NodeId } from '../protocol/ids.ts';
import type { TaskResult } from '../protocol/node-messages.ts';
import { LATE_REPLICA_GRACE_MS, SPOT_CHECK_RECORD, STRAGGLER_MIN_MS, STRAGGLER_SWEEP_MS } from './constants.ts';
import { cluster, FakeLink, nid, ret, taskSpec, type Cluster } from './coordinator.fixture.ts';
import type { TaskSpec } from '../protocol/task-spec.ts';
import { resultSha256 } from '../protocol/result-hash.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const runsOf = (k: Cluster, taskId: string) =>
  Object.entries(k.links).flatMap(([node, l]) => l.runs().filter((r) => r.spec.taskId === taskId).map(() => node));
const sent = (k: Cluster, node: string, type: string) => k.links[node]!.sent.filter((m) => m.type === type);

/** `node` reports `spec` done with one result kept in its store (by size), of hash `sha`: taken as it comes. */
function report(k: Cluster, node: string, spec: TaskSpec, sha: string): void {
  const r: TaskResult = { id: ret(spec), size: 1 << 20, sha256: sha };
  k.done(node, spec, [null], { results: [r] });
}

/** `node` reports `spec` done with an inline `value`, claiming hash `sha` (default: the value's own); the coordinator hashes it again. */
async function reportInline(k: Cluster, node: string, spec: TaskSpec, value: unknown, sha?: string): Promise<void> {
  const r: TaskResult = { id: ret(spec), size: 8, obj: { v: value, size: 8 }, sha256: sha ?? (await resultSha256({ v: value })) };
  k.done(node, spec, [value], { results: [r] });
}

describe('Coordinator: verified tasks (replicas)', () => {
  let warn: MockInstance<typeof console.warn>;
  beforeEach(() => {
    warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());

  it('sends replicas: 2 to two distinct nodes and takes the result once both agree', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
    expect(runsOf(k, t.taskId)).toEqual(['n1', 'n2']);
    report(k, 'n1', t, A);
    expect(k.c.locate(ret(t))?.nodes ?? []).toEqual([]); // one report is no majority
    report(k, 'n2', t, A);
    expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n2']);
    expect(k.c.nodeInfos().map((n) => [n.nodeId, n.verified, n.mismatches])).toEqual([['head', 0, 0], ['n1', 1, 0], ['n2', 1, 0], ['n3', 0, 0]]);
    expect(k.c.availableResources().CPU).toBe(3);
  });

  it('runs a third replica on disagreement, takes the majority, frees the dissenter’s stored copy and counts its mismatch', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
    report(k, 'n1', t, A);
    report(k, 'n2', t, B);
    expect(runsOf(k, t.taskId)).toEqual(['n1', 'n2', 'n3']);
    report(k, 'n3', t, A);
    expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n3']);
    expect(sent(k, 'n2', 'free_objects')).toEqual([{ type: 'free_objects', ids: [ret(t)] }]);
    expect(sent(k, 'n1', 'free_objects')).toEqual([]);
    expect(k.c.nodeInfos().find((n) => n.nodeId === nid('n2'))).toMatchObject({ mismatches: 1, verified: 0, quarantined: false });
  });

  it('fails with ResultMismatchError at maxReplicas with no majority, and blames nobody', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 3 }));
    report(k, 'n1', t, A);
    report(k, 'n2', t, B);
    report(k, 'n3', t, 'c'.repeat(64));
    expect(k.errorOf(ret(t))?.name).toBe('ResultMismatchError');
    expect(k.c.nodeInfos().every((n) => n.mismatches === 0)).toBe(true);
    expect(k.c.availableResources().CPU).toBe(3);
  });

  it('ends a cancelled task whose own replica already reported, stopping the others', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
    report(k, 'n1', t, A);
    k.c.cancel(ret(t), false, false);
    expect(k.errorOf(ret(t))?.name).toBe('TaskCancelledError');
    expect(sent(k, 'n2', 'cancel_task')).toEqual([{ type: 'cancel_task', taskId: t.taskId, force: true }]);
    expect(k.c.taskInfos().find((i) => i.taskId === t.taskId)?.state).toBe('FAILED');
    expect(k.c.availableResources().CPU).toBe(2);
    // What the reported replica stored is freed: nothing else knows of it.
    expect(sent(k, 'n1', 'free_objects')).toEqual([{ type: 'free_objects', ids: [ret(t)] }]);
  });

  it('waits, and tells the driver once, while the cluster has too few nodes for the replicas', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
    expect(runsOf(k, t.taskId)).toEqual(['n1']);
    const said = () => warn.mock.calls.filter((c) => /runs 2 replicas on distinct nodes, and no node that has not run it could run it/.test(String(c[0]))).length;
    expect(said()).toBe(1);
    k.c.addNode(nid('n2'), { CPU: 1 }, (k.links.n2 = new FakeLink()), { isCoordinator: false, gpuFallback: false });
    expect(runsOf(k, t.taskId)).toEqual(['n1', 'n2']);
    expect(said()).toBe(1);
  });

  it('quarantines a node at its second mismatch: dropped, and its replicas run elsewhere', () => {
    const k = cluster({ head: { CPU: 0 }, liar: { CPU: 1 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
    for (let i = 0; i < 2; i++) {
      const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
      expect(runsOf(k, t.taskId).slice(0, 2)).toEqual(['liar', 'n1']);
      report(k, 'liar', t, B);
      report(k, 'n1', t, A);
      report(k, 'n2', t, A);
      expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n2']);
    }
    const liar = k.c.nodeInfos().find((n) => n.nodeId === ('liar' as NodeId))!;
    expect(liar).toMatchObject({ mismatches: 2, quarantined: true, alive: false });
    expect(warn.mock.calls.some((c) => /quarantining node liar/.test(String(c[0])))).toBe(true);
    const next = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
    expect(runsOf(k, next.taskId)).toEqual(['n1', 'n2']);
  });

  it('gives the result as soon as a majority agrees, and holds a replica that reports later to it', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, late: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 3, maxReplicas: 7 }));
    expect(runsOf(k, t.taskId)).toEqual(['n1', 'n2', 'late']);
    report(k, 'n1', t, A);
    report(k, 'n2', t, A);
    expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n2']);
    expect(k.c.taskInfos().find((i) => i.taskId === t.taskId)?.state).toBe('FINISHED');
    report(k, 'late', t, B);
    expect(k.c.nodeInfos().find((n) => n.nodeId === nid('late'))).toMatchObject({ mismatches: 1, verified: 0 });
    expect(sent(k, 'late', 'free_objects')).toEqual([{ type: 'free_objects', ids: [ret(t)] }]);
    expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n2']);
    expect(k.c.availableResources().CPU).toBe(3);
  });

  it('stops a replica still out LATE_REPLICA_GRACE_MS after the result was accepted', () => {
    vi.useFakeTimers();
    try {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, silent: { CPU: 1 } });
      const t = k.submit(taskSpec({ replicas: 3, maxReplicas: 7 }));
      report(k, 'n1', t, A);
      report(k, 'n2', t, A);
      vi.advanceTimersByTime(LATE_REPLICA_GRACE_MS - 1);
      expect(sent(k, 'silent', 'cancel_task')).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(sent(k, 'silent', 'cancel_task')).toEqual([{ type: 'cancel_task', taskId: t.taskId, force: true }]);
      expect(k.c.availableResources().CPU).toBe(3);
      expect(k.c.nodeInfos().find((n) => n.nodeId === nid('silent'))?.mismatches).toBe(0);
      expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n2']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('hashes inline results itself: a node that claims the true hash for another value is outvoted as forged', async () => {
    const k = cluster({ head: { CPU: 0 }, liar: { CPU: 1 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
    expect(runsOf(k, t.taskId)).toEqual(['liar', 'n1']);
    // The liar ran the code, so it knows the true hash, and reports it first with its own value.
    await reportInline(k, 'liar', t, 666, await resultSha256({ v: 42 }));
    await reportInline(k, 'n1', t, 42);
    await vi.waitFor(() => expect(runsOf(k, t.taskId)).toContain('n2'));
    await reportInline(k, 'n2', t, 42);
    await vi.waitFor(() => expect(k.c.locate(ret(t))?.obj?.v).toBe(42));
    expect(k.c.nodeInfos().find((n) => n.nodeId === nid('liar'))?.mismatches).toBe(1);
  });

  it('counts only task-code errors as votes: a node whose store was full loses its replica, and nobody is blamed', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5, maxRetries: 1 }));
    k.fail('n1', t, { name: 'ObjectStoreFullError', message: 'full' });
    expect(runsOf(k, t.taskId)).toEqual(['n1', 'n2', 'n3']);
    report(k, 'n2', t, A);
    report(k, 'n3', t, A);
    expect(k.c.nodeInfos().map((n) => n.mismatches)).toEqual([0, 0, 0, 0]);
    expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n2', 'n3']);
  });

  it('stops the task’s own replica still out when the vote fails the task', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 3, maxReplicas: 7, maxRetries: 0 }));
    const boom = { name: 'RayTaskError', message: 'task f failed: RangeError: always' };
    k.fail('n2', t, boom);
    k.fail('n3', t, boom);
    expect(k.errorOf(ret(t))?.message).toMatch(/always/);
    expect(sent(k, 'n1', 'cancel_task')).toEqual([{ type: 'cancel_task', taskId: t.taskId, force: true }]);
    expect(k.c.availableResources().CPU).toBe(3);
  });

  it('gives a replica timeoutMs of its own, and runs it again elsewhere when it runs out', () => {
    vi.useFakeTimers();
    try {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, silent: { CPU: 1 }, n3: { CPU: 1 } });
      const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5, timeoutMs: 1000, maxRetries: 1 }));
      report(k, 'n1', t, A);
      vi.advanceTimersByTime(1000);
      expect(sent(k, 'silent', 'cancel_task')).toEqual([{ type: 'cancel_task', taskId: t.taskId, force: true }]);
      expect(runsOf(k, t.taskId)).toEqual(['n1', 'silent', 'n3']);
      report(k, 'n3', t, A);
      expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n3']);
      expect(k.c.nodeInfos().find((n) => n.nodeId === nid('silent'))?.mismatches).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs a straggling replica again elsewhere when the task has no timeoutMs', () => {
    vi.useFakeTimers();
    try {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, silent: { CPU: 1 }, n3: { CPU: 1 } });
      const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5, maxRetries: 1 }));
      report(k, 'n1', t, A);
      vi.advanceTimersByTime(STRAGGLER_MIN_MS + STRAGGLER_SWEEP_MS);
      expect(runsOf(k, t.taskId)).toEqual(['n1', 'silent', 'n3']);
      expect(sent(k, 'silent', 'cancel_task')).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('frees a result a stopped attempt stored when its late report comes after the task ended', () => {
    vi.useFakeTimers();
    try {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, late: { CPU: 1 } });
      const t = k.submit(taskSpec({ replicas: 3, maxReplicas: 7 }));
      report(k, 'n1', t, A);
      report(k, 'n2', t, A);
      vi.advanceTimersByTime(LATE_REPLICA_GRACE_MS); // the late replica is stopped, the task ends
      expect(sent(k, 'late', 'cancel_task')).toHaveLength(1);
      expect(sent(k, 'late', 'free_objects')).toEqual([]);
      report(k, 'late', t, A); // it had already stored its result when the cancel reached it
      expect(sent(k, 'late', 'free_objects')).toEqual([{ type: 'free_objects', ids: [ret(t)] }]);
      expect(sent(k, 'n1', 'free_objects')).toEqual([]); // an agreeing holder keeps its copy
      expect(k.c.strikesOf(nid('late'))).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('frees nothing for a report of a task never sent to the node (it is refused)', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5, maxRetries: 0 }));
    const boom = { name: 'RayTaskError', message: 'task f failed: Error: x' };
    k.fail('n1', t, boom);
    k.fail('n2', t, boom); // the task failed; n1 and n2 reported, nothing is out
    report(k, 'n3', t, A); // a report for a task never sent to n3 is refused, not freed
    expect(sent(k, 'n3', 'free_objects')).toEqual([]);
  });

  it('clears its timers at shutdown', () => {
    vi.useFakeTimers();
    try {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, late: { CPU: 1 } });
      const t = k.submit(taskSpec({ replicas: 3, maxReplicas: 7 }));
      report(k, 'n1', t, A);
      report(k, 'n2', t, A);
      k.c.stop();
      vi.advanceTimersByTime(LATE_REPLICA_GRACE_MS * 2);
      expect(sent(k, 'late', 'cancel_task')).toEqual([]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs a verified task again from lineage when its agreeing nodes leave while late replicas are judged', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, late: { CPU: 1 }, n4: { CPU: 1 }, n5: { CPU: 1 } });
    const t = k.submit(taskSpec({ replicas: 3, maxReplicas: 7, maxRetries: 3 }));
    report(k, 'n1', t, A);
    report(k, 'n2', t, A);
    k.c.removeNode(nid('n1'), 'tab closed');
    k.c.removeNode(nid('n2'), 'tab closed');
    // The late replica was stopped, and the task runs again on three nodes that had not run it.
    expect(sent(k, 'late', 'cancel_task')).toHaveLength(1);
    expect(runsOf(k, t.taskId).slice(3).sort()).toEqual(['late', 'n4', 'n5']);
    expect(k.c.availableResources().CPU).toBeUndefined(); // all three busy with the new run
  });

  describe('spot checks (init({ verification: { spotCheck } }))', () => {
    const specOf = (k: Cluster, node: string, taskId: string) => k.links[node]!.runs().find((r) => r.spec.taskId === taskId)?.spec;

    it('checks every task of a volunteer with a short record on a second node, and takes the result both agree on', () => {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
      k.c.setVerification({ spotCheck: 0.1 });
      const t = k.submit(taskSpec({ resources: { CPU: 1 } }));
      expect(runsOf(k, t.taskId)).toEqual(['n1', 'n2']);
      // Both runs carry the counts, so both nodes hash their results.
      expect(specOf(k, 'n1', t.taskId)).toMatchObject({ replicas: 2, maxReplicas: 3 });
      expect(specOf(k, 'n2', t.taskId)).toMatchObject({ replicas: 2, maxReplicas: 3 });
      report(k, 'n1', t, A);
      report(k, 'n2', t, A);
      expect(k.c.locate(ret(t))?.nodes?.slice().sort()).toEqual(['n1', 'n2']);
      expect(k.c.nodeInfos().map((n) => n.verified)).toEqual([0, 1, 1]);
    });

    it('checks a proven volunteer’s tasks with probability spotCheck', () => {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
      k.c.setVerification({ spotCheck: 0.5 });
      for (let i = 0; i < SPOT_CHECK_RECORD; i++) {
        const t = k.submit(taskSpec({ resources: { CPU: 1 } }));
        report(k, 'n1', t, A);
        report(k, 'n2', t, A);
      }
      expect(k.c.nodeInfos().map((n) => n.verified)).toEqual([0, SPOT_CHECK_RECORD, SPOT_CHECK_RECORD]);
      const random = vi.spyOn(Math, 'random').mockReturnValue(0.7);
      const unchecked = k.submit(taskSpec({ resources: { CPU: 1 } }));
      expect(runsOf(k, unchecked.taskId)).toEqual(['n1']);
      expect(specOf(k, 'n1', unchecked.taskId)?.replicas).toBeUndefined();
      k.done('n1', unchecked);
      random.mockReturnValue(0.3);
      const checked = k.submit(taskSpec({ resources: { CPU: 1 } }));
      expect(runsOf(k, checked.taskId)).toEqual(['n1', 'n2']);
    });

    it('leaves trusted nodes and the coordinator’s own node unchecked; trustNode refuses an unknown node', () => {
      const k = cluster({ head: { CPU: 1 }, n1: { CPU: 1 }, n2: { CPU: 1 } }, { ownNode: 'head' });
      k.c.setVerification({ spotCheck: 1 });
      const onHead = k.submit(taskSpec({ resources: { CPU: 1 } }));
      expect(runsOf(k, onHead.taskId)).toEqual(['head']);
      k.c.trustNode(nid('n1'));
      const onTrusted = k.submit(taskSpec({ resources: { CPU: 1 } }));
      expect(runsOf(k, onTrusted.taskId)).toEqual(['n1']);
      expect(k.c.nodeInfos().map((n) => n.trusted)).toEqual([true, true, false]);
      expect(() => k.c.trustNode(nid('nope'))).toThrow(/ray\.trustNode: no node nope ever joined this cluster/);
    });

    it('never holds a task back: with no second node that could run it, the one replica stands', () => {
      const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 } });
      k.c.setVerification({ spotCheck: 1 });
      const t = k.submit(taskSpec({ resources: { CPU: 1 } }));
      expect(runsOf(k, t.taskId)).toEqual(['n1']);
      report(k, 'n1', t, A);
      expect(k.c.locate(ret(t))?.nodes).toEqual(['n1']);
      expect(warn).not.toHaveBeenCalled();
    });

    it('does not quarantine a trusted node', () => {
      const k = cluster({ head: { CPU: 0 }, trusted: { CPU: 1 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
      k.c.trustNode(nid('trusted'));
      for (let i = 0; i < 2; i++) {
        const t = k.submit(taskSpec({ replicas: 2, maxReplicas: 5 }));
        report(k, 'trusted', t, B);
        report(k, 'n1', t, A);
        report(k, 'n2', t, A);
      }
      expect(k.c.nodeInfos().find((n) => n.nodeId === nid('trusted'))).toMatchObject({ mismatches: 2, quarantined: false, alive: true });
    });
  });
});

