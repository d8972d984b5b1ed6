// The ObjectRefs one process (the driver's tab, or one Web Worker) holds, as its part of the
// cluster's reference counting (Ray's ReferenceCounter in each CoreWorker, borrower side).
// ObjectRef instances are watched with a FinalizationRegistry; the process tells the coordinator
// which ids it holds and which it no longer holds, in batches, by comparing what it holds now
// with what the coordinator counts for it (so a ref collected and revived within one batch costs
// nothing, and updates cannot cross each other).

import type { ObjectId, TaskId } from '../protocol/ids.ts';
import type { RefUpdate } from '../protocol/node-messages.ts';

export class LocalRefs {
  /** Live ObjectRef instances per id. */
  private readonly counts = new Map<ObjectId, number>();
  /** Ids the coordinator counts this process as holding. */
  private readonly registered = new Set<ObjectId>();
  /** Ids whose count crossed zero since the last update. */
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
    const n = this.counts.get(id);
    this.counts.set(id, (n ?? 0) + 1);
    if (registered) {
      this.registered.add(id);
      this.dirty.delete(id);
    } else if (n === undefined && !this.registered.has(id)) {
      this.dirty.add(id);
      this.schedule();
    }
  }

  /** An ObjectRefGenerator: when it is collected, its unconsumed items may go. */
  trackGenerator(gen: object, taskId: TaskId): void {
    if (!this.stopped) this.generatorRegistry.register(gen, taskId);
  }

  /** An ObjectRef instance of `id` was garbage-collected (called by the FinalizationRegistry; public for tests). */
  collected(id: ObjectId): void {
    if (this.stopped) return;
    const n = (this.counts.get(id) ?? 1) - 1;
    if (n > 0) {
      this.counts.set(id, n);
      return;
    }
    this.counts.delete(id);
    if (this.registered.has(id)) {
      this.dirty.add(id);
      this.schedule();
    }
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
      const held = this.counts.has(id);
      if (held && !this.registered.has(id)) {
        this.registered.add(id);
        add.push(id);
      } else if (!held && this.registered.delete(id)) {
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
    this.counts.clear();
    this.registered.clear();
    this.dirty.clear();
  }

  /** Ids held now (tests). */
  heldIds(): ObjectId[] {
    return [...this.counts.keys()];
  }
}

/**
 * Keeps `x` reachable until this call: used after an `await` so that refs a caller passed in are
 * not collected (and their objects freed) while their values are still being fetched.
 */
export function keepAlive(x: unknown): void {
  if (x === keepAlive) throw new Error('unreachable');
}
