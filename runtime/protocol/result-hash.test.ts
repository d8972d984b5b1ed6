import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resultBytes, resultSha256 } from './result-hash.ts';

const hash = (v: unknown, m?: 1): Promise<string> => resultSha256(m ? { v, m } : { v });

/** The value built afresh each time, as two nodes running the same code would. */
function sample(): unknown {
  const shared = { k: 1 };
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic.self = cyclic;
  return {
    n: 3.5,
    neg: -0,
    big: 12345678901234567890n,
    s: 'héllo ✓',
    list: [1, , 'x'], // eslint-disable-line no-sparse-arrays -- a hole must hash apart from undefined
    map: new Map<unknown, unknown>([['a', 1], [2, [shared, shared]]]),
    set: new Set([1, 'two']),
    date: new Date(86_400_000),
    re: /ab+c/gi,
    buf: new Float64Array([1, 2, 3]),
    raw: new Uint8Array(10_000).fill(7).buffer,
    err: new RangeError('out', { cause: 'why' }),
    cyclic,
  };
}

describe('resultSha256', () => {
  it('is the hex SHA-256 of the canonical bytes', async () => {
    const v = sample();
    const bytes = Buffer.concat(resultBytes({ v }));
    const h = await hash(v);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('gives equal values built separately the same hash', async () => {
    expect(await hash(sample())).toBe(await hash(sample()));
    expect(await hash(structuredClone(sample()))).toBe(await hash(sample()));
  });

  it('ignores an error stack (it names the node) but not its name, message or cause', async () => {
    const a = new TypeError('bad');
    const b = new TypeError('bad');
    b.stack = 'TypeError: bad\n    at http://other-node/…';
    expect(await hash(a)).toBe(await hash(b));
    expect(await hash(new RangeError('bad'))).not.toBe(await hash(a));
    expect(await hash(new TypeError('bad', { cause: 1 }))).not.toBe(await hash(a));
  });

  it('hashes every NaN alike and keeps -0 apart from 0', async () => {
    const otherNaN = new Float64Array(new BigUint64Array([0x7ff8000000000001n]).buffer)[0]!;
    expect(Number.isNaN(otherNaN)).toBe(true);
    expect(await hash(otherNaN)).toBe(await hash(NaN));
    expect(await hash(-0)).not.toBe(await hash(0));
  });

  it.each([
    ['1 and "1"', 1, '1'],
    ['[1] and {0: 1}', [1], { 0: 1 }],
    ['a hole and undefined', [, 1], [undefined, 1]], // eslint-disable-line no-sparse-arrays -- the point of the case
    ['Int8Array and Uint8Array of the same bytes', new Int8Array([1, 2]), new Uint8Array([1, 2])],
    ['a buffer and a view of it', new Uint8Array([1]).buffer, new Uint8Array([1])],
    ['{a, b} and {b, a}', { a: 1, b: 2 }, { b: 2, a: 1 }],
    ['Map orders', new Map([[1, 1], [2, 2]]), new Map([[2, 2], [1, 1]])],
    ['a shared object and two equal ones', (() => { const o = {}; return [o, o]; })(), [{}, {}]],
    ['null and undefined', null, undefined],
    ['a string and its concatenation with another', ['ab', 'c'], ['a', 'bc']],
  ])('tells apart %s', async (_what, a, b) => {
    expect(await hash(a)).not.toBe(await hash(b));
  });

  it('tells a value with handle markers from the same plain value (the m flag)', async () => {
    const v = { __webray__: 'ref', id: 'o1' };
    expect(await hash(v, 1)).not.toBe(await hash(v));
  });

  it('hashes a slice of a larger buffer by the slice only', async () => {
    const whole = new Uint8Array([9, 1, 2, 9]);
    expect(await hash(whole.subarray(1, 3))).toBe(await hash(new Uint8Array([1, 2])));
  });

  it('keeps large buffers out of the scratch copy (a view of their own memory)', () => {
    const big = new Float64Array(1 << 16);
    const chunks = resultBytes({ v: big });
    expect(chunks.some((c) => c.buffer === big.buffer)).toBe(true);
  });
});
