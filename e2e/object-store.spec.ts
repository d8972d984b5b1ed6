// The object store (docs/api.md "Objects"): a memory budget per node (`objectStoreMemory`), spilling
// the least recently used objects to IndexedDB and restoring them on demand, objects larger than
// the budget, a full store, and spill data left by earlier sessions. Real IndexedDB in Chromium.
import type { Page } from '@playwright/test';
import type * as RayModule from '../runtime/index.ts';
import type * as RayTesting from '../runtime/testing.ts';
import type { ObjectRef } from '../runtime/index.ts';
import { test as clusterTest, uniqueClusterName, waitForAlive } from './cluster-helpers.ts';
import { expect, test, watchErrors } from './fixtures.ts';

const MiB = 1024 * 1024;

declare global {
  // Installed in the page by `installHelpers`.
  var randomArray: (mib: number) => Float64Array;
  var hashOf: (a: ArrayBufferView) => number;
  var sleep: (ms: number) => Promise<void>;
  var storeStats: () => { memoryBytes: number; spilledBytes: number; objects: number };
  var waitForStats: (
    pred: (s: { memoryBytes: number; spilledBytes: number; objects: number }) => boolean,
    timeoutMs?: number,
  ) => Promise<{ memoryBytes: number; spilledBytes: number; objects: number; ok: boolean }>;
}

/** Random Float64Arrays (random bytes: compressible data would flatter IndexedDB), a hash of their bytes, stats polling. */
async function installHelpers(page: Page): Promise<void> {
  await page.evaluate(() => {
    globalThis.randomArray = (mib: number) => {
      const u8 = new Uint8Array(mib * 1024 * 1024);
      for (let o = 0; o < u8.length; o += 65536) crypto.getRandomValues(u8.subarray(o, o + 65536));
      return new Float64Array(u8.buffer);
    };
    globalThis.hashOf = (a: ArrayBufferView) => {
      const u = new Uint32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
      let h = 0x811c9dc5;
      for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 16777619);
      return h >>> 0;
    };
    globalThis.sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    globalThis.storeStats = () => globalThis.ray.nodes()[0]!.objectStore;
    // Nodes report their store's figures every 500 ms: poll until they say what we wait for.
    globalThis.waitForStats = async (pred, timeoutMs = 15_000) => {
      const t0 = performance.now();
      for (;;) {
        const s = globalThis.storeStats();
        if (pred(s)) return { ...s, ok: true };
        if (performance.now() - t0 > timeoutMs) return { ...s, ok: false };
        await globalThis.sleep(50);
      }
    };
  });
}

