import { describe, expect, it } from 'vitest';
import type { TaskId } from '../protocol/ids.ts';
import type { TaskInfo } from '../protocol/task-spec.ts';
import { TaskEvents } from './task-events.ts';

function info(i: number, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    taskId: `t${i}` as TaskId,
    name: `task${i}`,
    kind: 'normal',
    state: 'FINISHED',
    nodeId: null,
    workerId: null,
    actorId: null,
    attempts: 1,
    error: null,
    pendingReason: null,
    submittedAtMs: i,
    startedAtMs: null,
    endedAtMs: null,
    ...extra,
  };
}

describe('TaskEvents', () => {
  it('keeps the most recent tasks, oldest first, once the ring is full', () => {
    const ev = new TaskEvents(3);
    for (let i = 0; i < 5; i++) ev.record(info(i));
    expect(ev.list([]).map((t) => t.name)).toEqual(['task2', 'task3', 'task4']);
  });

  it('takes a new capacity (init maxTaskEvents), keeping the newest; 0 keeps none', () => {
    const ev = new TaskEvents(4);
    for (let i = 0; i < 6; i++) ev.record(info(i));
    ev.setCapacity(2);
    expect(ev.list([]).map((t) => t.name)).toEqual(['task4', 'task5']);
    ev.record(info(6));
    expect(ev.list([]).map((t) => t.name)).toEqual(['task5', 'task6']);
    ev.setCapacity(0);
    ev.record(info(7));
    expect(ev.list([])).toEqual([]);
  });

  it('keeps 100,000 finished tasks by default, as Ray keeps task events', () => {
    const ev = new TaskEvents();
    for (let i = 0; i < 100_001; i++) ev.record(info(i));
    const kept = ev.list([]);
    expect(kept).toHaveLength(100_000);
    expect(kept[0]!.name).toBe('task1');
  });

  it('filters by state and appends live tasks', () => {
    const ev = new TaskEvents(10);
    ev.record(info(1, { state: 'FAILED' }));
    ev.record(info(2));
    expect(ev.list([info(3, { state: 'RUNNING' })], 'FAILED').map((t) => t.name)).toEqual(['task1']);
    expect(ev.list([info(3, { state: 'RUNNING' })]).length).toBe(3);
  });

  it('exports one complete event per finished task, on a thread per worker of a process per node', () => {
    const ev = new TaskEvents(10);
    ev.record(info(1, { nodeId: 'n1' as never, workerId: 'w1', startedAtMs: 10, endedAtMs: 12.5 }));
    ev.record(info(2, { nodeId: 'n1' as never, workerId: 'w2', startedAtMs: 11, endedAtMs: 11 }));
    ev.record(info(3));
    const trace = ev.timeline();
    const complete = trace.filter((e) => e.ph === 'X');
    expect(complete).toHaveLength(2);
    expect(complete[0]).toMatchObject({ name: 'task1', ts: 10_000, dur: 2_500, pid: 1, tid: 1 });
    expect(complete[1]).toMatchObject({ pid: 1, tid: 2, dur: 1 });
    expect(trace.filter((e) => e.ph === 'M').map((e) => e.name)).toEqual(['process_name', 'thread_name', 'thread_name']);
  });
});
