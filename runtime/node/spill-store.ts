// Where a node's object store spills what does not fit in memory (Ray's external storage for
// spilled objects): chunks of bytes and one manifest per object. The browser implementation is
// IndexedDB (idb-spill-store.ts); MemorySpillStore is its twin for unit tests.

import type { ObjectId } from '../protocol/ids.ts';
import type { SpillManifest } from './spill-format.ts';

/** One record of an object's bytes: chunk `index` of object `id`. */
export interface SpillChunk {
  readonly id: ObjectId;
  readonly index: number;
  readonly data: ArrayBuffer;
}

export interface SpillStore {
  /** Opens the store; also deletes what an earlier session of this node left behind. */
  open(): Promise<void>;
  /**
   * Writes chunks, then manifests, in one transaction: all or nothing. A storage quota failure
   * rejects with an error named `QuotaExceededError`.
   */
  write(chunks: readonly SpillChunk[], manifests: readonly SpillManifest[]): Promise<void>;
  /** The manifest of a completely written object, or undefined. */
  manifest(id: ObjectId): Promise<SpillManifest | undefined>;
  /**
   * Reads chunks `from` to `to - 1` of an object, handing each to `onChunk` as it arrives, with
   * at most `window` requests in flight (so a large object need never be in memory twice).
   * Rejects if one is missing.
   */
  read(id: ObjectId, from: number, to: number, window: number, onChunk: (index: number, data: ArrayBuffer) => void): Promise<void>;
  /** Deletes objects (their manifests and chunks, complete or not). */
  delete(ids: readonly ObjectId[]): Promise<void>;
  /** Deletes everything and closes the store. Idempotent. */
  destroy(): Promise<void>;
}

/** The error a spill store raises when storage is full (named as the DOMException browsers raise). */
export function quotaExceeded(message: string): Error {
  const e = new Error(message);
  e.name = 'QuotaExceededError';
  return e;
}

export function isQuotaError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'QuotaExceededError';
}

/** In-memory twin of the IndexedDB spill store, with a quota to exhaust and a write latency. */
export class MemorySpillStore implements SpillStore {
  private readonly manifests = new Map<ObjectId, SpillManifest>();
  private readonly data = new Map<string, ArrayBuffer>();
  private used = 0;
  /** Transactions committed (for tests that check batching). */
  writes = 0;
  /** The window of the last read (for tests that check a large restore reads a few chunks at a time). */
  lastReadWindow = 0;
  opened = false;
  destroyed = false;

  constructor(private readonly opts: { quotaBytes?: number; delayMs?: number } = {}) {}

  open(): Promise<void> {
    this.opened = true;
    return Promise.resolve();
  }

  private delay(): Promise<void> {
    return this.opts.delayMs ? new Promise((r) => setTimeout(r, this.opts.delayMs)) : Promise.resolve();
  }

  async write(chunks: readonly SpillChunk[], manifests: readonly SpillManifest[]): Promise<void> {
    await this.delay();
    let bytes = 0;
    for (const c of chunks) bytes += c.data.byteLength;
    if (this.opts.quotaBytes !== undefined && this.used + bytes > this.opts.quotaBytes) {
      throw quotaExceeded(`the spill store's quota of ${this.opts.quotaBytes} bytes is used up`);
    }
    for (const c of chunks) {
      const key = `${c.id}\u0000${c.index}`;
      const old = this.data.get(key);
      if (old) this.used -= old.byteLength;
      this.data.set(key, c.data);
    }
    this.used += bytes;
    for (const m of manifests) this.manifests.set(m.id, m);
    this.writes++;
  }

  async manifest(id: ObjectId): Promise<SpillManifest | undefined> {
    await this.delay();
    return this.manifests.get(id);
  }

  async read(id: ObjectId, from: number, to: number, window: number, onChunk: (index: number, data: ArrayBuffer) => void): Promise<void> {
    this.lastReadWindow = window;
    for (let i = from; i < to; i++) {
      await this.delay();
      const b = this.data.get(`${id}\u0000${i}`);
      if (!b) throw new Error(`chunk ${i} of ${id} is missing from the spill store`);
      // A copy, as IndexedDB gives one: the caller may keep or transfer it.
      onChunk(i, b.slice(0));
    }
  }

  async delete(ids: readonly ObjectId[]): Promise<void> {
    await this.delay();
    const gone = new Set<string>(ids);
    for (const id of ids) this.manifests.delete(id);
    for (const [key, buf] of this.data) {
      if (gone.has(key.slice(0, key.indexOf('\u0000')))) {
        this.data.delete(key);
        this.used -= buf.byteLength;
      }
    }
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    this.manifests.clear();
    this.data.clear();
    this.used = 0;
    return Promise.resolve();
  }

  /** Bytes held (for tests). */
  get usedBytes(): number {
    return this.used;
  }

  get objectCount(): number {
    return this.manifests.size;
  }

  get chunkCount(): number {
    return this.data.size;
  }
}
