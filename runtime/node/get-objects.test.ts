import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { ResolvedArg } from '../protocol/node-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { GET_REFETCH_DELAY_MS, GET_REFETCH_MAX } from './constants.ts';
import { getObjects } from './get-objects.ts';

const id = (s: string) => s as ObjectId;
const n = (s: string) => s as NodeId;
const obj = (v: unknown): SerializedObject => ({ v, size: 8 });

afterEach(() => {
  vi.useRealTimers();
});

describe('getObjects', () => {
  it('answers at once, without a promise, when every object is inline or at hand', () => {
    const located: ResolvedArg[] = [
      { kind: 'inline', obj: obj(1) },
      { kind: 'located', id: id('b'), nodes: [n('n1')] },
    ];
    const out = getObjects([id('a'), id('b')], null, { locate: () => located, fetch: () => obj(2) });
    expect(out).toEqual([obj(1), obj(2)]);
  });

  it('asks again where an object is when its pull fails, then reads it from its new holder', async () => {
    vi.useFakeTimers();
    const locate = vi.fn((ids: readonly ObjectId[]): ResolvedArg[] => ids.map((x) => ({ kind: 'located', id: x, nodes: [locate.mock.calls.length > 1 ? n('n2') : n('n1')] })));
    const fetch = vi.fn((_: ObjectId, nodes: readonly NodeId[]) => (nodes[0] === n('n1') ? Promise.reject(new Error('the holder left')) : Promise.resolve(obj('v'))));
    const out = getObjects([id('a')], null, { locate, fetch });
    await vi.advanceTimersByTimeAsync(GET_REFETCH_DELAY_MS);
    await expect(out).resolves.toEqual([obj('v')]);
    expect(locate.mock.calls.map((c) => c[0])).toEqual([[id('a')], [id('a')]]);
  });

  it(`gives up after ${GET_REFETCH_MAX} more tries, and at once when the caller went away`, async () => {
    vi.useFakeTimers();
    const src = { locate: (ids: readonly ObjectId[]): ResolvedArg[] => ids.map((x) => ({ kind: 'located', id: x, nodes: [n('n1')] })), fetch: vi.fn(() => Promise.reject(new Error('gone'))) };
    const out = getObjects([id('a')], null, src);
    const failed = expect(out).rejects.toThrow('gone');
    await vi.advanceTimersByTimeAsync(GET_REFETCH_DELAY_MS * 10);
    await failed;
    expect(src.fetch).toHaveBeenCalledTimes(GET_REFETCH_MAX + 1);

    src.fetch.mockClear();
    await expect(getObjects([id('a')], null, { ...src, abandoned: () => true })).rejects.toThrow('gone');
    expect(src.fetch).toHaveBeenCalledTimes(1);
  });

  it('passes the time left to the second ask', async () => {
    vi.useFakeTimers();
    const timeouts: (number | null)[] = [];
    let first = true;
    const out = getObjects([id('a')], 1000, {
      locate: (ids, t) => {
        timeouts.push(t);
        return ids.map((x) => ({ kind: 'located', id: x, nodes: [n('n1')] }));
      },
      fetch: () => (first ? ((first = false), Promise.reject(new Error('left'))) : Promise.resolve(obj(3))),
    });
    await vi.advanceTimersByTimeAsync(GET_REFETCH_DELAY_MS);
    await expect(out).resolves.toEqual([obj(3)]);
    expect(timeouts[0]).toBe(1000);
    expect(timeouts[1]).toBeLessThanOrEqual(1000 - GET_REFETCH_DELAY_MS);
  });
});