test.describe('local mode, objectStoreMemory 32 MiB', () => {
  test.use({ initOptions: { numCpus: 2, objectStoreMemory: 32 * MiB } });

  test('a working set of 8 × 16 MiB random arrays (4× the budget) spills to IndexedDB and round-trips intact through get and tasks', async ({ rayPage }) => {
    const errors = watchErrors(rayPage);
    await installHelpers(rayPage);
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const MiB = 1024 * 1024;
      const hashes: number[] = [];
      const refs: ObjectRef<Float64Array>[] = [];
      for (let i = 0; i < 8; i++) {
        const a = globalThis.randomArray(16);
        hashes.push(globalThis.hashOf(a));
        refs.push(ray.put(a));
      }
      const spilled = await globalThis.waitForStats((s) => s.spilledBytes >= 96 * MiB && s.memoryBytes <= 32 * MiB);
      const viaGet: number[] = [];
      for (const r of refs) viaGet.push(globalThis.hashOf(await ray.get(r)));
      const hashTask = ray.remote({ scope: { hashOf: globalThis.hashOf } }, (a: Float64Array) => hashOf(a));
      const viaTask = await ray.get(refs.map((r) => hashTask.remote(r)));
      // Task results too large to inline stay on the node and spill like puts.
      const make = ray.remote({ numReturns: 2, scope: { randomArray: globalThis.randomArray, hashOf: globalThis.hashOf } }, () => {
        const a = randomArray(16);
        return [hashOf(a), a];
      });
      const made = Array.from({ length: 8 }, () => make.remote() as unknown as [ObjectRef<number>, ObjectRef<Float64Array>]);
      const madeHashes = await ray.get(made.map(([h]) => h));
      const madeBack: number[] = [];
      for (const [, a] of made) madeBack.push(globalThis.hashOf(await ray.get(a)));
      const after = await globalThis.waitForStats((s) => s.memoryBytes <= 32 * MiB && s.spilledBytes >= 12 * 16 * MiB);
      // Both sets of refs are still held here (their objects would be freed otherwise).
      return { hashes, spilled, viaGet, viaTask, madeHashes, madeBack, after, keep: refs.length + made.length };
    });
    expect(out.spilled.ok, JSON.stringify(out.spilled)).toBe(true);
    expect(out.viaGet).toEqual(out.hashes);
    expect(out.viaTask).toEqual(out.hashes);
    expect(out.madeBack).toEqual(out.madeHashes);
    expect(out.after.ok, JSON.stringify(out.after)).toBe(true);
    expect(out.after.spilledBytes).toBeGreaterThanOrEqual(12 * 16 * MiB);
    expect(errors).toEqual([]);
  });

  test('640 MiB spilled through a 32 MiB budget all read back intact (Blob records lost data this way in incognito profiles)', async ({ rayPage }) => {
    test.setTimeout(120_000);
    await installHelpers(rayPage);
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const refs: ObjectRef<Float64Array>[] = [];
      const hashes: number[] = [];
      const base = globalThis.randomArray(16);
      for (let i = 0; i < 40; i++) {
        // Distinct contents without generating 640 MiB of random bytes: vary one word per MiB.
        const a = base.slice();
        for (let j = 0; j < a.length; j += 131072) a[j] = i * 1e6 + j;
        hashes.push(globalThis.hashOf(a));
        refs.push(ray.put(a));
        if (i % 8 === 7) await globalThis.sleep(50);
      }
      const spilled = await globalThis.waitForStats((s) => s.spilledBytes >= 600 * 1024 * 1024, 60_000);
      const bad: number[] = [];
      for (let i = 0; i < refs.length; i++) if (globalThis.hashOf(await ray.get(refs[i]!)) !== hashes[i]) bad.push(i);
      return { spilled, bad };
    });
    expect(out.spilled.ok, JSON.stringify(out.spilled)).toBe(true);
    expect(out.bad).toEqual([]);
  });

  test('an object larger than objectStoreMemory (48 MiB) round-trips through put, get and a task, in chunks', async ({ rayPage }) => {
    await installHelpers(rayPage);
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const MiB = 1024 * 1024;
      const a = globalThis.randomArray(48);
      const hash = globalThis.hashOf(a);
      const ref = ray.put(a);
      const spilled = await globalThis.waitForStats((s) => s.spilledBytes >= 48 * MiB && s.memoryBytes === 0);
      const back = await ray.get(ref);
      const hashTask = ray.remote({ scope: { hashOf: globalThis.hashOf } }, (x: Float64Array) => [hashOf(x), x.length]);
      const [taskHash, taskLength] = await ray.get(hashTask.remote(ref));
      const copy = ray.remote((x: Float64Array) => x.slice()); // a 48 MiB result, kept on the node
      const made = await ray.get(copy.remote(ref));
      return { hash, back: globalThis.hashOf(back), length: back.length, taskHash, taskLength, madeLength: made.length, spilled, memory: globalThis.storeStats().memoryBytes };
    });
    expect(out.spilled.ok, JSON.stringify(out.spilled)).toBe(true);
    expect(out.back).toBe(out.hash);
    expect(out.length).toBe((48 * MiB) / 8);
    expect(out.taskHash).toBe(out.hash);
    expect(out.taskLength).toBe((48 * MiB) / 8);
    expect(out.madeLength).toBe((48 * MiB) / 8);
  });
});

