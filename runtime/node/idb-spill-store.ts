// The spill store of a tab: one IndexedDB database per node session (through `idb`), named
// `webray-spill-<node>-<random>`. A Web Lock of the same name is held while the session lives,
// so a starting node can tell the databases of live tabs from those an earlier session left
// behind (closed tab, crash, reload) and delete the latter. Chunks are stored as ArrayBuffers,
// not Blobs: Blob records are faster, but in an incognito profile (Playwright's contexts too)
// Chromium keeps their bytes in a bounded in-memory blob store, and after some hundreds of MB of
// Blobs not yet garbage-collected, newly written records read back as NotReadableError — data
// lost silently, the write having succeeded. ArrayBuffer records never failed that way.

import { deleteDB, openDB, unwrap, type DBSchema, type IDBPDatabase } from 'idb';
import { createLogger, type Logger } from '../common/logger.ts';
import type { ObjectId } from '../protocol/ids.ts';
import { SPILL_DB_PREFIX } from './constants.ts';
import type { SpillManifest } from './spill-format.ts';
import { quotaExceeded, type SpillChunk, type SpillStore } from './spill-store.ts';

interface SpillSchema extends DBSchema {
  manifests: { key: string; value: SpillManifest };
  chunks: { key: [string, number]; value: ArrayBuffer };
}

export interface IdbSpillStoreOptions {
  /** Database (and lock) name; must start with SPILL_DB_PREFIX. */
  readonly name: string;
  /**
   * Test hook: behave as if the origin's storage quota ran out past this many bytes of this
   * store (real quota is gigabytes; tests cannot fill it quickly).
   */
  readonly quotaBytes?: number;
}

type Locks = { request: LockManager['request'] } | undefined;

function locks(): Locks {
  return (globalThis.navigator as Navigator | undefined)?.locks;
}

/** Whether this environment can spill to IndexedDB at all. */
export function indexedDbAvailable(): boolean {
  return typeof globalThis.indexedDB !== 'undefined';
}

export class IdbSpillStore implements SpillStore {
  private readonly name: string;
  private readonly log: Logger;
  private db: IDBPDatabase<SpillSchema> | undefined;
  private opening: Promise<void> | undefined;
  private releaseLock: (() => void) | undefined;
  private destroyed = false;
  /** Bytes written per object, for the quota test hook. */
  private readonly written = new Map<ObjectId, number>();
  private usedBytes = 0;
  /** The background deletion of earlier sessions' databases (awaited by tests). */
  staleCleanup: Promise<string[]> = Promise.resolve([]);

  constructor(private readonly opts: IdbSpillStoreOptions) {
    this.name = opts.name;
    this.log = createLogger('webray:spill', opts.name);
  }

  open(): Promise<void> {
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const lm = locks();
    if (lm) {
      // Held until destroy(): tells other tabs this database belongs to a live session.
      await new Promise<void>((granted) => {
        void lm.request(this.name, () => {
          granted();
          return new Promise<void>((release) => (this.releaseLock = release));
        });
      });
    }
    if (this.destroyed) {
      this.releaseLock?.();
      throw new Error('the spill store was destroyed while opening');
    }
    this.staleCleanup = this.deleteStale();
    this.db = await openDB<SpillSchema>(this.name, 1, {
      upgrade(db) {
        db.createObjectStore('manifests');
        db.createObjectStore('chunks');
      },
    });
  }

  /** Deletes every spill database whose session is gone (its lock is free). */
  private async deleteStale(): Promise<string[]> {
    const lm = locks();
    if (!lm || typeof indexedDB.databases !== 'function') return [];
    const deleted: string[] = [];
    try {
      const dbs = await indexedDB.databases();
      for (const { name } of dbs) {
        if (!name || name === this.name || !name.startsWith(SPILL_DB_PREFIX)) continue;
        await lm.request(name, { ifAvailable: true }, async (lock) => {
          if (!lock) return; // a live tab holds it
          await deleteDB(name);
          deleted.push(name);
        });
      }
      if (deleted.length > 0) this.log(`deleted spill data of ${deleted.length} earlier session(s): ${deleted.join(', ')}`);
    } catch (e) {
      this.log.warn(`could not delete earlier sessions' spill data: ${(e as Error).message}`);
    }
    return deleted;
  }

