import { describe, expect, it } from 'vitest';
import type { FunctionId, TaskId } from '../protocol/ids.ts';
import type { FunctionDescriptor } from '../protocol/task-spec.ts';
import type { FromWorker, RunTask } from '../protocol/worker-messages.ts';
import { Executor } from './executor.ts';

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
    ex.returnQueued(); // t1 calls ray.get
    ex.run(run('t2', 'quick'));
    expect(posts).toContainEqual({ type: 'returned', taskIds: ['t2'] });
    ex.unblocked(); // the get has its answer: later tasks queue behind t1 again
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
    ex.returnQueued();
    expect(posts).toContainEqual({ type: 'returned', taskIds: ['t2'] });
    ex.unblocked();
    release();
    await settle();
    expect(posts.filter((m) => m.type === 'done').map((m) => (m as { taskId: string }).taskId)).toEqual(['t1']);
  });

  it('runs a task that arrives at an idle worker even while an earlier get is still unanswered', async () => {
    const { ex, posts } = setup();
    ex.returnQueued(); // a get left outstanding by a task that already ended
    ex.run(run('t1', 'quick'));
    await settle();
    expect(posts.some((m) => m.type === 'returned')).toBe(false);
    expect(posts.filter((m) => m.type === 'done').map((m) => (m as { taskId: string }).taskId)).toEqual(['t1']);
  });
});
