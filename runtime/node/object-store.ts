// A node's object store (Ray's plasma store plus its spilling, per tab): the objects this node
// made or pulled. Objects stay in memory up to a budget (`objectStoreMemory`); beyond it the least
// recently used unpinned ones are written to the spill store (IndexedDB) in batches, in the
// background, and read back on demand. Objects a running task uses are pinned. Freed objects
// leave memory and disk. When the budget is used and the spill store refuses more (quota),
// new objects are refused with ObjectStoreFullError.

import { ObjectStoreFullError } from '../api/errors.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { ObjectId } from '../protocol/ids.ts';
import type { ObjectStoreStats, SerializedObject } from '../protocol/task-spec.ts';
import { FREED_IDS_REMEMBERED, SPILL_RETRY_MS, SPILL_TRANSACTION_MAX_BYTES } from './constants.ts';
import type { SpillManifest } from './spill-format.ts';
import { restoreSpilledObject, spillObjects } from './spill-io.ts';
import { isQuotaError, type SpillStore } from './spill-store.ts';

export interface ObjectStoreOptions {
  /** Bytes of objects kept in memory before spilling (`objectStoreMemory`). Default: no limit. */
  readonly memoryBytes?: number;
  /** Where objects spill. Without one nothing spills, and a full memory refuses new objects. */
  readonly spill?: SpillStore;
  /** For log lines and error messages. */
  readonly nodeId?: string;
}

interface Entry {
  readonly id: ObjectId;
  readonly size: number;
  /** The value, while it is in memory. */
  obj: SerializedObject | undefined;
  /** Running tasks (and reads in progress) using it: never evicted while > 0. */
  pins: number;
  disk: 'none' | 'writing' | 'on';
  /** Set once completely written (the spill store's manifest, kept here to restore without a lookup). */
  manifest: SpillManifest | undefined;
  restoring: Promise<SerializedObject | undefined> | undefined;
  freed: boolean;
}

const MIB = 1024 * 1024;

function mib(n: number): string {
  return (n / MIB).toFixed(n < 10 * MIB ? 1 : 0);
}

export class ObjectStore {
  private readonly entries = new Map<ObjectId, Entry>();
  /** Entries whose value is in memory, least recently used first. */
  private readonly lru = new Map<ObjectId, Entry>();
  private readonly budget: number;
  private readonly spill: SpillStore | undefined;
  private readonly nodeId: string;
  private readonly log: Logger;
  private memoryBytes = 0;
  private spilledBytes = 0;
  /** Bytes of in-memory objects being written out (they leave memory once written). */
  private writingBytes = 0;
  private version = 0;
  private spillQueued = false;
  private spilling = false;
  private spillAgain = false;
  /** Set when the spill store refused data (quota) or could not be used; cleared when disk space is freed. */
  private diskRefusal: string | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingDeletes: ObjectId[] = [];
  private deleting = 0;
  /** Recently freed ids, in two generations (the older one dropped when the newer fills up). */
  private freed = new Set<ObjectId>();
  private freedBefore = new Set<ObjectId>();
  private closed = false;

  constructor(opts: ObjectStoreOptions = {}) {
    this.budget = opts.memoryBytes ?? Infinity;
    this.spill = opts.spill;
    this.nodeId = opts.nodeId ?? 'this node';
    this.log = createLogger('webray:store', opts.nodeId);
    if (!this.spill && this.budget !== Infinity) this.diskRefusal = 'IndexedDB could not be opened: this context has none';
  }

  /** Opens the spill store in the background (it also deletes earlier sessions' spill data). */
  start(): void {
    this.spill?.open().catch((e: unknown) => {
      this.diskRefusal = `IndexedDB could not be opened: ${(e as Error).message}`;
      this.log.warn(`spilling is off: ${this.diskRefusal}`);
    });
  }

  /** The budget in bytes (`objectStoreMemory`). */
  get memoryBudget(): number {
    return this.budget;
  }

  /**
   * Adds an object. Throws ObjectStoreFullError when memory is at its budget and the spill store
   * refuses more. A freed object that arrives late (a pull racing the free) is not kept.
   */
  put(id: ObjectId, obj: SerializedObject): void {
    if (this.closed || this.freed.has(id) || this.freedBefore.has(id)) return;
    const old = this.entries.get(id);
    if (old) {
      if (!old.obj) this.admit(old, obj);
      return;
    }
    this.assertRoom(obj.size);
    const e: Entry = { id, size: obj.size, obj: undefined, pins: 0, disk: 'none', manifest: undefined, restoring: undefined, freed: false };
    this.entries.set(id, e);
    this.admit(e, obj);
  }

  /** Like `put`, but says false instead of throwing when there is no room (for cached copies). */
  tryPut(id: ObjectId, obj: SerializedObject): boolean {
    try {
      this.put(id, obj);
      return true;
    } catch (e) {
      if (e instanceof ObjectStoreFullError) return false;
      throw e;
    }
  }

