import { describe, expect, it } from 'vitest';
import type { FunctionId, NodeId, TaskId, WorkerId } from '../protocol/ids.ts';
import type { FunctionDescriptor } from '../protocol/task-spec.ts';
import type { FromWorker, RunTask } from '../protocol/worker-messages.ts';
import { Executor } from './executor.ts';
import { WorkerCore } from './worker-core.ts';

function desc(name: string, source: string): FunctionDescriptor {
  return { fnId: name as FunctionId, kind: 'function', name, source, scope: [], options: {} };
}

function run(taskId: string, fn: string): RunTask {
  return {
    type: 'run',
    taskId: taskId as TaskId,
    fnId: fn as FunctionId,
    name: fn,
    args: [],
    numReturns: 1,
    backpressure: 0,
    transferResults: false,
    gpu: false,
    resources: { CPU: 1 },
  };
}

function setup(): { ex: Executor; posts: FromWorker[]; release: () => void } {
  const posts: FromWorker[] = [];
  const ex = new Executor({ post: (m) => posts.push(m), flush: () => {}, rayApi: {} });
  let release = (): void => {};
  const gate = new Promise<void>((r) => (release = r));
  (globalThis as { __gate?: Promise<void> }).__gate = gate;
  ex.load(desc('waits', 'async function waits() { await globalThis.__gate; return 1; }'));
  ex.load(desc('quick', 'function quick() { return 2; }'));
  return { ex, posts, release };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('Executor', () => {
  it('hands back a task that arrives while the running task is blocked in ray.get, instead of queueing it behind', async () => {
    const { ex, posts, release } = setup();
    ex.run(run('t1', 'waits'));
    ex.block('t1' as TaskId); // t1 calls ray.get
    ex.run(run('t2', 'quick'));
    expect(posts).toContainEqual({ type: 'returned', taskIds: ['t2'] });
    ex.unblock('t1' as TaskId, () => {}); // the get has its answer: later tasks queue behind t1 again
    ex.run(run('t3', 'quick'));
    release();
    await settle();
    const done = posts.filter((m) => m.type === 'done').map((m) => (m as { taskId: string }).taskId);
    expect(done).toEqual(['t1', 't3']);
  });

  it('hands back the tasks queued behind the running task when it blocks', async () => {
    const { ex, posts, release } = setup();
    ex.run(run('t1', 'waits'));
    ex.run(run('t2', 'quick'));
    ex.block('t1' as TaskId);
    expect(posts).toContainEqual({ type: 'returned', taskIds: ['t2'] });
    ex.unblock('t1' as TaskId, () => {});
    release();
    await settle();
    expect(posts.filter((m) => m.type === 'done').map((m) => (m as { taskId: string }).taskId)).toEqual(['t1']);
  });

  it('runs a task that arrives at an idle worker even while an earlier get is still unanswered', async () => {
    const { ex, posts } = setup();
    ex.block('t0' as TaskId); // a get left outstanding by a task that already ended
    ex.run(run('t1', 'quick'));
    await settle();
    expect(posts.some((m) => m.type === 'returned')).toBe(false);
    expect(posts.filter((m) => m.type === 'done').map((m) => (m as { taskId: string }).taskId)).toEqual(['t1']);
  });

  describe('blocked tasks share their worker', () => {
    /** Task bodies that block in a real WorkerCore's `wait`, answered when `answer(id)` is called, as entry.ts wires them. */
    function sharing(): { ex: Executor; posts: FromWorker[]; answer: (taskId: string) => void; seen: string[]; done: () => string[] } {
      const posts: FromWorker[] = [];
      const seen: string[] = [];
      const waiting = new Map<string, number>();
      const ex = new Executor({ post: (m) => posts.push(m), flush: () => {}, rayApi: {} });
      const core = new WorkerCore({
        workerId: 'w1' as WorkerId,
        nodeId: 'n1' as NodeId,
        jobId: 'n1',
        idPrefix: 'w1-',
        post: (m) => {
          if (m.type === 'request' && m.reqId > 0 && m.taskId !== null) waiting.set(m.taskId, m.reqId);
          else posts.push(m);
        },
        current: () => ex.currentTask(),
        onBlock: (taskId) => ex.block(taskId),
        onUnblock: (taskId, settle, failed) => ex.unblock(taskId, settle, failed),
      });
      const g = globalThis as { __block?: () => Promise<unknown>; __seen?: (where: string) => void };
      g.__block = () => core.wait([], 0, null, true);
      g.__seen = (where) => seen.push(`${where}:${ex.currentTask().taskId}`);
      ex.load(desc('blocks', 'async function blocks() { globalThis.__seen("before"); await globalThis.__block(); globalThis.__seen("after"); return 1; }'));
      ex.load(desc('quick', 'function quick() { globalThis.__seen("quick"); return 2; }'));
      const done = () => posts.filter((m) => m.type === 'done').map((m) => (m as { taskId: string }).taskId);
      return { ex, posts, answer: (id) => core.onReply(waiting.get(id)!, true, [], undefined), seen, done };
    }

    it('runs a task sent to share the worker while its task is blocked, with its own context', async () => {
      const { ex, posts, seen, answer, done } = sharing();
      ex.run(run('t1', 'blocks'));
      await settle();
      ex.run({ ...run('t2', 'quick'), shared: true });
      await settle();
      expect(done()).toEqual(['t2']);
      answer('t1');
      await settle();
      expect(done()).toEqual(['t2', 't1']);
      expect(seen).toEqual(['before:t1', 'quick:t2', 'after:t1']);
      expect(posts.some((m) => m.type === 'returned')).toBe(false);
    });

    it('a blocked task whose answer comes while another task holds the worker goes on only when that one blocks or ends', async () => {
      const { ex, seen, answer, done } = sharing();
      ex.run(run('t1', 'blocks'));
      await settle();
      ex.run({ ...run('t2', 'blocks'), shared: true });
      await settle();
      ex.run({ ...run('t3', 'blocks'), shared: true }); // t1 and t2 both blocked
      await settle();
      answer('t1');
      await settle();
      // t1 holds the worker: t2's answer waits for it.
      answer('t2');
      await settle();
      expect(done()).toEqual(['t1', 't2']);
      answer('t3');
      await settle();
      expect(done()).toEqual(['t1', 't2', 't3']);
      // Every line of code ran as its own task, never interleaved with another's.
      expect(seen).toEqual(['before:t1', 'before:t2', 'before:t3', 'after:t1', 'after:t2', 'after:t3']);
    });

    it('a shared task awaiting something that is no ray call lets the worker go once the queued events ran: the blocked task whose answer came goes on, in its own context', async () => {
      const { ex, seen, answer, done } = sharing();
      let releaseSlow = (): void => {};
      (globalThis as { __slow?: Promise<void> }).__slow = new Promise<void>((r) => (releaseSlow = r));
      ex.load(desc('slow', 'async function slow() { globalThis.__seen("slow"); await globalThis.__slow; globalThis.__seen("slow-end"); return 3; }'));
      ex.run(run('t1', 'blocks'));
      await settle();
      ex.run({ ...run('t2', 'slow'), shared: true });
      await settle();
      answer('t1'); // t2 holds the worker, awaiting something that is not a ray call: it yields
      await settle();
      await settle();
      expect(done()).toEqual(['t1']);
      releaseSlow();
      await settle();
      expect(done()).toEqual(['t1', 't2']);
      // t2's code after its await ran outside its turn: its context is no longer guaranteed.
      expect(seen.slice(0, 3)).toEqual(['before:t1', 'slow:t2', 'after:t1']);
    });

    it('hands back a shared task that arrives when a blocked task already goes on again', async () => {
      const { ex, posts, answer } = sharing();
      (globalThis as { __hold?: Promise<void> }).__hold = new Promise<void>(() => {});
      ex.load(desc('blocksThenHolds', 'async function blocksThenHolds() { await globalThis.__block(); await globalThis.__hold; }'));
      ex.run(run('t1', 'blocksThenHolds'));
      await settle();
      answer('t1');
      await settle(); // t1 goes on, and holds the worker
      ex.run({ ...run('t2', 'quick'), shared: true });
      expect(posts).toContainEqual({ type: 'returned', taskIds: ['t2'] });
    });



    it('Promise.all over two calls, the first failing: the catch runs in its turn, in its own task\'s context', async () => {
      const posts: FromWorker[] = [];
      const seen: string[] = [];
      const ex = new Executor({ post: (m) => posts.push(m), flush: () => {}, rayApi: {} });
      const answers: { id: string; fail: () => void }[] = [];
      const g = globalThis as { __block2?: () => Promise<void>; __seen2?: (w: string) => void; __slow2?: Promise<void> };
      g.__block2 = () => {
        const id = ex.currentTask().taskId!;
        ex.block(id);
        return new Promise<void>((_resolve, reject) => answers.push({ id, fail: () => ex.unblock(id, () => reject(new Error('child failed')), true) }));
      };
      g.__seen2 = (where) => seen.push(`${where}:${ex.currentTask().taskId}`);
      let releaseSlow = (): void => {};
      g.__slow2 = new Promise<void>((r) => (releaseSlow = r));
      ex.load(desc('fanout', 'async function fanout() { try { await Promise.all([globalThis.__block2(), globalThis.__block2()]); } catch { globalThis.__seen2("caught"); } return 1; }'));
      ex.load(desc('slow', 'async function slow() { globalThis.__seen2("slow"); await globalThis.__slow2; globalThis.__seen2("slow-end"); return 3; }'));
      ex.run(run('t1', 'fanout'));
      await settle();
      ex.run({ ...run('t2', 'slow'), shared: true }); // holds the worker
      await settle();
      answers[0]!.fail();
      await settle();
      releaseSlow();
      await settle();
      expect(seen.slice(0, 2)).toEqual(['slow:t2', 'caught:t1']);
    });

    it('a task waiting on two calls (Promise.all) is handed the first answer at once and goes on after the last', async () => {
      const posts: FromWorker[] = [];
      const ex = new Executor({ post: (m) => posts.push(m), flush: () => {}, rayApi: {} });
      let release = (): void => {};
      (globalThis as { __gate2?: Promise<void> }).__gate2 = new Promise<void>((r) => (release = r));
      ex.load(desc('waits', 'async function waits() { await globalThis.__gate2; return 1; }'));
      ex.load(desc('quick', 'function quick() { return 2; }'));
      ex.run(run('t1', 'waits'));
      ex.block('t1' as TaskId);
      ex.block('t1' as TaskId);
      ex.run({ ...run('t2', 'waits'), shared: true }); // holds the worker until release
      await settle();
      const settled: string[] = [];
      ex.unblock('t1' as TaskId, () => settled.push('first'));
      expect(settled).toEqual(['first']);
      ex.unblock('t1' as TaskId, () => settled.push('last'));
      expect(settled).toEqual(['first']);
      release();
      await settle();
      expect(settled).toEqual(['first', 'last']);
      expect(ex.currentTask().taskId).toBe(null);
    });
  });
});
