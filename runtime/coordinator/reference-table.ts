// Reference counts of the cluster's objects (Ray's ReferenceCounter, centralised in the
// coordinator as its owner-side tables). An object's count is the number of things keeping it
// alive: each holder (the driver, a worker, a generator's unconsumed items) that has an ObjectRef
// to it counts once; each stored object it is nested in, each pending task it is an argument of
// and each lineage entry that may re-run such a task count once more. Pure bookkeeping: the
// coordinator frees what reaches zero.

import type { HolderId, NodeId, ObjectId } from '../protocol/ids.ts';

interface Holder {
  /** The node the holder lives on (a worker), so its refs go when the node does. */
  node: NodeId | undefined;
  readonly ids: Set<ObjectId>;
}

export class ReferenceTable {
  private readonly counts = new Map<ObjectId, number>();
  private readonly holders = new Map<HolderId, Holder>();

  count(id: ObjectId): number {
    return this.counts.get(id) ?? 0;
  }

  /** One more thing keeps `id` alive. */
  add(id: ObjectId): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** One thing fewer keeps `id` alive; true when nothing does any more. */
  release(id: ObjectId): boolean {
    const n = this.counts.get(id);
    if (n === undefined) return false;
    if (n > 1) {
      this.counts.set(id, n - 1);
      return false;
    }
    this.counts.delete(id);
    return true;
  }

  /** `holder` has refs to `ids` (each counted once per holder, however many refs it has). */
  holderAdd(holder: HolderId, node: NodeId | undefined, ids: readonly ObjectId[]): void {
    const h = this.holder(holder, node);
    for (const id of ids) {
      if (h.ids.has(id)) continue;
      h.ids.add(id);
      this.add(id);
    }
  }

  holderAddOne(holder: HolderId, node: NodeId | undefined, id: ObjectId): void {
    const h = this.holder(holder, node);
    if (h.ids.has(id)) return;
    h.ids.add(id);
    this.add(id);
  }

  private holder(name: HolderId, node: NodeId | undefined): Holder {
    let h = this.holders.get(name);
    if (!h) this.holders.set(name, (h = { node, ids: new Set() }));
    else if (node !== undefined) h.node = node;
    return h;
  }

  /** `holder` no longer has refs to `ids`; returns those nothing keeps alive now. */
  holderRelease(holder: HolderId, ids: readonly ObjectId[]): ObjectId[] {
    const h = this.holders.get(holder);
    const zero: ObjectId[] = [];
    if (!h) return zero;
    for (const id of ids) if (h.ids.delete(id) && this.release(id)) zero.push(id);
    if (h.ids.size === 0) this.holders.delete(holder);
    return zero;
  }

  /** The holder is gone (a worker died, a generator was dropped); returns what nothing keeps alive now. */
  dropHolder(holder: HolderId): ObjectId[] {
    const h = this.holders.get(holder);
    if (!h) return [];
    this.holders.delete(holder);
    const zero: ObjectId[] = [];
    for (const id of h.ids) if (this.release(id)) zero.push(id);
    return zero;
  }

  /** Every holder on `node` is gone (the node left). */
  dropNode(node: NodeId): ObjectId[] {
    const zero: ObjectId[] = [];
    for (const [name, h] of this.holders) if (h.node === node) zero.push(...this.dropHolder(name));
    return zero;
  }

  /** The objects `holder` has refs to. */
  /** Who holds refs to each object (for `ray.objects()`). */
  holdersByObject(): Map<ObjectId, HolderId[]> {
    const out = new Map<ObjectId, HolderId[]>();
    for (const [name, h] of this.holders) {
      for (const id of h.ids) {
        const l = out.get(id);
        if (l) l.push(name);
        else out.set(id, [name]);
      }
    }
    return out;
  }

  heldBy(holder: HolderId): Iterable<ObjectId> {
    return this.holders.get(holder)?.ids ?? [];
  }

  holds(holder: HolderId, id: ObjectId): boolean {
    return this.holders.get(holder)?.ids.has(id) === true;
  }

  /** Objects with a count (tests and introspection). */
  get size(): number {
    return this.counts.size;
  }
}
