import { describe, expect, it } from 'vitest';
import { seedOf } from './task-seed.ts';

describe('seedOf', () => {
  it('is the same for the same id, an unsigned 32-bit integer', () => {
    expect(seedOf('head-t1')).toBe(seedOf('head-t1'));
    for (const id of ['', 'a', 'head-t1', 'x'.repeat(200), 'τ-ünïcode']) {
      const s = seedOf(id);
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(2 ** 32);
    }
  });

  it('is a fixed function of the id (the same in every tab, worker and version)', () => {
    // Values computed independently (FNV-1a 32, then MurmurHash3's fmix32) in Python.
    expect(seedOf('')).toBe(2_872_998_923);
    expect(seedOf('head-t0')).toBe(1_169_641_775);
  });

  it('differs across the ids of consecutive tasks', () => {
    const seeds = new Set<number>();
    for (let i = 0; i < 10_000; i++) seeds.add(seedOf(`head-t${i.toString(36)}`));
    expect(seeds.size).toBe(10_000);
  });
});
