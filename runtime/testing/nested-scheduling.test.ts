import { describe, expect, it } from 'vitest';
import { availableResources, get, remote, wait } from '../api/ray-api.ts';
import { useInMemoryCluster } from './in-memory-cluster.fixture.ts';

// Nested tasks under the coordinator's resource ownership (cluster-scheduler.ts): tasks blocked in
// get/wait lend their CPU, short tasks are pipelined behind busy workers and handed back when the
// task ahead of them blocks, and nothing deadlocks. Task code's `ray` is its worker's Core.

/** What task code sees as `ray` (a parameter of its compiled body). */
declare const ray: { get: typeof get; wait: typeof wait };

const hooks = useInMemoryCluster();

describe('nested tasks on one node', () => {
  it('five hundred short tasks, some waiting on children they submitted, all finish and every CPU comes back', async () => {
    await hooks.start({ head: { CPU: 2 }, volunteers: [] });
    const leaf = remote(function leaf(x: number) {
      return x + 1;
    });
    const mixed = remote({ scope: { leaf } }, async function mixed(i: number) {
      if (i % 37 === 0) return (await ray.get(leaf.remote(i))) - 1;
      if (i % 53 === 0) {
        const [ready] = await ray.wait([leaf.remote(i)], { numReturns: 1 });
        return (await ray.get(ready[0]!)) - 1;
      }
      return i;
    });
    const values = await get(
      Array.from({ length: 500 }, (_, i) => mixed.remote(i)),
      { timeoutMs: 8_000 },
    );
    expect(values.every((v, i) => v === i)).toBe(true);
    expect(availableResources().CPU).toBe(2);
  });

  it('parents blocked on children blocked on grandchildren all finish on one CPU (Ray test_fair_queueing)', async () => {
    await hooks.start({ head: { CPU: 1 }, volunteers: [] });
    const h = remote(function h() {
      return 0;
    });
    const g = remote({ scope: { h } }, async function g() {
      return ray.get(h.remote());
    });
    const f = remote({ scope: { g } }, async function f() {
      return ray.get(g.remote());
    });
    const refs = Array.from({ length: 100 }, () => f.remote());
    const [ready] = await wait(refs, { numReturns: refs.length, timeoutMs: 8_000 });
    expect(ready).toHaveLength(100);
    expect(availableResources().CPU).toBe(1);
  });
});