  private assertRoom(size: number): void {
    if (this.memoryBytes + size <= this.budget || this.diskRefusal === undefined) return;
    this.dropSpilledCopies(size);
    if (this.memoryBytes + size <= this.budget) return;
    throw new ObjectStoreFullError(
      `the object store of ${this.nodeId} is full: ${mib(this.memoryBytes)} MiB of objects are in memory ` +
        `(objectStoreMemory is ${mib(this.budget)} MiB) and spilling to IndexedDB failed (${this.diskRefusal}); ` +
        `a new ${mib(size)} MiB object does not fit. Drop ObjectRefs you no longer need so their objects are ` +
        `freed, pass a larger objectStoreMemory to ray.init()/ray.join(), or free disk space for this site`,
    );
  }

  private admit(e: Entry, obj: SerializedObject): void {
    e.obj = obj;
    this.lru.set(e.id, e);
    this.memoryBytes += e.size;
    this.version++;
    if (this.memoryBytes > this.budget) this.scheduleSpill();
  }

  private evict(e: Entry): void {
    if (!e.obj) return;
    e.obj = undefined;
    this.lru.delete(e.id);
    this.memoryBytes -= e.size;
    this.version++;
  }

  /** The object if it is in memory (marking it recently used); undefined if absent or spilled. */
  get(id: ObjectId): SerializedObject | undefined {
    const e = this.lru.get(id);
    if (!e) return undefined;
    this.lru.delete(id);
    this.lru.set(id, e);
    return e.obj;
  }

  /**
   * The object, restored from the spill store when it is there. With `pin`, it is pinned before
   * anything else can run (unpin it when done). Undefined when this node does not hold it.
   */
  async load(id: ObjectId, opts?: { pin?: boolean }): Promise<SerializedObject | undefined> {
    const inMemory = this.get(id);
    const e = this.entries.get(id);
    if (inMemory || !e) {
      if (e && opts?.pin) e.pins++;
      return inMemory;
    }
    if (e.disk !== 'on' || !e.manifest) return undefined;
    e.restoring ??= this.restore(e).finally(() => (e.restoring = undefined));
    const obj = await e.restoring;
    if (obj && opts?.pin && !e.freed) e.pins++;
    return obj;
  }

  private async restore(e: Entry): Promise<SerializedObject | undefined> {
    // An object within the budget is read with every chunk asked for at once; a larger one a few at a time.
    const obj = await restoreSpilledObject(this.spill!, e.id, e.manifest!, e.size <= this.budget);
    if (e.freed || this.entries.get(e.id) !== e) return obj;
    // Kept in memory when it fits the budget at all (others make room); otherwise handed out only.
    if (!e.obj && e.size <= this.budget) this.admit(e, obj);
    return e.obj ?? obj;
  }

  /** Whether this node holds the object (in memory or spilled). */
  has(id: ObjectId): boolean {
    return this.entries.has(id);
  }

  /** Keeps an object in memory while a task uses it. */
  pin(id: ObjectId): void {
    const e = this.entries.get(id);
    if (e) e.pins++;
  }

  unpin(id: ObjectId): void {
    const e = this.entries.get(id);
    if (!e || e.pins === 0) return;
    if (--e.pins === 0 && this.memoryBytes > this.budget) this.scheduleSpill();
  }

  /** Frees objects from memory and from the spill store; later copies of them are not kept. */
  free(ids: readonly ObjectId[]): void {
    for (const id of ids) this.rememberFreed(id);
    this.remove(ids);
  }

  /** Removes one object from memory and disk (it may be stored again, e.g. by a retry). */
  delete(id: ObjectId): void {
    this.remove([id]);
  }

  private remove(ids: readonly ObjectId[]): void {
    for (const id of ids) {
      const e = this.entries.get(id);
      if (!e) continue;
      this.entries.delete(id);
      e.freed = true;
      this.evict(e);
      if (e.disk === 'on') {
        this.spilledBytes -= e.manifest!.bytes;
        this.pendingDeletes.push(id);
      }
      this.version++;
    }
    if (this.pendingDeletes.length > 0) queueMicrotask(() => this.flushDeletes());
  }

  private rememberFreed(id: ObjectId): void {
    this.freed.add(id);
    if (this.freed.size >= FREED_IDS_REMEMBERED) {
      this.freedBefore = this.freed;
      this.freed = new Set();
    }
  }

  private flushDeletes(): void {
    if (this.pendingDeletes.length === 0 || !this.spill || this.closed) return;
    const ids = this.pendingDeletes;
    this.pendingDeletes = [];
    void this.deleteFromDisk(ids).then(() => {
      // Disk space came back: try spilling again at once.
      if (this.diskRefusal !== undefined && this.spillUsable()) {
        this.diskRefusal = undefined;
        if (this.memoryBytes > this.budget) this.scheduleSpill();
      }
    });
  }