  private ready(): IDBPDatabase<SpillSchema> {
    if (!this.db) throw new Error(this.destroyed ? 'the spill store is closed' : 'the spill store is not open');
    return this.db;
  }

  async write(chunks: readonly SpillChunk[], manifests: readonly SpillManifest[]): Promise<void> {
    await this.open();
    const db = this.ready();
    let bytes = 0;
    for (const c of chunks) bytes += c.data.byteLength;
    if (this.opts.quotaBytes !== undefined && this.usedBytes + bytes > this.opts.quotaBytes) {
      throw quotaExceeded(`storage quota exceeded (test quota of ${this.opts.quotaBytes} bytes)`);
    }
    const tx = db.transaction(['chunks', 'manifests'], 'readwrite');
    const cs = tx.objectStore('chunks');
    const ms = tx.objectStore('manifests');
    const requests: Promise<unknown>[] = [];
    for (const c of chunks) requests.push(cs.put(c.data, [c.id, c.index]));
    for (const m of manifests) requests.push(ms.put(m, m.id));
    try {
      await Promise.all([...requests, tx.done]);
    } catch (e) {
      // A full disk aborts the transaction: its error says QuotaExceededError, the requests' say AbortError.
      throw tx.error ?? e;
    }
    for (const c of chunks) this.written.set(c.id, (this.written.get(c.id) ?? 0) + c.data.byteLength);
    this.usedBytes += bytes;
  }

  async manifest(id: ObjectId): Promise<SpillManifest | undefined> {
    await this.open();
    return this.ready().get('manifests', id);
  }

  async read(id: ObjectId, from: number, to: number, window: number, onChunk: (index: number, data: ArrayBuffer) => void): Promise<void> {
    await this.open();
    // The plain IndexedDB API here (no promise per request: this is the restore's hot loop).
    // `window` requests in flight; each chunk is handed over (and can be dropped) before the next
    // request goes, from the previous one's success handler, which keeps the transaction alive.
    const store = unwrap(this.ready()).transaction('chunks', 'readonly').objectStore('chunks');
    await new Promise<void>((resolve, reject) => {
      let next = from;
      let inFlight = 0;
      let failed = false;
      const lanes = Math.max(1, window);
      const ask = (): void => {
        while (!failed && inFlight < lanes && next < to) {
          const i = next++;
          const req = store.get([id, i]);
          inFlight++;
          req.onsuccess = () => {
            inFlight--;
            if (failed) return;
            const data = req.result as ArrayBuffer | undefined;
            if (!data) {
              failed = true;
              reject(new Error(`object ${id}: spilled chunk ${i} is missing`));
              return;
            }
            try {
              onChunk(i, data);
            } catch (e) {
              failed = true;
              reject(e);
              return;
            }
            if (next >= to && inFlight === 0) resolve();
            else ask();
          };
          req.onerror = () => {
            if (failed) return;
            failed = true;
            reject(req.error ?? new Error(`object ${id}: reading spilled chunk ${i} failed`));
          };
        }
      };
      if (from >= to) resolve();
      else ask();
    });
  }

  async delete(ids: readonly ObjectId[]): Promise<void> {
    if (ids.length === 0 || this.destroyed) return;
    await this.open();
    const tx = this.ready().transaction(['chunks', 'manifests'], 'readwrite');
    const cs = tx.objectStore('chunks');
    const ms = tx.objectStore('manifests');
    const requests: Promise<unknown>[] = [];
    for (const id of ids) {
      requests.push(cs.delete(IDBKeyRange.bound([id, 0], [id, Infinity])));
      requests.push(ms.delete(id));
    }
    await Promise.all([...requests, tx.done]);
    for (const id of ids) {
      this.usedBytes -= this.written.get(id) ?? 0;
      this.written.delete(id);
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await this.opening;
    } catch {
      // nothing was opened
    }
    this.db?.close();
    this.db = undefined;
    try {
      if (this.opening) await deleteDB(this.name);
    } catch (e) {
      this.log.warn(`could not delete ${this.name}: ${(e as Error).message}`);
    } finally {
      this.releaseLock?.();
    }
  }
}
