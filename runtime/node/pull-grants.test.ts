import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeId, ObjectId } from '../protocol/ids.ts';
import { PULL_GRANT_WAIT_MS } from './constants.ts';
import { PullGrants } from './pull-grants.ts';

const A = 'node-a' as NodeId;
const B = 'node-b' as NodeId;
const X = 'tx.0' as ObjectId;

describe('PullGrants', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers one pull per grant, for that puller and object only', () => {
    const g = new PullGrants();
    g.expect(A, [X, X]);
    expect(g.take(A, X)).toBe(true);
    expect(g.take(A, X)).toBe(true);
    expect(g.take(A, X)).toBeInstanceOf(Promise); // used up: waits for a new grant
    expect(g.take(B, X)).toBeInstanceOf(Promise);
  });

  it('lets a pull that arrived before its grant wait for it, and refuses it after PULL_GRANT_WAIT_MS', async () => {
    const g = new PullGrants();
    const early = g.take(A, X);
    g.expect(A, [X]);
    await expect(early).resolves.toBe(true);
    const never = g.take(B, X);
    vi.advanceTimersByTime(PULL_GRANT_WAIT_MS);
    await expect(never).resolves.toBe(false);
    // The late grant is kept for a later pull, not given to the refused one.
    g.expect(B, [X]);
    expect(g.take(B, X)).toBe(true);
  });

  it('drops the grants of freed objects, and refuses waiting pulls when the node stops', async () => {
    const g = new PullGrants();
    g.expect(A, [X]);
    g.forget([X]);
    const waiting = g.take(A, X);
    g.close();
    await expect(waiting).resolves.toBe(false);
  });
});
