// A node's object store (Ray's plasma store, per tab): the objects this node made or pulled.
// Memory only for now; the budget, LRU spilling to IndexedDB and freeing come with the object-store issue.

import type { ObjectId } from '../protocol/ids.ts';
import type { ObjectStoreStats, SerializedObject } from '../protocol/task-spec.ts';

export class ObjectStore {
  private readonly objects = new Map<ObjectId, SerializedObject>();
  private memoryBytes = 0;
  private version = 0;

  put(id: ObjectId, obj: SerializedObject): void {
    const old = this.objects.get(id);
    if (old) this.memoryBytes -= old.size;
    this.objects.set(id, obj);
    this.memoryBytes += obj.size;
    this.version++;
  }

  get(id: ObjectId): SerializedObject | undefined {
    return this.objects.get(id);
  }

  has(id: ObjectId): boolean {
    return this.objects.has(id);
  }

  delete(id: ObjectId): void {
    const old = this.objects.get(id);
    if (!old) return;
    this.objects.delete(id);
    this.memoryBytes -= old.size;
    this.version++;
  }

  /** Changes whenever the contents change (to report stats only when they moved). */
  get changeCount(): number {
    return this.version;
  }

  stats(): ObjectStoreStats {
    return { memoryBytes: this.memoryBytes, spilledBytes: 0, objects: this.objects.size };
  }

  clear(): void {
    this.objects.clear();
    this.memoryBytes = 0;
    this.version++;
  }
}
