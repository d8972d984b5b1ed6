import { describe, expect, it } from 'vitest';
import { taskWireError, toWireError } from '../api/errors.ts';
import { MAX_ERROR_CAUSE_DEPTH, MAX_ERROR_TEXT_CHARS } from './limits.ts';
import { parseFromWorker } from './worker-message-schemas.ts';

// An honest worker never sends what its node refuses: what task code throws is cut to the bounds
// before it is sent (api/errors.ts toWireError), however large, deep or cyclic.

const doneWith = (e: unknown) => ({ type: 'done', taskId: 't1', startMs: 0, endMs: 1, error: taskWireError('f', toWireError(e)) });

describe('a worker reporting what task code threw', () => {
  it('stays within the checks for an over-long message, a deep cause chain and a cyclic one', () => {
    const long = new Error('x'.repeat(MAX_ERROR_TEXT_CHARS + 10));
    let deep = new Error('leaf');
    for (let i = 0; i < 3 * MAX_ERROR_CAUSE_DEPTH; i++) deep = new Error(`level ${i}`, { cause: deep });
    const cyclic = new Error('me');
    (cyclic as { cause?: unknown }).cause = cyclic;
    const weird = Object.assign(new Error('named'), { name: 'N'.repeat(5000) });
    for (const e of [long, deep, cyclic, weird, 'x'.repeat(MAX_ERROR_TEXT_CHARS + 1)]) {
      const r = parseFromWorker(doneWith(e));
      expect(r.ok ? 'accepted' : r.reason).toBe('accepted');
    }
  });

  it('keeps an ordinary error whole', () => {
    const e = new TypeError('bad input', { cause: new RangeError('too big') });
    const w = toWireError(e);
    expect(w).toMatchObject({ name: 'TypeError', message: 'bad input', cause: { name: 'RangeError', message: 'too big' } });
    expect(parseFromWorker(doneWith(e)).ok).toBe(true);
  });

  it('takes a done\'s heldMs only as a finite number of at least 0 (it decides which tasks share a worker)', () => {
    const done = (heldMs: unknown) => parseFromWorker({ type: 'done', taskId: 't1', startMs: 0, endMs: 1, heldMs, results: [] });
    expect(done(0.5).ok).toBe(true);
    for (const bad of [-1, Infinity, NaN, '1']) expect(done(bad).ok).toBe(false);
  });

  it('refuses what the bounds refuse when it is not cut first', () => {
    const r = parseFromWorker({ type: 'done', taskId: 't1', startMs: 0, endMs: 1, error: { name: 'E', message: 'x'.repeat(MAX_ERROR_TEXT_CHARS + 1) } });
    expect(r.ok ? 'accepted' : r.reason).toMatch(/^done: error\.message/);
  });
});
