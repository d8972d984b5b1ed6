import { describe, expect, it } from 'vitest';
import type { ObjectId } from '../protocol/ids.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { joinObject, splitObject } from './spill-format.ts';

/** Same type and bytes (toEqual on large typed arrays is slow). */
function sameBytes(a: unknown, b: ArrayBufferView | ArrayBuffer): boolean {
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const bytes = (x: ArrayBufferView | ArrayBuffer) => (x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  return Buffer.compare(bytes(a as ArrayBufferView), bytes(b)) === 0;
}

function roundTrip(obj: SerializedObject): SerializedObject {
  const s = splitObject(obj);
  // Copy each part as the spill store would (its bytes come back in fresh buffers).
  const data = s.bytes.map((b) => b.slice().buffer);
  return joinObject(s.head.slice(), s.buffers, data);
}

describe('spill format', () => {
  it('keeps a large typed array out of band, as a view of its own memory', () => {
    const v = new Float64Array(100_000).map((_, i) => i * 0.5);
    const s = splitObject({ v, size: v.byteLength });
    expect(s.buffers).toEqual([{ kind: 'Float64Array', byteLength: v.byteLength, paths: [[]] }]);
    expect(s.bytes[0]!.buffer).toBe(v.buffer);
    expect(s.head.byteLength).toBeLessThan(64);
    const back = roundTrip({ v, size: v.byteLength });
    expect(sameBytes(back.v, v)).toBe(true);
    expect(back.size).toBe(v.byteLength);
  });

  it('takes only the bytes of a view over a larger buffer', () => {
    const whole = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    const view = new Int32Array(whole.buffer, 4096, 100_000);
    const back = roundTrip({ v: view, size: view.byteLength });
    expect((back.v as Int32Array).byteLength).toBe(view.byteLength);
    expect(sameBytes(back.v, view)).toBe(true);
  });

  it('finds buffers inside arrays and plain objects, shares a buffer seen twice, and keeps the rest as is', () => {
    const a = new Float32Array(50_000).fill(1.5);
    const b = new ArrayBuffer(70_000);
    new Uint8Array(b).fill(7);
    const small = new Uint8Array([1, 2, 3]);
    const value = { a, list: [b, 'x', a], small, nested: { map: new Map([['k', 1]]), date: new Date(5) } };
    const s = splitObject({ v: value, size: 1 });
    expect(s.buffers.map((x) => [x.kind, x.paths])).toEqual([
      ['Float32Array', [['a'], ['list', 2]]],
      ['ArrayBuffer', [['list', 0]]],
    ]);
    // The caller's value is not touched.
    expect(value.a).toBe(a);
    expect(value.list[0]).toBe(b);
    const back = roundTrip({ v: value, size: 1 }).v as typeof value;
    expect(sameBytes(back.a, a)).toBe(true);
    expect(back.list[2] === back.a).toBe(true);
    expect(sameBytes(back.list[0], b)).toBe(true);
    expect(back.list[1]).toBe('x');
    expect(back.small).toEqual(small);
    expect(back.nested.map.get('k')).toBe(1);
    expect(back.nested.date.getTime()).toBe(5);
  });

  it('keeps markers, refs and errors', () => {
    const obj: SerializedObject = {
      v: { __webray__: 'ref', id: 'p1' },
      m: 1,
      refs: ['p1' as ObjectId],
      size: 8,
    };
    expect(roundTrip(obj)).toEqual(obj);
    const err: SerializedObject = { v: undefined, size: 0, err: { name: 'RayTaskError', message: 'boom' } };
    expect(roundTrip(err)).toEqual(err);
  });

  it('handles cycles by leaving them to msgpackr', () => {
    const big = new Float64Array(20_000).fill(2);
    const cyc: Record<string, unknown> = { big };
    cyc.self = cyc;
    const back = roundTrip({ v: cyc, size: 1 }).v as Record<string, unknown>;
    expect(sameBytes(back.big, big)).toBe(true);
    expect(back.self === back).toBe(true);
  });
});

describe('spill format: shared containers', () => {
  it('keeps a container that appears twice as one object', () => {
    const inner = { big: new Float64Array(20_000).fill(3) };
    const back = roundTrip({ v: [inner, inner], size: 1 }).v as (typeof inner)[];
    expect(back[0] === back[1]).toBe(true);
    expect(sameBytes(back[0]!.big, inner.big)).toBe(true);
  });
});
