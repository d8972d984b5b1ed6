// Task option timeoutMs, enforced by the coordinator: an attempt still running after it is stopped
// (force-cancelled on its node) and fails with TaskTimeoutError, retried like a system failure.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WorkerId } from '../protocol/ids.ts';
import type { TaskSpec } from '../protocol/task-spec.ts';
import { cluster, nid, ret, taskSpec, type Cluster } from './coordinator.fixture.ts';

function start(k: Cluster, node: string, spec: TaskSpec): void {
  k.c.handleNodeMessage(nid(node), { type: 'task_started', taskId: spec.taskId, workerId: 'w1' as WorkerId, atMs: 0 });
}

const cancels = (k: Cluster, node: string) => k.links[node]!.sent.filter((m) => m.type === 'cancel_task');

describe('Coordinator: task timeoutMs', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('force-cancels an attempt still running after timeoutMs, frees its CPU and fails it with TaskTimeoutError', () => {
    const k = cluster({ n1: { CPU: 1 } });
    const t = k.submit(taskSpec({ timeoutMs: 1000, maxRetries: 0, resources: { CPU: 1 } }));
    start(k, 'n1', t);
    vi.advanceTimersByTime(999);
    expect(cancels(k, 'n1')).toEqual([]);
    expect(k.errorOf(ret(t))).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(cancels(k, 'n1')).toEqual([{ type: 'cancel_task', taskId: t.taskId, force: true }]);
    expect(k.errorOf(ret(t))?.name).toBe('TaskTimeoutError');
    expect(k.errorOf(ret(t))?.message).toMatch(/still running 1000 ms after it started/);
    expect(k.c.availableResources().CPU).toBe(1);
    // The CPU is free for the next task at once, without waiting for the node to confirm.
    const next = k.submit(taskSpec({ resources: { CPU: 1 } }));
    expect(k.links.n1!.ranIds()).toContain(next.taskId);
  });

  it('retries a timed-out attempt within maxRetries; the late report of the old attempt is ignored', () => {
    const k = cluster({ n1: { CPU: 1 } });
    const t = k.submit(taskSpec({ timeoutMs: 500, maxRetries: 1 }));
    start(k, 'n1', t);
    vi.advanceTimersByTime(500);
    expect(k.links.n1!.runs().map((r) => r.attempt)).toEqual([1, 2]);
    // The node's answer to the force cancel (attempt 1) does not fail the retry.
    k.fail('n1', t, { name: 'WorkerCrashedError', message: 'terminated' }, true, 1);
    expect(k.errorOf(ret(t))).toBeUndefined();
    start(k, 'n1', t);
    k.done('n1', t, ['second']);
    expect(k.c.locate(ret(t))?.obj?.v).toBe('second');
    vi.advanceTimersByTime(10_000);
    expect(cancels(k, 'n1')).toHaveLength(1);
  });

  it('counts from dispatch when the node never reports the start, so a silent node cannot wedge the task', () => {
    const k = cluster({ n1: { CPU: 1 } });
    const t = k.submit(taskSpec({ timeoutMs: 200, maxRetries: 0 }));
    vi.advanceTimersByTime(200);
    expect(k.errorOf(ret(t))?.name).toBe('TaskTimeoutError');
  });

  it('restarts the count when the task starts, and stops it when the task ends', () => {
    const k = cluster({ n1: { CPU: 1 } });
    const t = k.submit(taskSpec({ timeoutMs: 300, maxRetries: 0 }));
    vi.advanceTimersByTime(250);
    start(k, 'n1', t);
    vi.advanceTimersByTime(250);
    expect(k.errorOf(ret(t))).toBeUndefined();
    k.done('n1', t, [7]);
    vi.advanceTimersByTime(1000);
    expect(cancels(k, 'n1')).toEqual([]);
    expect(k.c.locate(ret(t))?.obj?.v).toBe(7);
  });

  it('leaves tasks without timeoutMs running however long they take', () => {
    const k = cluster({ n1: { CPU: 1 } });
    const t = k.submit(taskSpec({ maxRetries: 0 }));
    start(k, 'n1', t);
    vi.advanceTimersByTime(24 * 3600_000);
    expect(cancels(k, 'n1')).toEqual([]);
    expect(k.errorOf(ret(t))).toBeUndefined();
  });
});
