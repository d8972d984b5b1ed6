import { describe, expect, it } from 'vitest';
import type { WorkerSlot } from './assignment.ts';
import { LocalResources } from './local-resources.ts';

/** Only the fields LocalResources reads and writes. */
function slot(): WorkerSlot {
  return { lease: null, shape: null, blocked: 0 } as unknown as WorkerSlot;
}

describe('LocalResources', () => {
  it('leases what fits and gives it back on release', () => {
    const r = new LocalResources({ CPU: 2, GPU: 1 });
    const w = slot();
    expect(r.fits({ CPU: 2, GPU: 1 })).toBe(true);
    r.lease(w, { CPU: 2, GPU: 1 });
    expect(w.lease).toEqual({ CPU: 2, GPU: 1 });
    expect(w.shape).not.toBeNull();
    expect(r.fits({ CPU: 1 })).toBe(false);
    r.release(w);
    expect(w.lease).toBeNull();
    expect(w.shape).toBeNull();
    expect(r.fits({ CPU: 2, GPU: 1 })).toBe(true);
  });

  it('lends a blocked task’s CPU and takes it back when it unblocks', () => {
    const r = new LocalResources({ CPU: 1 });
    const w = slot();
    r.lease(w, { CPU: 1 });
    expect(r.fits({ CPU: 1 })).toBe(false);
    expect(r.lendCpu(w)).toBe(true);
    expect(r.fits({ CPU: 1 })).toBe(true);
    r.reclaimCpu(w);
    expect(r.fits({ CPU: 1 })).toBe(false);
  });

  it('does not give a lent CPU back twice when a blocked worker’s lease ends', () => {
    const r = new LocalResources({ CPU: 1 });
    const w = slot();
    r.lease(w, { CPU: 1 });
    w.blocked = 1;
    r.lendCpu(w);
    const other = slot();
    r.lease(other, { CPU: 1 });
    r.release(w);
    // The lent CPU is still `other`'s: releasing the blocked worker must not free it again.
    expect(r.fits({ CPU: 1 })).toBe(false);
  });

  it('has nothing to lend for a zero-CPU lease', () => {
    const r = new LocalResources({ CPU: 1 });
    const w = slot();
    r.lease(w, { CPU: 0 });
    expect(r.lendCpu(w)).toBe(false);
  });

  it('holds an actor’s resources until its worker goes', () => {
    const r = new LocalResources({ CPU: 2 });
    const w = slot();
    r.holdForActor({ CPU: 2 });
    w.lease = { CPU: 2 };
    expect(r.fits({ CPU: 1 })).toBe(false);
    r.releaseActor(w);
    expect(w.lease).toBeNull();
    expect(r.fits({ CPU: 2 })).toBe(true);
  });
});
