import { describe, expect, it } from 'vitest';
import { reachableBuffers } from './retained-buffers.ts';

describe('reachableBuffers', () => {
  it('finds buffers behind typed arrays, views and plain buffers in objects, arrays, Maps and Sets', () => {
    const a = new Float64Array(4);
    const b = new ArrayBuffer(8);
    const c = new Uint8Array(16);
    const d = new DataView(new ArrayBuffer(2));
    const found = reachableBuffers([{ deep: [{ a }] }, new Map([['k', b]]), new Set([c.subarray(1)]), d], Infinity);
    expect(found).toEqual(new Set([a.buffer, b, c.buffer, d.buffer]));
  });

  it('survives cycles', () => {
    const o: Record<string, unknown> = { arr: new Int32Array(1) };
    o.self = o;
    expect(reachableBuffers([o], Infinity)?.size).toBe(1);
  });

  it('gives up (undefined) past its budget of objects, so callers assume the worst', () => {
    const many = Array.from({ length: 50 }, () => ({}));
    expect(reachableBuffers([many], 10)).toBeUndefined();
    expect(reachableBuffers([many], 100)).toEqual(new Set());
  });
});
