// ObjectRefGenerator: what a streaming (generator) task returns — an async iterable of ObjectRefs,
// each yielded as soon as the task yields its value (Ray's ObjectRefGenerator).

import type { TaskId } from '../protocol/ids.ts';
import { currentCore, requireCore } from './core.ts';
import { registeredRef, type ObjectRef } from './object-ref.ts';

export class ObjectRefGenerator<T = unknown> implements AsyncIterableIterator<ObjectRef<T>> {
  readonly taskId: TaskId;
  private index = 0;
  private finished = false;

  constructor(taskId: TaskId) {
    this.taskId = taskId;
    currentCore()?.refs?.trackGenerator(this, taskId);
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

  async return(): Promise<IteratorResult<ObjectRef<T>, undefined>> {
    this.finished = true;
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  toString(): string {
    return `ObjectRefGenerator(${this.taskId})`;
  }
}
