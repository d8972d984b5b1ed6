import { describe, expect, it } from 'vitest';
import { Bitset } from './bitset.ts';

describe('Bitset', () => {
  it('keeps members and their count as bits are set and cleared, growing past its first words', () => {
    const b = new Bitset();
    for (const i of [0, 31, 32, 200, 10_000]) b.set(i);
    b.set(31);
    expect(b.size).toBe(5);
    expect([0, 31, 32, 200, 10_000, 1, 33].map((i) => b.has(i))).toEqual([true, true, true, true, true, false, false]);
    b.delete(31);
    b.delete(31);
    b.delete(50_000);
    expect(b.size).toBe(4);
    expect(b.has(31)).toBe(false);
  });

  it('finds the smallest member that passes, in increasing order, or -1', () => {
    const b = new Bitset();
    for (const i of [700, 3, 64, 65, 31]) b.set(i);
    const seen: number[] = [];
    expect(b.find((i) => (seen.push(i), false))).toBe(-1);
    expect(seen).toEqual([3, 31, 64, 65, 700]);
    expect(b.find((i) => i > 40)).toBe(64);
    expect(new Bitset().find(() => true)).toBe(-1);
  });
});
