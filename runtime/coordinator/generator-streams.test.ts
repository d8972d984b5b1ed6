import { describe, expect, it } from 'vitest';
import type { TaskId } from '../protocol/ids.ts';
import { GeneratorStreams } from './generator-streams.ts';

const T = 't1' as TaskId;

describe('GeneratorStreams', () => {
  it('hands out items in order as they are yielded, then done once the stream ends', async () => {
    const acks: number[] = [];
    const g = new GeneratorStreams((_t, consumed) => acks.push(consumed));
    g.open(T);
    const first = g.next(T, 0);
    expect(g.yielded(T, 0)).toBe(true);
    expect(await first).toEqual({ done: false, index: 0 });
    const second = g.next(T, 1);
    g.end(T);
    expect(await second).toEqual({ done: true });
    expect(acks).toEqual([1]);
  });

  it("ignores a retry's repeat of an item it already has", () => {
    const g = new GeneratorStreams(() => {});
    g.open(T);
    expect(g.yielded(T, 0)).toBe(true);
    expect(g.yielded(T, 1)).toBe(true);
    expect(g.yielded(T, 0)).toBe(false);
    expect(g.nextIndex(T)).toBe(2);
    g.end(T);
    expect(g.nextIndex(T)).toBeUndefined();
  });

  it('reports consumption only when the consumer gets further', async () => {
    const acks: number[] = [];
    const g = new GeneratorStreams((_t, consumed) => acks.push(consumed));
    g.open(T);
    g.yielded(T, 0);
    g.yielded(T, 1);
    await g.next(T, 1);
    await g.next(T, 0);
    expect(acks).toEqual([2]);
  });

  it('answers done for a stream it never opened', async () => {
    expect(await new GeneratorStreams(() => {}).next('nope' as TaskId, 0)).toEqual({ done: true });
  });
});