declare global {
  // Kept across page.evaluate calls by the freeing tests.
  var keep: unknown;
  var collectUntil: (
    pred: (s: { memoryBytes: number; spilledBytes: number; objects: number }) => boolean,
    timeoutMs?: number,
  ) => Promise<{ memoryBytes: number; spilledBytes: number; objects: number; ok: boolean }>;
}

/** Garbage-collects the page and every worker of its pool until the node's figures say `pred`. */
async function installCollect(page: Page): Promise<void> {
  await page.evaluate(() => {
    const ray = globalThis.ray;
    // Two tasks side by side reach both workers of a 2-CPU pool; each collects its worker's garbage.
    const gcWorker = ray.remote({ enableTaskEvents: false }, async () => {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 30));
    });
    globalThis.collectUntil = async (pred, timeoutMs = 20_000) => {
      const t0 = performance.now();
      for (;;) {
        await ray.get([gcWorker.remote(), gcWorker.remote()]);
        globalThis.gc!(); // Chromium runs with --js-flags=--expose-gc (playwright.config.ts)
        await globalThis.sleep(100);
        const s = globalThis.storeStats();
        if (pred(s)) return { ...s, ok: true };
        if (performance.now() - t0 > timeoutMs) return { ...s, ok: false };
      }
    };
  });
}

test.describe('freeing, local mode, objectStoreMemory 32 MiB', () => {
  test.use({ initOptions: { numCpus: 2, objectStoreMemory: 32 * MiB } });

  test('spilled and in-memory bytes return to ~0 once the refs to 8 put and 8 task-made 16 MiB arrays are dropped (gc() in the page)', async ({ rayPage }) => {
    await installHelpers(rayPage);
    await installCollect(rayPage);
    const before = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const MiB = 1024 * 1024;
      const refs: ObjectRef<Float64Array>[] = [];
      for (let i = 0; i < 8; i++) refs.push(ray.put(globalThis.randomArray(16)));
      const make = ray.remote({ scope: { randomArray: globalThis.randomArray } }, () => randomArray(16));
      const made = Array.from({ length: 8 }, () => make.remote());
      const sum = ray.remote((a: Float64Array) => a.length);
      const lengths = await ray.get([...refs, ...made].map((r) => sum.remote(r)));
      const s = await globalThis.waitForStats((x) => x.spilledBytes >= 200 * MiB);
      return { ...s, lengths: lengths.every((n) => n === 2 * MiB) };
    });
    expect(before.ok, JSON.stringify(before)).toBe(true);
    expect(before.lengths).toBe(true);
    // The refs went out of scope with the evaluate call: collect them.
    const after = await rayPage.evaluate(() => globalThis.collectUntil((s) => s.objects === 0 && s.spilledBytes === 0 && s.memoryBytes === 0));
    expect(after, JSON.stringify(after)).toMatchObject({ ok: true, objects: 0, spilledBytes: 0, memoryBytes: 0 });
    // IndexedDB gave the space back too (usage is what the origin stores; a little may remain for
    // metadata). The browser compacts its files after the deletes, so the figure is polled: seen at
    // 32 MiB just after the free on a loaded machine, under 16 MiB moments later.
    await expect
      .poll(() => rayPage.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0), { timeout: 30_000 })
      .toBeLessThan(16 * MiB);
  });

  test('a nested ref keeps its inner object alive until the outer object is freed, also when a worker made both', async ({ rayPage }) => {
    await installHelpers(rayPage);
    await installCollect(rayPage);
    const made = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const a = globalThis.randomArray(16);
      const outer = ray.put({ inner: ray.put(a), label: 'outer' });
      // A worker puts a large array and returns a ref to it inside its result (the ref travels).
      const nest = ray.remote({ scope: { randomArray: globalThis.randomArray } }, () => ({ inner: ray.put(randomArray(16)) }));
      globalThis.keep = { outer, fromWorker: nest.remote() };
      await ray.get((globalThis.keep as { fromWorker: ObjectRef<unknown> }).fromWorker);
      return globalThis.hashOf(a);
    });
    // Only the outer refs are held now: both inner arrays must stay, however much is collected.
    const stored = await rayPage.evaluate(() => globalThis.waitForStats((s) => s.objects === 2));
    expect(stored.ok, JSON.stringify(stored)).toBe(true);
    const held = await rayPage.evaluate(() => globalThis.collectUntil(() => false, 2000));
    expect(held.objects).toBe(2);
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const keep = globalThis.keep as { outer: ObjectRef<{ inner: ObjectRef<Float64Array>; label: string }>; fromWorker: ObjectRef<{ inner: ObjectRef<Float64Array> }> };
      const { inner, label } = await ray.get(keep.outer);
      const fromWorker = await ray.get(keep.fromWorker);
      return { label, hash: globalThis.hashOf(await ray.get(inner)), length: (await ray.get(fromWorker.inner)).length };
    });
    expect(out).toEqual({ label: 'outer', hash: made, length: 2 * MiB });
    await rayPage.evaluate(() => (globalThis.keep = undefined));
    const after = await rayPage.evaluate(() => globalThis.collectUntil((s) => s.objects === 0 && s.spilledBytes === 0));
    expect(after, JSON.stringify(after)).toMatchObject({ ok: true, objects: 0, spilledBytes: 0, memoryBytes: 0 });
  });
});

