// Straggler copies: a task that runs on a volunteer far longer than its function's tasks take
// elsewhere gets a copy on another node with room; the first attempt to finish is the task's.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FunctionId, HolderId, NodeId } from '../protocol/ids.ts';
import { STRAGGLER_FACTOR, STRAGGLER_MIN_MS, STRAGGLER_SWEEP_MS, STRAGGLER_UNKNOWN_MS } from './constants.ts';
import { cluster, crash, nid, ret, taskSpec, thrown, ValueError, type Cluster } from './coordinator.fixture.ts';
import { NodeManager } from './node-manager.ts';
import { Stragglers } from './stragglers.ts';
import { TaskTable } from './task-table.ts';

const fn = 'fn-f' as FunctionId;
const n = (s: string) => s as NodeId;

function judge(): Stragglers {
  const tasks = new TaskTable({ lifetimes: {} as never, generators: {} as never, release: () => {}, dropCopies: () => {} });
  return new Stragglers({ nodes: new NodeManager(), tasks, placeCopy: () => undefined, replicaStalled: () => {}, log: () => {} });
}

describe('Stragglers: how long a task may run before it gets a copy', () => {
  it('waits STRAGGLER_UNKNOWN_MS while no other node has finished a task of the function', () => {
    const s = judge();
    expect(s.patienceMs(fn, n('a'))).toBe(STRAGGLER_UNKNOWN_MS);
    s.record(fn, n('a'), 5);
    // A node's own record does not vouch for it.
    expect(s.patienceMs(fn, n('a'))).toBe(STRAGGLER_UNKNOWN_MS);
    expect(s.patienceMs(fn, n('b'))).toBe(STRAGGLER_MIN_MS);
  });

  it('allows STRAGGLER_FACTOR times the median elsewhere, never less than STRAGGLER_MIN_MS', () => {
    const s = judge();
    for (const ms of [4_000, 5_000, 60_000]) s.record(fn, n('b'), ms);
    expect(s.patienceMs(fn, n('a'))).toBe(STRAGGLER_FACTOR * 5_000);
    expect(s.isStraggling(fn, n('a'), STRAGGLER_FACTOR * 5_000)).toBe(false);
    expect(s.isStraggling(fn, n('a'), STRAGGLER_FACTOR * 5_000 + 1)).toBe(true);
    const quick = judge();
    quick.record(fn, n('b'), 1);
    expect(quick.patienceMs(fn, n('a'))).toBe(STRAGGLER_MIN_MS);
  });
});

const runsOf = (k: Cluster, node: string, taskId: string) => k.links[node]!.runs().filter((r) => r.spec.taskId === taskId);
const cancels = (k: Cluster, node: string) => k.links[node]!.sent.filter((m) => m.type === 'cancel_task');
/** Past the patience of a function whose tasks finish at once elsewhere, and one sweep more. */
const pastPatience = () => vi.advanceTimersByTime(STRAGGLER_MIN_MS + STRAGGLER_SWEEP_MS);

/**
 * `liar` holds task `a` and never reports; `honest` finishes `b` at once and is idle after. `head`
 * (no CPUs) is the coordinator's id, whose messages skip the capability checks: the two volunteers'
 * messages are checked.
 */
function stalled(over: Parameters<typeof taskSpec>[0] = {}, more: Record<string, { CPU: number }> = {}) {
  const k = cluster({ head: { CPU: 0 }, liar: { CPU: 1 }, honest: { CPU: 1 }, ...more });
  const a = k.submit(taskSpec({ resources: { CPU: 1 }, ...over }));
  const b = k.submit(taskSpec({ resources: { CPU: 1 } }));
  expect(runsOf(k, 'liar', a.taskId)).toHaveLength(1);
  k.done('honest', b, ['b']);
  return { k, a };
}

