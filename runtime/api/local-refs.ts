// The ObjectRefs one process (the driver's tab, or one Web Worker) holds, as its part of the
// cluster's reference counting (Ray's ReferenceCounter in each CoreWorker, borrower side).
// ObjectRef instances are watched with a FinalizationRegistry; the process tells the coordinator
// which ids it holds and which it no longer holds, in batches, by comparing what it holds now
// with what the coordinator counts for it (so a ref collected and revived within one batch costs
// nothing, and updates cannot cross each other).

import type { ObjectId, TaskId } from '../protocol/ids.ts';
import type { RefUpdate } from '../protocol/node-messages.ts';

export class LocalRefs {
  /**
   * Per id: live ObjectRef instances × 2, plus 1 when the coordinator counts this process as
   * holding it (one map lookup on the hot path). An id whose instances are gone stays (as 1)
   * until its release is sent.
   */
  private readonly state = new Map<ObjectId, number>();
  /** Ids whose state changed since the last update. */
  private dirty = new Set<ObjectId>();
  private droppedGenerators: TaskId[] = [];
  private readonly registry = new FinalizationRegistry<ObjectId>((id) => this.collected(id));
  private readonly generatorRegistry = new FinalizationRegistry<TaskId>((taskId) => {
    if (this.stopped) return;
    this.droppedGenerators.push(taskId);
    this.schedule();
  });
  private queued = false;
  private stopped = false;

  /** `send` delivers an update to the coordinator, in order with this process's other messages. */
  constructor(private readonly send: (update: RefUpdate) => void) {}

  /**
   * A new ObjectRef instance. `registered`: the coordinator already counts this process for it
   * (it submitted the task, put the object, or was handed the generator item); otherwise the
   * ref arrived inside a value, covered meanwhile by whatever held that value.
   */
  track(ref: object, id: ObjectId, registered: boolean): void {
    if (this.stopped) return;
    this.registry.register(ref, id);
    const v = this.state.get(id);
    if (v === undefined) {
      this.state.set(id, registered ? 3 : 2);
      if (!registered) {
        this.dirty.add(id);
        this.schedule();
      }
      return;
    }
    this.state.set(id, (v + 2) | (registered ? 1 : 0));
  }

  /** An ObjectRefGenerator: when it is collected, its unconsumed items may go. */
  trackGenerator(gen: object, taskId: TaskId): void {
    if (!this.stopped) this.generatorRegistry.register(gen, taskId);
  }

  /** An ObjectRef instance of `id` was garbage-collected (called by the FinalizationRegistry; public for tests). */
  collected(id: ObjectId): void {
    if (this.stopped) return;
    const v = this.state.get(id);
    if (v === undefined || v < 2) return;
    const next = v - 2;
    if (next >= 2) {
      this.state.set(id, next);
      return;
    }
    if (next === 0) {
      // Never reported (it arrived in a value and went before the batch left): nothing to undo.
      this.state.delete(id);
      return;
    }
    this.state.set(id, 1);
    this.dirty.add(id);
    this.schedule();
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.flush();
    });
  }

  /** Whether an update is waiting to be sent. */
  get pending(): boolean {
    return this.dirty.size > 0 || this.droppedGenerators.length > 0;
  }

  /**
   * Sends what changed now. A worker calls this before each message it sends, so a ref it got
   * inside a value is counted before anything that could release what covered it (a task's end).
   */
  flush(): void {
    if (this.stopped || !this.pending) return;
    const add: ObjectId[] = [];
    const release: ObjectId[] = [];
    for (const id of this.dirty) {
      const v = this.state.get(id);
      if (v === undefined) continue;
      if (v >= 2 && (v & 1) === 0) {
        this.state.set(id, v | 1);
        add.push(id);
      } else if (v === 1) {
        this.state.delete(id);
        release.push(id);
      }
    }
    this.dirty = new Set();
    const generators = this.droppedGenerators;
    this.droppedGenerators = [];
    if (add.length === 0 && release.length === 0 && generators.length === 0) return;
    this.send({
      ...(add.length > 0 ? { add } : {}),
      ...(release.length > 0 ? { release } : {}),
      ...(generators.length > 0 ? { generators } : {}),
    });
  }

  /** Session over: later collections are not reported. */
  stop(): void {
    this.stopped = true;
    this.state.clear();
    this.dirty.clear();
  }

  /** Ids held now (tests). */
  heldIds(): ObjectId[] {
    return [...this.state].filter(([, v]) => v >= 2).map(([id]) => id);
  }
}

/**
 * Keeps `x` reachable until this call: used after an `await` so that refs a caller passed in are
 * not collected (and their objects freed) while their values are still being fetched.
 */
export function keepAlive(x: unknown): void {
  if (x === keepAlive) throw new Error('unreachable');
}
