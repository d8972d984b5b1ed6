import { describe, expect, it } from 'vitest';
import type { ObjectId } from '../protocol/ids.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { ObjectRef } from './object-ref.ts';
import { RemoteFunction } from './remote-function.ts';
import { deserialize, serialize, snapshot, transferables, withTransferableCopies } from './serialization.ts';

/** What the other side of a postMessage sees: a structured clone of the serialized object. */
function roundTrip(value: unknown): unknown {
  const sent = structuredClone(serialize(value, 'argument 0 of f'));
  return deserialize(sent, false);
}

const oid = (s: string): ObjectId => s as ObjectId;

describe('serialize/deserialize round trips', () => {
  it.each([
    ['a number', 42],
    ['a negative float', -1.5],
    ['NaN', NaN],
    ['a string', 'héllo'],
    ['an empty string', ''],
    ['true', true],
    ['null', null],
    ['undefined', undefined],
    ['a bigint', 12345678901234567890n],
  ])('keeps %s', (_name, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('keeps nested plain objects and arrays', () => {
    const v = { a: 1, b: [1, 'two', { c: [null, true] }], d: { e: { f: 'g' } } };
    expect(roundTrip(v)).toEqual(v);
  });

  it('keeps Map, Set, Date, RegExp and Error', () => {
    const v = {
      m: new Map<unknown, unknown>([['k', 1], [2, { x: 'y' }]]),
      s: new Set([1, 'a']),
      d: new Date(1_700_000_000_000),
      r: /ab+c/gi,
      e: new RangeError('out of range'),
    };
    const out = roundTrip(v) as typeof v;
    expect(out.m).toBeInstanceOf(Map);
    expect(out.m.get('k')).toBe(1);
    expect(out.m.get(2)).toEqual({ x: 'y' });
    expect([...out.s]).toEqual([1, 'a']);
    expect(out.d).toBeInstanceOf(Date);
    expect(out.d.getTime()).toBe(1_700_000_000_000);
    expect(out.r.source).toBe('ab+c');
    expect(out.r.flags).toBe('gi');
    expect(out.e).toBeInstanceOf(RangeError);
    expect(out.e.message).toBe('out of range');
  });

  it('keeps typed arrays, DataView and ArrayBuffer contents', () => {
    const f = new Float64Array([1.5, 2.5, -3]);
    const u = new Uint8Array([1, 2, 255]);
    const buf = new Uint16Array([7, 8]).buffer;
    const out = roundTrip({ f, u, buf, dv: new DataView(new ArrayBuffer(4)) }) as Record<string, unknown>;
    expect(out.f).toBeInstanceOf(Float64Array);
    expect([...(out.f as Float64Array)]).toEqual([1.5, 2.5, -3]);
    expect([...(out.u as Uint8Array)]).toEqual([1, 2, 255]);
    expect([...new Uint16Array(out.buf as ArrayBuffer)]).toEqual([7, 8]);
    expect(out.dv).toBeInstanceOf(DataView);
  });

  it('keeps cycles and shared references', () => {
    const shared = { n: 1 };
    const v: Record<string, unknown> = { a: shared, b: shared };
    v.self = v;
    const out = roundTrip(v) as Record<string, unknown>;
    expect(out.self).toBe(out);
    expect(out.a).toBe(out.b);
    expect(out.a).toEqual({ n: 1 });
  });

  it('keeps a cycle that also holds an ObjectRef', () => {
    const v: Record<string, unknown> = { ref: new ObjectRef(oid('t1.0')) };
    v.self = v;
    const s = serialize(v, 'x');
    expect(s.refs).toEqual(['t1.0']);
    const out = deserialize(structuredClone(s), false) as Record<string, unknown>;
    expect(out.self).toBe(out);
    expect(out.ref).toBeInstanceOf(ObjectRef);
  });

  it('gives each deserialize with copy its own value, leaving the stored one intact', () => {
    const stored = serialize({ list: [1, 2] }, 'x');
    const first = deserialize(stored, true) as { list: number[] };
    first.list.push(3);
    expect(deserialize(stored, true)).toEqual({ list: [1, 2] });
  });

  it('estimates size from string length and buffer bytes', () => {
    expect(serialize('abcd', 'x').size).toBe(8);
    expect(serialize(new Float64Array(1000), 'x').size).toBe(8000);
    expect(serialize({ a: new Uint8Array(100), b: 'xy' }, 'x').size).toBeGreaterThanOrEqual(104);
  });
});

describe('handles inside values', () => {
  it('turns nested ObjectRefs into markers listed in refs, without touching the original', () => {
    const r1 = new ObjectRef(oid('t1.0'));
    const r2 = new ObjectRef(oid('p7'));
    const v = { list: [r1, 5], deep: { r2 } };
    const s = serialize(v, 'argument 0 of f');
    expect(s.m).toBe(1);
    expect([...(s.refs ?? [])].sort()).toEqual(['p7', 't1.0']);
    expect((s.v as { list: unknown[] }).list[0]).toEqual({ __webray__: 'ref', id: 't1.0' });
    expect(v.list[0]).toBe(r1);
  });

  it('revives nested ObjectRef markers as ObjectRefs with the same id', () => {
    const v = {
      list: [new ObjectRef(oid('t1.0'))],
      map: new Map([['k', new ObjectRef(oid('t2.1'))]]),
      set: new Set([new ObjectRef(oid('p3'))]),
    };
    const out = roundTrip(v) as typeof v;
    expect(out.list[0]).toBeInstanceOf(ObjectRef);
    expect(out.list[0]!.id).toBe('t1.0');
    expect(out.map.get('k')).toBeInstanceOf(ObjectRef);
    expect(out.map.get('k')!.id).toBe('t2.1');
    const [fromSet] = [...out.set];
    expect(fromSet).toBeInstanceOf(ObjectRef);
    expect(fromSet!.id).toBe('p3');
  });

  it('lists refs inside Maps and Sets too', () => {
    const s = serialize({ m: new Map([['a', new ObjectRef(oid('x.0'))]]), s: new Set([new ObjectRef(oid('y.0'))]) }, 'x');
    expect([...(s.refs ?? [])].sort()).toEqual(['x.0', 'y.0']);
  });

  it('sends a remote function by reference and revives it as a RemoteFunction', () => {
    const fn = RemoteFunction.define((a: number) => a + 1, undefined);
    const s = serialize({ fn }, 'x');
    expect(s.m).toBe(1);
    expect(s.refs).toBeUndefined();
    const out = deserialize(structuredClone(s), false) as { fn: RemoteFunction };
    expect(out.fn).toBeInstanceOf(RemoteFunction);
    expect(out.fn.descriptor.fnId).toBe(fn.descriptor.fnId);
  });

  it('leaves values without handles unmarked and sharing memory with the input', () => {
    const v = { a: [1] };
    const s = serialize(v, 'x');
    expect(s.m).toBeUndefined();
    expect(s.refs).toBeUndefined();
    expect(s.v).toBe(v);
  });
});

describe('refusals', () => {
  it('refuses a function, naming its path inside the argument', () => {
    expect(() => serialize({ x: [1, 2, () => 3] }, 'argument 0 of f')).toThrow(/argument 0 of f\.x\[2\] is a function/);
  });

  it('refuses a top-level function and suggests ray.remote or scope', () => {
    expect(() => serialize(() => 1, 'argument 1 of g')).toThrow(/^argument 1 of g is a function.*ray\.remote/);
  });

  it('refuses a Symbol, naming its path', () => {
    expect(() => serialize({ tag: Symbol('t') }, 'argument 0 of f')).toThrow(/argument 0 of f\.tag is a Symbol/);
  });

  it('refuses a class instance, naming the class and path', () => {
    class Point {
      x = 1;
    }
    expect(() => serialize({ p: new Point() }, 'argument 2 of f')).toThrow(/argument 2 of f\.p is a Point instance/);
  });

  it('names Map values by key and Set values by position', () => {
    expect(() => serialize(new Map([['k', () => 1]]), 'v')).toThrow(/v\.get\("k"\) is a function/);
    expect(() => serialize(new Set([1, Symbol('s')]), 'v')).toThrow(/v\.values\(\)\[1\] is a Symbol/);
  });

  it('throws TypeErrors', () => {
    expect(() => serialize({ f() {} }, 'v')).toThrow(TypeError);
  });
});

describe('snapshot', () => {
  it('isolates the stored object from later mutation of the caller value', () => {
    const v = { list: [1, 2], nested: { n: 1 }, buf: new Uint8Array([1]) };
    const s = snapshot(serialize(v, 'x'));
    v.list.push(3);
    v.nested.n = 99;
    v.buf[0] = 42;
    expect(deserialize(s, false)).toEqual({ list: [1, 2], nested: { n: 1 }, buf: new Uint8Array([1]) });
  });

  it('returns primitives as they are', () => {
    const s: SerializedObject = serialize(7, 'x');
    expect(snapshot(s)).toBe(s);
  });

  it('keeps refs and markers through the snapshot', () => {
    const s = snapshot(serialize([new ObjectRef(oid('t.0'))], 'x'));
    expect(s.refs).toEqual(['t.0']);
    expect((deserialize(s, false) as unknown[])[0]).toBeInstanceOf(ObjectRef);
  });
});

describe('transferables', () => {
  const BIG = 64 * 1024;

  it('finds large buffers and the buffers of large typed arrays, once each', () => {
    const big = new ArrayBuffer(BIG);
    const view = new Float64Array(BIG / 8);
    const out = transferables({ a: big, b: [view, big] });
    expect(out).toHaveLength(2);
    expect(out).toContain(big);
    expect(out).toContain(view.buffer);
  });

  it('leaves small buffers to be copied', () => {
    expect(transferables({ a: new ArrayBuffer(BIG - 1), b: new Uint8Array(16) })).toEqual([]);
  });

  it('finds nothing in primitives and plain data', () => {
    expect(transferables(5)).toEqual([]);
    expect(transferables({ a: [1, 'x'] })).toEqual([]);
  });
});

describe('snapshot of bare buffers', () => {
  it('copies typed arrays, DataViews and ArrayBuffers so later writes to the original do not show', () => {
    const f = new Float64Array([1, 2, 3]);
    const d = new DataView(new ArrayBuffer(8), 0, 4);
    const b = new Uint8Array([9, 9]).buffer;
    const sf = snapshot(serialize(f, 'f')).v as Float64Array;
    const sd = snapshot(serialize(d, 'd')).v as DataView;
    const sb = snapshot(serialize(b, 'b')).v as ArrayBuffer;
    f[0] = 100;
    d.setUint8(0, 7);
    new Uint8Array(b)[0] = 1;
    expect(sf).toBeInstanceOf(Float64Array);
    expect([...sf]).toEqual([1, 2, 3]);
    expect(sd.byteLength).toBe(4);
    expect(sd.getUint8(0)).toBe(0);
    expect([...new Uint8Array(sb)]).toEqual([9, 9]);
  });
});

describe('withTransferableCopies', () => {
  it('replaces large bare buffers by transferable copies and leaves the originals and small values alone', () => {
    const big = new Float64Array(1024).fill(2);
    const small = new Uint8Array(8);
    const objs = [serialize(big, 'a'), serialize(small, 'b'), serialize({ x: 1 }, 'c')];
    const { objs: out, transfer } = withTransferableCopies(objs, 4096);
    expect(transfer).toHaveLength(1);
    const copy = out[0]!.v as Float64Array;
    expect(copy).not.toBe(big);
    expect(transfer[0]).toBe(copy.buffer);
    expect([...copy.slice(0, 3)]).toEqual([2, 2, 2]);
    expect(out[1]).toBe(objs[1]);
    expect(out[2]).toBe(objs[2]);
    expect(objs[0]!.v).toBe(big);
  });

  it('returns the same list when nothing is large enough', () => {
    const objs = [serialize(new Uint8Array(10), 'a')];
    const r = withTransferableCopies(objs, 4096);
    expect(r.objs).toBe(objs);
    expect(r.transfer).toEqual([]);
  });
});