describe('Coordinator: straggler copies', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('copies a task stuck on a volunteer to an idle node once past its patience; the copy’s result is the task’s and the stuck attempt is stopped', () => {
    const { k, a } = stalled({ maxRetries: 0 });
    vi.advanceTimersByTime(STRAGGLER_MIN_MS - STRAGGLER_SWEEP_MS);
    expect(runsOf(k, 'honest', a.taskId)).toEqual([]);
    pastPatience();
    expect(runsOf(k, 'honest', a.taskId).map((r) => [r.attempt, r.pipelined])).toEqual([[2, undefined]]);
    expect(k.c.availableResources().CPU).toBeUndefined(); // both CPUs held: the attempt and its copy

    k.done('honest', a, ['from the copy']);
    expect(k.c.locate(ret(a))?.obj?.v).toBe('from the copy');
    expect(cancels(k, 'liar')).toEqual([{ type: 'cancel_task', taskId: a.taskId, force: true }]);
    expect(k.c.availableResources().CPU).toBe(2);
    expect(k.c.taskInfos().find((t) => t.taskId === a.taskId)).toMatchObject({ state: 'FINISHED', nodeId: 'honest' });
    // The stuck attempt's late word is stale: ignored, not a strike.
    k.done('liar', a, ['late'], { attempt: 1 });
    expect(k.c.locate(ret(a))?.obj?.v).toBe('from the copy');
    expect(k.c.strikesOf(nid('liar'))).toBe(0);
  });

  it('keeps the original’s result when it finishes first, and stops the copy', () => {
    const { k, a } = stalled();
    pastPatience();
    expect(runsOf(k, 'honest', a.taskId)).toHaveLength(1);
    k.done('liar', a, ['original'], { attempt: 1 });
    expect(k.c.locate(ret(a))?.obj?.v).toBe('original');
    expect(cancels(k, 'honest')).toEqual([{ type: 'cancel_task', taskId: a.taskId, force: true }]);
    expect(k.c.availableResources().CPU).toBe(2);
    k.done('honest', a, ['copy, late']);
    expect(k.c.locate(ret(a))?.obj?.v).toBe('original');
    expect(k.c.strikesOf(nid('honest'))).toBe(0);
  });

  it('goes on with the copy when the original’s node leaves, spending no retry', () => {
    const { k, a } = stalled({ maxRetries: 0 });
    pastPatience();
    k.c.removeNode(nid('liar'), 'gone');
    expect(k.errorOf(ret(a))).toBeUndefined();
    expect(runsOf(k, 'honest', a.taskId)).toHaveLength(1); // no new attempt: the copy is the attempt now
    k.done('honest', a, ['copy']);
    expect(k.c.locate(ret(a))?.obj?.v).toBe('copy');
    expect(k.c.availableResources().CPU).toBe(1);
  });

  it('loses only the copy when the copy’s worker dies; the original runs on and may get another copy', () => {
    const { k, a } = stalled({ maxRetries: 0 });
    pastPatience();
    k.fail('honest', a, crash(), true);
    expect(k.errorOf(ret(a))).toBeUndefined();
    expect(k.c.availableResources().CPU).toBe(1);
    vi.advanceTimersByTime(STRAGGLER_SWEEP_MS);
    expect(runsOf(k, 'honest', a.taskId).map((r) => r.attempt)).toEqual([2, 3]);
    k.done('liar', a, ['original'], { attempt: 1 });
    expect(k.c.locate(ret(a))?.obj?.v).toBe('original');
  });

  it('takes an error from the copy as the task’s outcome (the same code fails the same way)', () => {
    const { k, a } = stalled({ maxRetries: 0 });
    pastPatience();
    k.fail('honest', a, thrown(new ValueError('bad input')));
    expect(k.errorOf(ret(a))?.name).toBe('RayTaskError');
    expect(cancels(k, 'liar')).toHaveLength(1);
    expect(k.c.availableResources().CPU).toBe(2);
  });

  it('cancels the copy with its task', () => {
    const { k, a } = stalled();
    pastPatience();
    k.c.cancel(ret(a), false, false);
    expect(cancels(k, 'liar')).toEqual([{ type: 'cancel_task', taskId: a.taskId, force: false }]);
    expect(cancels(k, 'honest')).toEqual([{ type: 'cancel_task', taskId: a.taskId, force: true }]);
    expect(k.errorOf(ret(a))?.name).toBe('TaskCancelledError');
  });

  it('makes no copy while no other node has room, nor of a task pinned to its node, nor on the coordinator’s own node', () => {
    const { k, a } = stalled();
    const c = k.submit(taskSpec({ resources: { CPU: 1 } }));
    pastPatience();
    expect(runsOf(k, 'honest', a.taskId)).toEqual([]); // honest is busy with c
    k.done('honest', c); // took STRAGGLER_MIN_MS + a sweep: the patience grows with it
    vi.advanceTimersByTime(STRAGGLER_SWEEP_MS);
    expect(runsOf(k, 'honest', a.taskId)).toEqual([]);
    vi.advanceTimersByTime(STRAGGLER_FACTOR * (STRAGGLER_MIN_MS + STRAGGLER_SWEEP_MS));
    expect(runsOf(k, 'honest', a.taskId)).toHaveLength(1); // room now, and past the new patience

    const pinned = cluster({ liar: { CPU: 1 }, honest: { CPU: 1 } });
    const p = pinned.submit(taskSpec({ strategy: { nodeId: nid('liar'), soft: true } }));
    vi.advanceTimersByTime(STRAGGLER_UNKNOWN_MS + STRAGGLER_SWEEP_MS);
    expect(runsOf(pinned, 'honest', p.taskId)).toEqual([]);

    const own = cluster({ head: { CPU: 1 }, honest: { CPU: 1 } }, { ownNode: 'head' });
    const h = own.submit(taskSpec({ resources: { CPU: 1 } }));
    expect(runsOf(own, 'head', h.taskId)).toHaveLength(1);
    vi.advanceTimersByTime(STRAGGLER_UNKNOWN_MS + STRAGGLER_SWEEP_MS);
    expect(runsOf(own, 'honest', h.taskId)).toEqual([]);
  });

  it('spends retries only on retries: a copy is not one (maxRetries: 0, an error retryExceptions names, while a copy runs)', () => {
    const { k, a } = stalled({ maxRetries: 0, retryExceptions: true });
    pastPatience();
    k.fail('liar', a, thrown(new ValueError('bad')), false, 1);
    expect(runsOf(k, 'liar', a.taskId).length + runsOf(k, 'honest', a.taskId).length).toBe(2);
    expect(k.errorOf(ret(a))?.name).toBe('RayTaskError');
  });

  it('fails a task with maxRetries: 0 whose only attempt is lost after its copy was dropped', () => {
    const { k, a } = stalled({ maxRetries: 0 });
    pastPatience();
    k.fail('honest', a, crash(), true);
    k.c.removeNode(nid('liar'), 'gone');
    expect(k.errorOf(ret(a))?.name).toBe('NodeDiedError');
  });

  it('gives a cancelled task’s copy resources to the next queued task at once', () => {
    const { k, a } = stalled();
    pastPatience();
    const c = k.submit(taskSpec({ resources: { CPU: 1 } })); // no room: queued
    expect(runsOf(k, 'honest', c.taskId)).toEqual([]);
    k.c.cancel(ret(a), true, false); // the liar never answers
    expect(runsOf(k, 'honest', c.taskId)).toHaveLength(1);
  });

  it('refuses without a strike a request still in flight from the attempt that lost the race, either way', () => {
    const ask = (k: Cluster, node: string, a: { taskId: string }) =>
      k.c.handleNodeMessage(nid(node), { type: 'client_request', reqId: 7, taskId: a.taskId as never, req: { type: 'getActor', name: 'x' }, holder: `w-${node}` as HolderId });
    const won = stalled();
    pastPatience();
    won.k.done('liar', won.a, ['original'], { attempt: 1 });
    ask(won.k, 'honest', won.a);
    expect(won.k.c.strikesOf(nid('honest'))).toBe(0);
    const lost = stalled();
    pastPatience();
    lost.k.done('honest', lost.a, ['copy']);
    ask(lost.k, 'liar', lost.a);
    expect(lost.k.c.strikesOf(nid('liar'))).toBe(0);
    // A request naming a task never sent to the node is still a strike.
    ask(lost.k, 'liar', { taskId: 'never-sent' });
    expect(lost.k.c.strikesOf(nid('liar'))).toBe(1);
  });

  it('bounds an adopted copy by timeoutMs from when the copy was sent, not from the adoption', () => {
    const timeoutMs = 20_000;
    const { k, a } = stalled({ timeoutMs, maxRetries: 0 });
    pastPatience(); // the copy is sent now
    vi.advanceTimersByTime(timeoutMs - (STRAGGLER_MIN_MS + STRAGGLER_SWEEP_MS)); // the original times out: the copy is the attempt
    expect(k.errorOf(ret(a))).toBeUndefined();
    vi.advanceTimersByTime(STRAGGLER_MIN_MS + STRAGGLER_SWEEP_MS - 1);
    expect(k.errorOf(ret(a))).toBeUndefined();
    vi.advanceTimersByTime(1); // timeoutMs since the copy was sent
    expect(k.errorOf(ret(a))?.name).toBe('TaskTimeoutError');
  });

  it('sends a copy to the node with a record of finished tasks before a newcomer that joined earlier', () => {
    const k = cluster({ head: { CPU: 0 }, liar: { CPU: 1 }, newcomer: { CPU: 1 }, honest: { CPU: 1 } });
    const a = k.submit(taskSpec({ resources: { CPU: 1 } }));
    const b = k.submit(taskSpec({ resources: { CPU: 1 }, strategy: { nodeId: nid('honest'), soft: false } }));
    k.done('honest', b);
    pastPatience();
    // Both have room; `newcomer` comes first in joining order but has finished nothing.
    expect(runsOf(k, 'honest', a.taskId)).toHaveLength(1);
    expect(runsOf(k, 'newcomer', a.taskId)).toEqual([]);
  });
});

