// Blocked tasks share their worker (issue 12; worker/executor.ts, node/worker-pool.ts takeParked):
// real nodes and executors on the in-memory cluster, on one and two CPUs, where the worker a task
// blocked on is the one its children run on.
import { describe, expect, it } from 'vitest';
import { get, remote, type wait } from '../api/ray-api.ts';
import { useInMemoryCluster } from './in-memory-cluster.fixture.ts';

// Inside task code, `ray` is the worker's global.
declare const ray: { get: typeof get; wait: typeof wait };

const hooks = useInMemoryCluster();

describe('blocked tasks share their worker', () => {
  it.each([1, 2])('on %i CPU(s), a task reading a generator it started (backpressure 1) gets every item', async (cpus) => {
    await hooks.start({ head: { CPU: cpus }, volunteers: [] });
    const count = remote({ numReturns: 'streaming', generatorBackpressureNumObjects: 1 }, function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    const consumer = remote({ scope: { count } }, async function consumer() {
      const gen = count.remote(4);
      // Lends its CPU: the generator starts, on this worker, and stops at its first item.
      await ray.wait([gen.completed()], { numReturns: 1, timeoutMs: 300 });
      const out: number[] = [];
      for await (const r of gen) out.push(await ray.get(r));
      return out;
    });
    await expect(get(consumer.remote(), { timeoutMs: 5_000 })).resolves.toEqual([0, 1, 2, 3]);
  });

  it('on one CPU, a task iterating a generator it started lends its CPU while it waits for an item (generatorNext blocks, as get does)', async () => {
    await hooks.start({ head: { CPU: 1 }, volunteers: [] });
    const count = remote({ numReturns: 'streaming' }, function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    const consumer = remote({ scope: { count } }, async function consumer() {
      const out: number[] = [];
      for await (const r of count.remote(3)) out.push(await ray.get(r));
      return out;
    });
    await expect(get(consumer.remote(), { timeoutMs: 5_000 })).resolves.toEqual([0, 1, 2]);
  });
});