test('ray.nodes() reports spilledBytes 0 and memory within the budget while the working set fits', async ({ rayPage }) => {
  await installHelpers(rayPage);
  const out = await rayPage.evaluate(async () => {
    const ray = globalThis.ray;
    const refs = [ray.put(globalThis.randomArray(4)), ray.put(globalThis.randomArray(4))];
    const s = await globalThis.waitForStats((x) => x.objects >= 2);
    return { ...s, n: refs.length };
  });
  expect(out.ok).toBe(true);
  expect(out.spilledBytes).toBe(0);
  expect(out.memoryBytes).toBeGreaterThanOrEqual(8 * MiB);
});

test('with memory and IndexedDB quota both used up, ray.put and a task making a large result get ObjectStoreFullError saying what to do; objects already stored stay readable (quota injected through a test hook: the real quota is ~10 GB)', async ({ page }) => {
  await page.goto('/');
  await page.evaluate(async () => {
    const url = '/webray-testing.js';
    const ray = (await import(url)) as typeof RayTesting;
    globalThis.ray = ray;
    ray.__objectStoreTestHooks.spillQuotaBytes = 40 * 1024 * 1024;
    await ray.init({ numCpus: 1, objectStoreMemory: 32 * 1024 * 1024 });
    ray.__objectStoreTestHooks.spillQuotaBytes = undefined;
  });
  await installHelpers(page);
  const out = await page.evaluate(async () => {
    const ray = globalThis.ray;
    const refs: ObjectRef<Float64Array>[] = [];
    const hashes: number[] = [];
    let putError: Error | undefined;
    for (let i = 0; i < 12 && !putError; i++) {
      const a = globalThis.randomArray(16);
      try {
        refs.push(ray.put(a));
        hashes.push(globalThis.hashOf(a));
      } catch (e) {
        putError = e as Error;
      }
      await globalThis.waitForStats((s) => s.objects >= refs.length); // the node has taken it in
    }
    const big = ray.remote(() => new Float64Array(2 * 1024 * 1024));
    const taskError = await ray.get(big.remote()).then(
      () => undefined,
      (e: Error) => e,
    );
    const back: number[] = [];
    for (const r of refs) back.push(globalThis.hashOf(await ray.get(r)));
    const small = await ray.get(ray.remote((x: number) => x + 1).remote(1));
    await ray.shutdown();
    return {
      accepted: refs.length,
      putError: putError && { name: putError.name, message: putError.message, isFull: putError instanceof ray.ObjectStoreFullError },
      taskError: taskError && { name: taskError.name, message: taskError.message, isFull: taskError instanceof ray.ObjectStoreFullError },
      intact: back.every((h, i) => h === hashes[i]),
      small,
    };
  });
  expect(out.putError?.isFull).toBe(true);
  expect(out.putError?.message).toMatch(/objectStoreMemory/);
  expect(out.putError?.message).toMatch(/quota/i);
  expect(out.putError?.message).toMatch(/Drop ObjectRefs/);
  expect(out.accepted).toBeGreaterThanOrEqual(3);
  expect(out.taskError?.isFull).toBe(true);
  expect(out.intact).toBe(true);
  expect(out.small).toBe(2);
});

