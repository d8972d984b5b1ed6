// Ids: task, put and actor ids are unguessable (96 random bits each, nothing derivable from another
// id); return ids derive from their task id; worker ids keep their process prefix.
import { describe, expect, it } from 'vitest';
import { ID_RANDOM_BITS, IdGenerator, randomId, returnId, taskIdOf } from './ids.ts';

const RANDOM_CHARS = ID_RANDOM_BITS / 6;

describe('ids', () => {
  it('mints task, put and actor ids as a kind letter and 96 random bits in base64url', () => {
    const ids = new IdGenerator('n1-');
    expect(ids.taskId()).toMatch(new RegExp(`^t[A-Za-z0-9_-]{${RANDOM_CHARS}}$`));
    expect(ids.putId()).toMatch(new RegExp(`^p[A-Za-z0-9_-]{${RANDOM_CHARS}}$`));
    expect(ids.actorId()).toMatch(new RegExp(`^a[A-Za-z0-9_-]{${RANDOM_CHARS}}$`));
    expect(RANDOM_CHARS * 6).toBeGreaterThanOrEqual(96);
  });

  it('shares nothing between consecutive ids of one process, nor with its prefix', () => {
    const ids = new IdGenerator('n1-');
    const a = ids.taskId();
    const b = ids.taskId();
    expect(a).not.toContain('n1-');
    // Consecutive ids agree in about 1/64 of their positions by chance, never in most of them.
    let same = 0;
    for (let i = 1; i < a.length; i++) if (a[i] === b[i]) same++;
    expect(same).toBeLessThan(RANDOM_CHARS / 2);
  });

  it('uses every base64url character in every position (no fixed bits), with no id repeated', () => {
    const n = 100_000;
    const seen = new Set<string>();
    const perPosition = Array.from({ length: RANDOM_CHARS }, () => new Set<string>());
    for (let i = 0; i < n; i++) {
      const id = randomId('t');
      seen.add(id);
      for (let j = 0; j < RANDOM_CHARS; j++) perPosition[j]!.add(id[j + 1]!);
    }
    expect(seen.size).toBe(n);
    for (const chars of perPosition) expect(chars.size).toBe(64);
  });

  it('mints 100k ids quickly (measured: printed for the report)', () => {
    const ids = new IdGenerator();
    const t0 = performance.now();
    let last = '';
    for (let i = 0; i < 100_000; i++) last = ids.taskId();
    const ms = performance.now() - t0;
    console.info(`100k task ids in ${ms.toFixed(1)} ms (${((ms * 1e6) / 100_000).toFixed(0)} ns each)`);
    expect(last).toHaveLength(1 + RANDOM_CHARS);
    expect(ms).toBeLessThan(5_000); // a broken pool (one getRandomValues per byte) would be far slower
  });

  it('derives return ids from the task id and back, with no dot in a random id', () => {
    const t = new IdGenerator().taskId();
    expect(t).not.toContain('.');
    expect(returnId(t, 0)).toBe(`${t}.0`);
    expect(returnId(t, 7)).toBe(`${t}.7`);
    expect(taskIdOf(returnId(t, 7))).toBe(t);
    expect(taskIdOf(new IdGenerator().putId())).toBeUndefined();
  });

  it('keeps worker ids as the process prefix and a counter', () => {
    const ids = new IdGenerator('n1-');
    expect([ids.workerId(), ids.workerId()]).toEqual(['n1-w0', 'n1-w1']);
  });
});
