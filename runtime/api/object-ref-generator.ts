// ObjectRefGenerator: what a streaming (generator) task returns — an async iterable of ObjectRefs,
// each yielded as soon as the task yields its value (Ray's ObjectRefGenerator).

import { generatorEndId, type TaskId } from '../protocol/ids.ts';
import { currentCore, requireCore } from './core.ts';
import { registeredRef, type ObjectRef } from './object-ref.ts';

export class ObjectRefGenerator<T = unknown> implements AsyncIterableIterator<ObjectRef<T>> {
  readonly taskId: TaskId;
  private index = 0;
  private finished = false;
  /** Ready when the task ends (the caller holds it from submission, as a task's return). */
  private readonly end: ObjectRef<null>;

  constructor(taskId: TaskId) {
    this.taskId = taskId;
    this.end = registeredRef<null>(generatorEndId(taskId));
    currentCore()?.refs?.trackGenerator(this, taskId);
  }

  /**
   * An ObjectRef that becomes ready when the generator's task has ended (Ray's `completed()`):
   * `ray.get` of it gives `null`, or raises the task's error (a cancelled or dropped generator:
   * TaskCancelledError). Items not read yet stay readable.
   */
  completed(): ObjectRef<null> {
    return this.end;
  }

  async next(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    if (this.finished) return { done: true, value: undefined };
    const item = await requireCore('ObjectRefGenerator.next').generatorNext(this.taskId, this.index);
    if (item.done) {
      this.finished = true;
      return { done: true, value: undefined };
    }
    this.index++;
    return { done: false, value: registeredRef<T>(item.id) };
  }

  /**
   * Stops reading (a `for await` loop left by `break`, `return` or a throw calls it): the producer
   * is cancelled if it is still running, as when the generator is garbage-collected, so that it
   * does not hold its worker and CPU for items nobody reads.
   */
  async return(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    if (!this.finished) {
      this.finished = true;
      currentCore()?.cancel(this.taskId as unknown as ObjectRef['id'], false, true);
    }
    return { done: true, value: undefined };
  }

  /** Whether this generator will give no more refs: it reached the end of the stream, or stopped reading (`return()`). Ray's `is_finished()`. */
  isFinished(): boolean {
    return this.finished;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  toString(): string {
    return `ObjectRefGenerator(${this.taskId})`;
  }
}
