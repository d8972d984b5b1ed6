// Which objects exist, whether they are ready, where they live and who waits for them
// (Ray's object directory + the owner's reference table, centralised in the coordinator).

import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { ResolvedArg } from '../protocol/node-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';

export interface ObjectEntry {
  ready: boolean;
  size: number;
  /** Inline copy: small values, and every error object. */
  obj: SerializedObject | undefined;
  /** Nodes whose object store holds it. */
  readonly locations: Set<NodeId>;
  /** ObjectIds nested inside it, kept alive while it lives (counted once, when it first became ready). */
  refs: readonly ObjectId[] | undefined;
  /** Called once when it becomes ready. */
  waiters: (() => void)[] | undefined;
  /** A verified task's stored result: the SHA-256 its replicas agreed on, which a puller checks the bytes against. */
  sha256?: string | undefined;
}

export class ObjectDirectory {
  private readonly entries = new Map<ObjectId, ObjectEntry>();

  get(id: ObjectId): ObjectEntry | undefined {
    return this.entries.get(id);
  }

  /** The entry, created pending when the object is not known yet (a ref whose task is queued). */
  ensure(id: ObjectId): ObjectEntry {
    let e = this.entries.get(id);
    if (!e) {
      e = { ready: false, size: 0, obj: undefined, locations: new Set(), refs: undefined, waiters: undefined };
      this.entries.set(id, e);
    }
    return e;
  }

  /** Every object the directory knows, pending ones included. */
  all(): IterableIterator<[ObjectId, ObjectEntry]> {
    return this.entries.entries();
  }

  isReady(id: ObjectId): boolean {
    return this.entries.get(id)?.ready === true;
  }

  /** Marks the object ready: inline and/or at a node. Wakes its waiters. */
  setReady(id: ObjectId, size: number, obj: SerializedObject | undefined, node: NodeId | undefined): void {
    const e = this.ensure(id);
    e.size = size;
    if (obj !== undefined) e.obj = obj;
    if (node !== undefined) e.locations.add(node);
    if (e.ready) return;
    e.ready = true;
    const waiters = e.waiters;
    e.waiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  /** Makes a ready object pending again (its value was lost and is being recomputed). */
  setPending(id: ObjectId): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.ready = false;
    e.obj = undefined;
    e.sha256 = undefined;
    e.locations.clear();
  }

  /** Calls `cb` once the object is ready (at once if it is). Returns a function that cancels the wait. */
  onReady(id: ObjectId, cb: () => void): () => void {
    const e = this.ensure(id);
    if (e.ready) {
      cb();
      return () => {};
    }
    (e.waiters ??= []).push(cb);
    return () => {
      const i = e.waiters?.indexOf(cb) ?? -1;
      if (i >= 0) e.waiters!.splice(i, 1);
    };
  }

  /** How a node or caller reads it: inline, or from the nodes that hold it. */
  resolvedArg(id: ObjectId): ResolvedArg {
    const e = this.entries.get(id);
    if (e?.obj) return { kind: 'inline', obj: e.obj };
    const nodes = e ? [...e.locations] : [];
    return e?.sha256 ? { kind: 'located', id, nodes, sha256: e.sha256 } : { kind: 'located', id, nodes };
  }

  /** Forgets a node's copies (it left); returns the objects that now have no copy. */
  dropNode(node: NodeId): ObjectId[] {
    const lost: ObjectId[] = [];
    for (const [id, e] of this.entries) {
      if (e.locations.delete(node) && e.locations.size === 0 && e.obj === undefined) lost.push(id);
    }
    return lost;
  }

  delete(id: ObjectId): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
