// Task history for `ray.tasks()` and `ray.timeline()` (Ray's task events / GcsTaskManager):
// a bounded ring of what ran where and when, exported as Chrome trace events.

import type { TaskInfo, TaskState, TraceEvent } from '../protocol/task-spec.ts';
import { TASK_HISTORY_MAX } from './constants.ts';

export class TaskEvents {
  /** Finished tasks, oldest first once the ring has wrapped at `next`. */
  private readonly ring: TaskInfo[] = [];
  private next = 0;

  constructor(private capacity: number = TASK_HISTORY_MAX) {}

  /** Keeps at most `n` finished tasks from now on (the newest, when there were more). */
  setCapacity(n: number): void {
    const kept = [...this.finished()].slice(Math.max(0, this.ring.length - n));
    this.ring.length = 0;
    this.ring.push(...kept);
    this.next = 0;
    this.capacity = n;
  }

  record(info: TaskInfo): void {
    if (this.capacity === 0) return;
    if (this.ring.length < this.capacity) this.ring.push(info);
    else {
      this.ring[this.next] = info;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  private *finished(): Iterable<TaskInfo> {
    for (let i = 0; i < this.ring.length; i++) yield this.ring[(this.next + i) % this.ring.length]!;
  }

  list(live: Iterable<TaskInfo>, state?: TaskState): TaskInfo[] {
    const out: TaskInfo[] = [];
    for (const t of this.finished()) if (!state || t.state === state) out.push(t);
    for (const t of live) if (!state || t.state === state) out.push(t);
    return out;
  }

  /** Chrome trace: one process per node, one thread per worker, one complete event per task. */
  timeline(): TraceEvent[] {
    const events: TraceEvent[] = [];
    const pids = new Map<string, number>();
    const tids = new Map<string, number>();
    for (const t of this.finished()) {
      if (t.startedAtMs === null || t.endedAtMs === null || t.nodeId === null) continue;
      let pid = pids.get(t.nodeId);
      if (pid === undefined) {
        pid = pids.size + 1;
        pids.set(t.nodeId, pid);
        events.push({ name: 'process_name', ph: 'M', cat: '__metadata', ts: 0, pid, tid: 0, args: { name: `node ${t.nodeId}` } });
      }
      const wkey = `${t.nodeId}/${t.workerId ?? '?'}`;
      let tid = tids.get(wkey);
      if (tid === undefined) {
        tid = tids.size + 1;
        tids.set(wkey, tid);
        events.push({ name: 'thread_name', ph: 'M', cat: '__metadata', ts: 0, pid, tid, args: { name: `worker ${t.workerId ?? '?'}` } });
      }
      events.push({
        name: t.name,
        cat: t.kind === 'normal' ? 'task' : t.kind,
        ph: 'X',
        ts: Math.round(t.startedAtMs * 1000),
        dur: Math.max(1, Math.round((t.endedAtMs - t.startedAtMs) * 1000)),
        pid,
        tid,
        args: { taskId: t.taskId, state: t.state, attempts: t.attempts, ...(t.error ? { error: t.error } : {}) },
      });
    }
    return events;
  }
}
