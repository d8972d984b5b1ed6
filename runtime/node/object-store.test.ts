import { describe, expect, it } from 'vitest';
import { ObjectStoreFullError } from '../api/errors.ts';
import type { ObjectId } from '../protocol/ids.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { SPILL_CHUNK_BYTES, SPILL_READ_AHEAD_CHUNKS } from './constants.ts';
import { ObjectStore } from './object-store.ts';
import { MemorySpillStore, quotaExceeded, type SpillChunk } from './spill-store.ts';
import type { SpillManifest } from './spill-format.ts';

const MiB = 1024 * 1024;
const id = (s: string) => s as ObjectId;

/** A Float64Array of `mib` MiB whose contents depend on `seed`, as a stored object. */
function big(mib: number, seed: number): SerializedObject {
  const a = new Float64Array((mib * MiB) / 8);
  for (let i = 0; i < a.length; i += 997) a[i] = seed * 1e6 + i;
  a[a.length - 1] = seed;
  return { v: a, size: a.byteLength };
}

function same(a: SerializedObject | undefined, b: SerializedObject): boolean {
  const x = a?.v as Float64Array | undefined;
  const y = b.v as Float64Array;
  if (!(x instanceof Float64Array) || x.length !== y.length) return false;
  for (let i = 0; i < y.length; i += 997) if (x[i] !== y[i]) return false;
  return x[x.length - 1] === y[y.length - 1];
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A spill store whose first write, once started, waits for the test to let it finish. */
class GatedSpillStore extends MemorySpillStore {
  private readonly started = deferred<ObjectId[]>();
  private readonly release = deferred<void>();
  /** Resolves with the ids whose manifests the first write carries, as soon as it starts. */
  readonly writeStarted = this.started.promise;

  override async write(chunks: readonly SpillChunk[], manifests: readonly SpillManifest[]): Promise<void> {
    this.started.resolve(manifests.map((m) => m.id));
    await this.release.promise;
    return super.write(chunks, manifests);
  }

  finishWrite(): void {
    this.release.resolve();
  }
}

function makeStore(memoryMiB: number, spill = new MemorySpillStore()): { store: ObjectStore; spill: MemorySpillStore } {
  const store = new ObjectStore({ memoryBytes: memoryMiB * MiB, spill, nodeId: 'node-test' });
  store.start();
  return { store, spill };
}

describe('ObjectStore', () => {
  it('keeps objects in memory within the budget and spills nothing', async () => {
    const { store, spill } = makeStore(8);
    store.put(id('a'), big(2, 1));
    store.put(id('b'), big(2, 2));
    await store.idle();
    expect(store.stats()).toEqual({ memoryBytes: 4 * MiB, spilledBytes: 0, objects: 2, budgetBytes: 8 * MiB });
    expect(spill.writes).toBe(0);
  });

  it('spills the least recently used unpinned object first and restores it on demand', async () => {
    const { store } = makeStore(3);
    const objs = [big(1, 1), big(1, 2), big(1, 3), big(1, 4)];
    store.put(id('a'), objs[0]!);
    store.put(id('b'), objs[1]!);
    store.put(id('c'), objs[2]!);
    store.get(id('a')); // a is now more recent than b
    store.put(id('d'), objs[3]!);
    await store.idle();
    expect(store.get(id('b')) === undefined).toBe(true);
    expect(store.get(id('a')) === objs[0]).toBe(true);
    expect(store.stats().memoryBytes).toBe(3 * MiB);
    expect(store.stats().spilledBytes).toBeGreaterThanOrEqual(MiB);
    expect(store.has(id('b'))).toBe(true);
    const back = await store.load(id('b'));
    expect(same(back, objs[1]!)).toBe(true);
    // b came back into memory, so another object went out.
    await store.idle();
    expect(store.stats().memoryBytes).toBeLessThanOrEqual(3 * MiB);
    expect(store.stats().objects).toBe(4);
  });

  it('never spills a pinned object', async () => {
    const { store } = makeStore(2);
    const a = big(1, 1);
    store.put(id('a'), a);
    store.pin(id('a'));
    store.put(id('b'), big(1, 2));
    store.put(id('c'), big(1, 3));
    await store.idle();
    expect(store.get(id('b')) === undefined).toBe(true);
    expect(store.get(id('a')) === a).toBe(true);
    store.unpin(id('a'));
    store.get(id('c')); // a is the least recently used again
    store.put(id('d'), big(1, 4));
    await store.idle();
    expect(store.get(id('a')) === undefined).toBe(true);
  });

  it('writes the objects put in one turn in one transaction', async () => {
    const { store, spill } = makeStore(1);
    for (let i = 0; i < 8; i++) store.put(id(`o${i}`), big(1, i));
    await store.idle();
    expect(spill.writes).toBe(1);
    expect(spill.objectCount).toBe(7);
    for (let i = 0; i < 8; i++) expect(same(await store.load(id(`o${i}`)), big(1, i))).toBe(true);
  });

  it('round-trips an object larger than the budget in chunks, without keeping it in memory', async () => {
    const { store, spill } = makeStore(4);
    const obj = big(40, 7);
    store.put(id('huge'), obj);
    await store.idle();
    expect(store.stats().memoryBytes).toBe(0);
    expect(spill.chunkCount).toBe(1 + (40 * MiB) / SPILL_CHUNK_BYTES);
    const back = await store.load(id('huge'));
    expect(same(back, obj)).toBe(true);
    expect(back === obj).toBe(false);
    expect(store.stats().memoryBytes).toBe(0);
    // A few chunks at a time, never the whole object twice.
    expect(spill.lastReadWindow).toBe(SPILL_READ_AHEAD_CHUNKS);
  });

  it('frees objects from memory and disk, and ignores late copies of them', async () => {
    const { store, spill } = makeStore(2);
    for (let i = 0; i < 6; i++) store.put(id(`o${i}`), big(1, i));
    await store.idle();
    expect(store.stats().spilledBytes).toBeGreaterThan(0);
    store.free([0, 1, 2, 3, 4, 5].map((i) => id(`o${i}`)));
    await store.idle();
    expect(store.stats()).toEqual({ memoryBytes: 0, spilledBytes: 0, objects: 0, budgetBytes: 2 * MiB });
    expect(spill.usedBytes).toBe(0);
    expect(spill.objectCount).toBe(0);
    store.put(id('o1'), big(1, 1));
    expect(store.has(id('o1'))).toBe(false);
  });

  it('deletes an object freed while it was being written', async () => {
    const spill = new GatedSpillStore();
    const { store } = makeStore(1, spill);
    store.put(id('a'), big(1, 1));
    store.put(id('b'), big(1, 2));
    // The spill of `a` (the least recently used) is in flight: free it now, before it commits.
    expect(await spill.writeStarted).toEqual([id('a')]);
    store.free([id('a')]);
    spill.finishWrite();
    await store.idle();
    expect(spill.writes).toBe(1); // the write did commit its manifest...
    expect(spill.objectCount).toBe(0); // ...and the freed object was deleted again
    expect(spill.usedBytes).toBe(0);
    expect(store.stats()).toMatchObject({ objects: 1, spilledBytes: 0, memoryBytes: MiB });
  });

  it('refuses new objects with ObjectStoreFullError when memory and quota are both used up, and recovers once objects are freed', async () => {
    const { store } = makeStore(2, new MemorySpillStore({ quotaBytes: 3 * MiB }));
    const accepted: string[] = [];
    let error: unknown;
    for (let i = 0; i < 20 && !error; i++) {
      try {
        store.put(id(`o${i}`), big(1, i));
        accepted.push(`o${i}`);
      } catch (e) {
        error = e;
      }
      await store.idle();
    }
    expect(error).toBeInstanceOf(ObjectStoreFullError);
    expect((error as Error).message).toMatch(/objectStoreMemory/);
    expect((error as Error).message).toMatch(/quota/);
    // What was accepted is intact, in memory or on disk.
    for (const name of accepted) expect(same(await store.load(id(name)), big(1, Number(name.slice(1))))).toBe(true);
    store.free(accepted.map(id));
    await store.idle();
    store.put(id('after'), big(1, 99));
    expect(store.has(id('after'))).toBe(true);
  });

  it('never reads a half-written object: a failed multi-transaction write leaves no manifest and keeps the object in memory', async () => {
    class FailSecond extends MemorySpillStore {
      calls = 0;
      override async write(chunks: readonly SpillChunk[], manifests: readonly SpillManifest[]): Promise<void> {
        if (++this.calls === 2) throw quotaExceeded('full');
        return super.write(chunks, manifests);
      }
    }
    const spill = new FailSecond();
    const { store } = makeStore(4, spill);
    const obj = big(72, 3); // > one 64 MiB transaction
    store.put(id('x'), obj);
    await store.idle();
    expect(spill.calls).toBe(2);
    expect(await spill.manifest(id('x'))).toBeUndefined();
    expect(spill.chunkCount).toBe(0);
    expect(store.get(id('x')) === obj).toBe(true);
    expect(store.stats().spilledBytes).toBe(0);
  });

  it('clear() deletes the spill store', async () => {
    const { store, spill } = makeStore(1);
    store.put(id('a'), big(2, 1));
    await store.idle();
    store.clear();
    expect(spill.destroyed).toBe(true);
    expect(store.stats().objects).toBe(0);
  });
});