  private async deleteFromDisk(ids: readonly ObjectId[]): Promise<void> {
    this.deleting++;
    try {
      await this.spill!.delete(ids);
    } catch (e) {
      this.log.warn(`could not delete ${ids.length} spilled object(s): ${(e as Error).message}`);
    } finally {
      this.deleting--;
    }
  }

  private spillUsable(): boolean {
    return this.diskRefusal === undefined || !this.diskRefusal.startsWith('IndexedDB could not be opened');
  }

  // ───────────────────────────── spilling ─────────────────────────────

  private scheduleSpill(): void {
    if (this.spillQueued || !this.spill || this.closed) return;
    this.spillQueued = true;
    queueMicrotask(() => {
      this.spillQueued = false;
      void this.spillPass();
    });
  }

  /** Drops in-memory copies of objects already on disk, least recently used first, to fit `extra` more bytes. */
  private dropSpilledCopies(extra = 0): void {
    if (this.memoryBytes + extra <= this.budget) return;
    // Deleting from a Map while iterating it is safe: the loop goes on with the next entry.
    for (const e of this.lru.values()) {
      if (this.memoryBytes + extra <= this.budget) return;
      if (e.disk === 'on' && e.pins === 0) this.evict(e);
    }
  }

  /** Unpinned objects not yet on disk, least recently used first, enough to get back under budget. */
  private pickVictims(): Entry[] {
    const out: Entry[] = [];
    let excess = this.memoryBytes - this.writingBytes - this.budget;
    let batch = 0;
    for (const e of this.lru.values()) {
      if (excess <= 0) break;
      if (e.disk !== 'none' || e.pins > 0) continue;
      if (out.length > 0 && batch + e.size > SPILL_TRANSACTION_MAX_BYTES) break;
      out.push(e);
      excess -= e.size;
      batch += e.size;
    }
    return out;
  }

  private async spillPass(): Promise<void> {
    if (this.spilling) {
      this.spillAgain = true;
      return;
    }
    this.spilling = true;
    try {
      for (;;) {
        this.spillAgain = false;
        this.dropSpilledCopies();
        if (this.memoryBytes <= this.budget || this.closed) break;
        if (this.diskRefusal !== undefined) {
          this.retryLater();
          break;
        }
        const victims = this.pickVictims();
        if (victims.length === 0) break;
        await this.write(victims);
      }
    } finally {
      this.spilling = false;
    }
    if (this.spillAgain) this.scheduleSpill();
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined || !this.spillUsable()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.diskRefusal = undefined;
      this.scheduleSpill();
    }, SPILL_RETRY_MS);
  }

  /**
   * Writes objects out (spill-io.ts). Objects that were freed meanwhile are deleted again; on
   * failure none of them counts as spilled.
   */
  private async write(victims: Entry[]): Promise<void> {
    for (const e of victims) {
      e.disk = 'writing';
      this.writingBytes += e.size;
    }
    let manifests: SpillManifest[];
    try {
      manifests = await spillObjects(this.spill!, victims);
    } catch (err) {
      for (const e of victims) {
        e.disk = 'none';
        this.writingBytes -= e.size;
      }
      // Chunks of earlier transactions may be there without their manifest: never read, but delete them.
      void this.deleteFromDisk(victims.map((e) => e.id));
      this.diskRefusal = isQuotaError(err) ? 'IndexedDB quota exceeded' : `IndexedDB write failed: ${(err as Error).message}`;
      this.log.warn(`could not spill ${victims.length} object(s): ${this.diskRefusal}`);
      return;
    }
    const gone: ObjectId[] = [];
    for (let i = 0; i < victims.length; i++) {
      const e = victims[i]!;
      this.writingBytes -= e.size;
      if (e.freed) {
        gone.push(e.id);
        continue;
      }
      e.disk = 'on';
      e.manifest = manifests[i];
      this.spilledBytes += manifests[i]!.bytes;
    }
    this.version++;
    if (gone.length > 0) void this.deleteFromDisk(gone);
  }

  // ───────────────────────────── figures ─────────────────────────────

  /** Changes whenever the contents change (to report stats only when they moved). */
  get changeCount(): number {
    return this.version;
  }

  stats(): ObjectStoreStats {
    return {
      memoryBytes: this.memoryBytes,
      spilledBytes: this.spilledBytes,
      objects: this.entries.size,
      budgetBytes: Number.isFinite(this.budget) ? this.budget : 0,
    };
  }

  /** Resolves once no spill or delete is queued or running (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.spilling || this.spillQueued || this.pendingDeletes.length > 0 || this.deleting > 0) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Drops every object and deletes the spill store (session end). */
  clear(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.entries.clear();
    this.lru.clear();
    this.memoryBytes = 0;
    this.spilledBytes = 0;
    this.version++;
    this.spill?.destroy().catch((e: unknown) => this.log.warn(`could not delete the spill store: ${(e as Error).message}`));
  }
}