test("a starting node deletes spill databases left by earlier sessions, but not a live tab's; its own is deleted at shutdown", async ({ page, context }) => {
  const spillDbs = (p: Page) => p.evaluate(async () => (await indexedDB.databases()).map((d) => d.name!).filter((n) => n.startsWith('webray-spill-')).sort());
  // A live session in another tab of the same origin.
  const other = await context.newPage();
  await other.goto('/');
  await other.evaluate(async () => {
    const url = '/webray.js';
    globalThis.ray = (await import(url)) as typeof RayModule;
    await globalThis.ray.init({ numCpus: 1 });
  });
  await expect.poll(() => spillDbs(other)).toHaveLength(1);
  const [otherDb] = await spillDbs(other);
  // An earlier session's leftover: no live tab holds its lock.
  await page.goto('/');
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const req = indexedDB.open('webray-spill-node-gone-abc123', 1);
        req.onupgradeneeded = () => req.result.createObjectStore('chunks');
        req.onsuccess = () => {
          req.result.close();
          resolve();
        };
        req.onerror = () => reject(req.error);
      }),
  );
  expect(await spillDbs(page)).toContain('webray-spill-node-gone-abc123');
  await page.evaluate(async () => {
    const url = '/webray.js';
    globalThis.ray = (await import(url)) as typeof RayModule;
    await globalThis.ray.init({ numCpus: 1 });
  });
  await expect.poll(() => spillDbs(page)).not.toContain('webray-spill-node-gone-abc123');
  await expect.poll(() => spillDbs(page)).toHaveLength(2);
  expect(await spillDbs(page)).toContain(otherDb);
  await page.evaluate(() => globalThis.ray.shutdown());
  await other.evaluate(() => globalThis.ray.shutdown());
  await expect.poll(() => spillDbs(page)).toEqual([]);
});

