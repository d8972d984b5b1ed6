// Blocked tasks share their worker (issue 12; worker/executor.ts, node/worker-pool.ts takeParked):
// real nodes and executors on the in-memory cluster, on one and two CPUs, where the worker a task
// blocked on is the one its children run on.
import { describe, expect, it } from 'vitest';
import { cancel, get, remote, type wait } from '../api/ray-api.ts';
import { useInMemoryCluster, waitFor } from './in-memory-cluster.fixture.ts';

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

  it('a task cancelled while it runs is stopped when it then blocks, and the task sharing its worker is not taken down', async () => {
    const c = await hooks.start({ head: { CPU: 1 }, volunteers: [] });
    const g = globalThis as Record<string, unknown>;
    let release = (): void => {};
    g.__gate = new Promise<void>((r) => (release = r));
    g.__pStarted = false;
    const sleeper = remote({ maxRetries: 0 }, async function sleeper() {
      await new Promise((r) => setTimeout(r, 1500));
      return 7;
    });
    const slow0 = remote({ numCpus: 0 }, async function slow0() {
      await new Promise((r) => setTimeout(r, 3000));
      return 0;
    });
    const parent = remote(async function parent(refs: unknown[]) {
      (globalThis as Record<string, unknown>).__pStarted = true;
      await (globalThis as unknown as { __gate: Promise<void> }).__gate;
      return ray.get(refs[0] as never);
    });
    const p = parent.remote([slow0.remote()]);
    const other = sleeper.remote();
    await waitFor(() => g.__pStarted === true, 'parent started');
    cancel(p);
    await waitFor(() => c.head.workers.some((w) => w.received.some((m) => m.type === 'cancel')), 'the cancel reached the worker');
    release();
    await expect(get(p, { timeoutMs: 5_000 })).rejects.toMatchObject({ name: 'TaskCancelledError' });
    await expect(get(other, { timeoutMs: 5_000 })).resolves.toBe(7);
  });
});
