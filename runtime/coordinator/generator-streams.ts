// The streams of streaming (generator) tasks (Ray's ObjectRefStream in the owner): how many
// items each has yielded, whether it ended, who waits for the next item, how far its consumer got.

import type { NodeId, TaskId } from '../protocol/ids.ts';

interface Stream {
  /** Items yielded so far (item i is return i of the task). */
  count: number;
  done: boolean;
  waiters: (() => void)[];
  /** Items the consumer has taken (for backpressure). */
  consumed: number;
  /** The volunteer node whose task started the stream (undefined: the driver's side). */
  readonly owner: NodeId | undefined;
}

export type NextItem = { readonly done: false; readonly index: number } | { readonly done: true };

export class GeneratorStreams {
  private readonly streams = new Map<TaskId, Stream>();

  /** @param onConsumed told when the consumer has taken more items (to release backpressure). */
  constructor(private readonly onConsumed: (taskId: TaskId, consumed: number) => void) {}

  open(taskId: TaskId, owner?: NodeId): void {
    this.streams.set(taskId, { count: 0, done: false, waiters: [], consumed: 0, owner });
  }

  /** The volunteer node whose task started the stream, if any. */
  ownerOf(taskId: TaskId): NodeId | undefined {
    return this.streams.get(taskId)?.owner;
  }

  has(taskId: TaskId): boolean {
    return this.streams.has(taskId);
  }

  /** Resolves with item `index` once it is yielded, or done once the stream ends before it. */
  next(taskId: TaskId, index: number): Promise<NextItem> {
    const s = this.streams.get(taskId);
    if (!s) return Promise.resolve({ done: true });
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (index < s.count) {
          if (index + 1 > s.consumed) {
            s.consumed = index + 1;
            this.onConsumed(taskId, s.consumed);
          }
          resolve({ done: false, index });
          return true;
        }
        if (s.done) {
          resolve({ done: true });
          return true;
        }
        return false;
      };
      if (!check()) {
        const w = (): void => {
          if (check()) s.waiters.splice(s.waiters.indexOf(w), 1);
        };
        s.waiters.push(w);
      }
    });
  }

  /** Item `index` was yielded; false when it is a retry's repeat of an item already known. */
  yielded(taskId: TaskId, index: number): boolean {
    const s = this.streams.get(taskId);
    if (!s || index < s.count) return false;
    s.count = index + 1;
    this.wake(s);
    return true;
  }

  /** The index a final item (an error) appended now would take, or undefined once ended. */
  nextIndex(taskId: TaskId): number | undefined {
    const s = this.streams.get(taskId);
    return s && !s.done ? s.count : undefined;
  }

  end(taskId: TaskId): void {
    const s = this.streams.get(taskId);
    if (!s) return;
    s.done = true;
    this.wake(s);
  }

  private wake(s: Stream): void {
    for (const w of [...s.waiters]) w();
  }
}