clusterTest.describe('across tabs (cluster mode), objectStoreMemory 32 MiB on both nodes', () => {
  clusterTest.setTimeout(180_000);

  clusterTest(
    'results made and spilled on a volunteer round-trip to the driver, wait(fetchLocal) pulls them into the driver’s node, puts spilled on the head feed tasks on the volunteer, and everything is freed on both tabs once the refs go',
    async ({ openPage }) => {
      const name = uniqueClusterName('store');
      const token = `tok-${crypto.randomUUID()}`;
      const head = await openPage('/');
      const headId = await head.page.evaluate(
        async ({ name, token }) => (await globalThis.ray.init({ address: location.origin, cluster: name, token, numCpus: 1, numGpus: 0, objectStoreMemory: 32 * 1024 * 1024 })).nodeId as string,
        { name, token },
      );
      const vol = await openPage('/join');
      const volId = await vol.page.evaluate(
        async ({ name, token }) =>
          (
            await globalThis.ray.join({
              address: location.origin,
              cluster: name,
              token,
              numCpus: 2,
              numGpus: 0,
              resources: { vol: 1 },
              objectStoreMemory: 32 * 1024 * 1024,
            })
          ).nodeId as string,
        { name, token },
      );
      await waitForAlive(head.page, [headId, volId]);
      await installHelpers(head.page);
      await head.page.evaluate(() => {
        // The driver's figures are the head node's; the volunteer's come through ray.nodes() too.
        globalThis.storeStats = () => globalThis.ray.nodes().find((n) => n.isCoordinator)!.objectStore;
      });
      const out = await head.page.evaluate(async (volId) => {
        const ray = globalThis.ray;
        const MiB = 1024 * 1024;
        const statsOf = (id: string) => ray.nodes().find((n) => n.nodeId === id)!.objectStore;
        const make = ray.remote({ resources: { vol: 0.5 }, numReturns: 2, scope: { randomArray: globalThis.randomArray, hashOf: globalThis.hashOf } }, () => {
          const a = randomArray(16);
          return [hashOf(a), a];
        });
        const made = Array.from({ length: 8 }, () => make.remote() as unknown as [ObjectRef<number>, ObjectRef<Float64Array>]);
        const hashes = await ray.get(made.map(([h]) => h));
        const arrays = made.map(([, a]) => a);
        // fetchLocal: false — ready as soon as they exist anywhere; nothing comes to the head.
        const [readyAnywhere] = await ray.wait(arrays, { numReturns: 8, fetchLocal: false, timeoutMs: 10_000 });
        const headBefore = statsOf(globalThis.ray.getRuntimeContext().nodeId as string);
        let volSpilled = statsOf(volId);
        for (let i = 0; i < 40 && volSpilled.spilledBytes < 96 * MiB; i++) {
          await globalThis.sleep(250);
          volSpilled = statsOf(volId);
        }
        // fetchLocal: true (the default) — ready once pulled into the head's store.
        const t0 = performance.now();
        const [readyLocal] = await ray.wait(arrays, { numReturns: 8, timeoutMs: 60_000 });
        const waitMs = performance.now() - t0;
        const headAfter = await globalThis.waitForStats((s) => s.objects >= 8 && s.memoryBytes <= 32 * MiB);
        const back: number[] = [];
        for (const r of arrays) back.push(globalThis.hashOf(await ray.get(r)));
        // Puts spilled on the head, read by tasks on the volunteer (restored from IndexedDB to answer the pull).
        const puts = Array.from({ length: 4 }, () => globalThis.randomArray(16));
        const putRefs = puts.map((a) => ray.put(a));
        const hashTask = ray.remote({ resources: { vol: 0.5 }, scope: { hashOf: globalThis.hashOf } }, (a: Float64Array) => hashOf(a));
        const putHashes = await ray.get(putRefs.map((r) => hashTask.remote(r)));
        return {
          hashes,
          back,
          readyAnywhere: readyAnywhere.length,
          readyLocal: readyLocal.length,
          waitMs,
          headBefore,
          headAfter,
          volSpilled,
          putsIntact: putHashes.every((h, i) => h === globalThis.hashOf(puts[i]!)),
        };
      }, volId);
      expect(out.readyAnywhere).toBe(8);
      expect(out.headBefore.objects).toBe(0);
      expect(out.volSpilled.spilledBytes).toBeGreaterThanOrEqual(96 * MiB);
      expect(out.readyLocal).toBe(8);
      expect(out.headAfter.ok, JSON.stringify(out.headAfter)).toBe(true);
      expect(out.headAfter.memoryBytes).toBeLessThanOrEqual(32 * MiB);
      expect(out.back).toEqual(out.hashes);
      expect(out.putsIntact).toBe(true);
      // Every ref went out of scope with the evaluate call: both tabs give memory and disk back.
      const after = await head.page.evaluate(async () => {
        const ray = globalThis.ray;
        const t0 = performance.now();
        for (;;) {
          globalThis.gc!();
          await globalThis.sleep(200);
          const stores = ray.nodes().map((n) => n.objectStore);
          const clean = stores.every((s) => s.objects === 0 && s.spilledBytes === 0 && s.memoryBytes === 0);
          if (clean || performance.now() - t0 > 30_000) return { clean, stores };
        }
      });
      expect(after.clean, JSON.stringify(after.stores)).toBe(true);
    },
  );
});
