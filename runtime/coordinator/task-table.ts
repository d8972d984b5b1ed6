// The coordinator's task table (Ray's GcsTaskManager, with the owner's view of each task): every
// submitted task until it ends, how it ends (its returns ready or failed), and the records kept
// of finished ones for `ray.tasks()` and `ray.timeline()`.

import { generatorEndId, returnId, type NodeId, type TaskId } from '../protocol/ids.ts';
import { actorIdOf, type SerializedObject, type TaskInfo, type TaskSpec, type TaskState, type TraceEvent } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { GeneratorStreams } from './generator-streams.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import type { TaskEntry } from './task-entry.ts';
import { TaskEvents } from './task-events.ts';

export interface TaskTableDeps {
  readonly lifetimes: ObjectLifetimes;
  readonly generators: GeneratorStreams;
  /** Frees what a task holds on its node (the cluster scheduler's release). */
  readonly release: (t: TaskEntry) => void;
  /** Stops a task's straggler copies and frees what they hold (the task ended). */
  readonly dropCopies: (t: TaskEntry) => void;
}

/** The page's time origin, read once: the getter costs microseconds in Chromium, and nowMs runs several times per task. */
const TIME_ORIGIN = performance.timeOrigin;

/** Wall-clock milliseconds (epoch), from the monotonic clock. */
export function nowMs(): number {
  return TIME_ORIGIN + performance.now();
}

export class TaskTable {
  private readonly tasks = new Map<TaskId, TaskEntry>();
  private readonly events = new TaskEvents();
  private closed = false;

  constructor(private readonly d: TaskTableDeps) {}

  /** How many finished tasks `ray.tasks()` and `ray.timeline()` keep. */
  setHistoryMax(n: number): void {
    this.events.setCapacity(n);
  }

  /** The session is over: nothing more is submitted, scheduled or retried. */
  get stopped(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    for (const t of this.tasks.values()) disarm(t);
  }

  /** Records a new task, pending its arguments, under its parent (for recursive cancel). */
  add(spec: TaskSpec): TaskEntry {
    const t: TaskEntry = {
      spec,
      state: 'PENDING_ARGS_AVAIL',
      nodeId: null,
      workerId: null,
      attempt: 0,
      dispatches: 0,
      retries: 0,
      depsPending: 0,
      pendingReason: null,
      submittedAtMs: nowMs(),
      startedAtMs: null,
      endedAtMs: null,
      error: null,
      reserved: false,
      blocked: false,
      cancelled: false,
      children: undefined,
      schedClass: undefined,
    };
    this.tasks.set(spec.taskId, t);
    if (spec.parentTaskId) {
      const parent = this.tasks.get(spec.parentTaskId);
      if (parent) (parent.children ??= []).push(spec.taskId);
    }
    return t;
  }

  get(taskId: TaskId): TaskEntry | undefined {
    return this.tasks.get(taskId);
  }

  /** The attempt of the task that runs on `nodeId`: the task's own, or a straggler copy of it. */
  attemptOn(taskId: TaskId, nodeId: NodeId): TaskEntry | undefined {
    const t = this.tasks.get(taskId);
    if (!t) return undefined;
    if (t.nodeId === nodeId) return t;
    return t.copies?.find((c) => c.nodeId === nodeId);
  }

  has(taskId: TaskId): boolean {
    return this.tasks.has(taskId);
  }

  /** Puts an ended entry back (an actor's creation task, kept for restarts). */
  keep(t: TaskEntry): void {
    this.tasks.set(t.spec.taskId, t);
  }

  delete(taskId: TaskId): void {
    this.tasks.delete(taskId);
  }

  /** A snapshot of the tasks not yet ended. */
  live(): TaskEntry[] {
    return [...this.tasks.values()];
  }

  /** Makes every return of the task (for a generator: its next item, then its end) raise `err`. */
  failReturns(t: TaskEntry, err: WireError): void {
    const obj: SerializedObject = { v: undefined, size: 0, err };
    if (t.spec.numReturns === 0) {
      // No ref can raise it (Ray logs such errors too): say it here.
      console.warn(`webray: task ${t.spec.name} (numReturns: 0) failed, and has no return value to raise it: ${err.name}: ${err.message}`);
    }
    if (t.spec.numReturns === 'streaming') {
      const index = this.d.generators.nextIndex(t.spec.taskId);
      if (index !== undefined) {
        this.d.lifetimes.generatorItem(t.spec.taskId, returnId(t.spec.taskId, index), 0, obj, undefined);
        this.d.generators.yielded(t.spec.taskId, index);
        this.d.generators.end(t.spec.taskId);
      }
      this.d.lifetimes.ready(generatorEndId(t.spec.taskId), 0, obj, undefined);
    } else {
      for (let i = 0; i < t.spec.numReturns; i++) this.d.lifetimes.ready(returnId(t.spec.taskId, i), 0, obj, undefined);
    }
    t.error = `${err.name}: ${err.message}`;
  }

  /** Fails every return of the task with `err` and ends it. */
  failTask(t: TaskEntry, err: WireError): void {
    if (t.state === 'FINISHED' || t.state === 'FAILED') return;
    this.failReturns(t, err);
    if (t.nodeId && t.state !== 'PENDING_NODE_ASSIGNMENT') this.d.release(t);
    this.finish(t, 'FAILED');
  }

  /** Ends the task: it leaves the table and, with task events on, joins the history. */
  finish(t: TaskEntry, state: 'FINISHED' | 'FAILED'): void {
    // An actor's creation task keeps its arguments for restarts, until the actor is dead for good.
    if (!(t.spec.kind === 'actor-creation' && state === 'FINISHED')) this.dropArgs(t);
    if (this.tasks.get(t.spec.taskId) !== t) return;
    disarm(t);
    if (t.copies) this.d.dropCopies(t);
    t.state = state;
    t.endedAtMs ??= nowMs();
    this.tasks.delete(t.spec.taskId);
    if (t.spec.enableTaskEvents) this.events.record(this.infoOf(t));
  }

  /** The task no longer keeps its arguments alive. */
  dropArgs(t: TaskEntry): void {
    if (!t.argsHeld) return;
    t.argsHeld = false;
    this.d.lifetimes.releaseArgs(t.spec);
  }

  /** `ray.tasks()`: live tasks and the history, optionally in one state. */
  infos(state?: TaskState): TaskInfo[] {
    const live: TaskInfo[] = [];
    for (const t of this.tasks.values()) if (t.spec.enableTaskEvents) live.push(this.infoOf(t));
    return this.events.list(live, state);
  }

  timeline(): TraceEvent[] {
    return this.events.timeline();
  }

  private infoOf(t: TaskEntry): TaskInfo {
    return {
      taskId: t.spec.taskId,
      name: t.spec.name,
      kind: t.spec.kind,
      state: t.state,
      nodeId: t.nodeId,
      workerId: t.workerId,
      actorId: actorIdOf(t.spec) ?? null,
      attempts: t.attempt,
      error: t.error,
      pendingReason: t.state === 'PENDING_NODE_ASSIGNMENT' || t.state === 'PENDING_ARGS_AVAIL' ? t.pendingReason ?? (t.depsPending > 0 ? `waiting for ${t.depsPending} argument(s)` : null) : null,
      submittedAtMs: t.submittedAtMs,
      startedAtMs: t.startedAtMs,
      endedAtMs: t.endedAtMs,
    };
  }
}

/** Stops the task's `timeoutMs` timer, if one runs. */
export function disarm(t: TaskEntry): void {
  if (t.deadline === undefined) return;
  clearTimeout(t.deadline);
  t.deadline = undefined;
}
