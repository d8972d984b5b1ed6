// Getting objects onto this node (Ray's DependencyManager with its pull manager): a task's
// arguments — inline, from this node's store (restored from IndexedDB if spilled), or pulled from
// a node that holds them — pinned while the task runs; the objects of a `get` (get-objects.ts); and
// the copies a `wait` with fetchLocal asks this node to make.

import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { NodeToCoordinator, ResolvedArg } from '../protocol/node-messages.ts';
import { resultSha256 } from '../protocol/result-hash.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import type { Assignment } from './assignment.ts';
import type { ObjectStore } from './object-store.ts';

export interface DependencyManagerDeps {
  readonly store: ObjectStore;
  readonly send: (msg: NodeToCoordinator) => void;
  /** Fetches an object this node lacks from a node that holds it (cluster mode). */
  readonly pull?: (id: ObjectId, from: readonly NodeId[]) => Promise<SerializedObject>;
}

/** A task's arguments: complete at once, or once `ready` resolves (it rejects when one could not be fetched). */
export interface GatheredArgs {
  readonly args: SerializedObject[];
  readonly ready: Promise<unknown> | undefined;
}

export class DependencyManager {
  private readonly deps: DependencyManagerDeps;

  constructor(deps: DependencyManagerDeps) {
    this.deps = deps;
  }

  /**
   * The arguments of an assigned task. Those held in this node's store, or pulled into it, are
   * pinned and listed in `a.pinned` (released by `unpin`).
   */
  gather(a: Assignment, resolved: readonly ResolvedArg[]): GatheredArgs {
    const args: SerializedObject[] = new Array(resolved.length);
    let missing: Promise<void>[] | undefined;
    const store = this.deps.store;
    for (let i = 0; i < resolved.length; i++) {
      const r = resolved[i]!;
      if (r.kind === 'inline') {
        args[i] = r.obj;
        continue;
      }
      const local = store.get(r.id);
      if (local) {
        args[i] = local;
        store.pin(r.id);
        (a.pinned ??= []).push(r.id);
        continue;
      }
      (missing ??= []).push(
        this.fetch(r.id, r.nodes, true, r.sha256).then((obj) => {
          args[i] = obj;
          (a.pinned ??= []).push(r.id);
        }),
      );
    }
    return { args, ready: missing && Promise.all(missing) };
  }

  /** Releases the arguments an assignment pinned. */
  unpin(a: Assignment): void {
    if (!a.pinned) return;
    for (const id of a.pinned) this.deps.store.unpin(id);
    a.pinned = undefined;
  }

  /**
   * An object from this node's store (restored from IndexedDB if spilled) or pulled from a node
   * that holds it and kept here. With `pin`, it stays pinned in this node's store (the caller unpins).
   */
  async fetch(id: ObjectId, from: readonly NodeId[], pin: boolean, sha256?: string): Promise<SerializedObject> {
    const store = this.deps.store;
    if (store.has(id)) {
      const obj = await store.load(id, { pin });
      if (obj) return obj;
    }
    if (!this.deps.pull || from.length === 0) {
      throw new Error(`object ${id} is not on this node and no other node holds it`);
    }
    const obj = sha256 === undefined ? await this.deps.pull(id, from) : await this.pullVerified(id, from, sha256);
    // A copy is a cache: when the store is full it is used without being kept. A kept copy is
    // reported, so that it is freed with the others.
    if (store.tryPut(id, obj)) {
      if (pin) store.pin(id);
      this.deps.send({ type: 'object_located', id });
    }
    return obj;
  }

  /**
   * Pulls a verified task's result from one holder after another until a copy's bytes match the
   * SHA-256 its replicas agreed on: a holder that reported the right hash cannot serve other bytes.
   */
  private async pullVerified(id: ObjectId, from: readonly NodeId[], sha256: string): Promise<SerializedObject> {
    const pull = this.deps.pull!;
    const why: string[] = [];
    for (const node of from) {
      let obj: SerializedObject;
      try {
        obj = await pull(id, [node]);
      } catch (e) {
        why.push(`node ${node}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if ((await resultSha256(obj)) === sha256) return obj;
      why.push(`node ${node} served bytes that do not match it`);
      console.warn(`webray: node ${node} served object ${id} with bytes that do not match the SHA-256 its replicas agreed on; trying another copy`);
    }
    throw new Error(`object ${id}: no copy matched the SHA-256 its replicas agreed on (${why.join('; ')})`);
  }

  /** Pulls an object here for a `wait` with fetchLocal, and says whether it is here now. */
  fetchForWait(id: ObjectId, from: readonly NodeId[], sha256?: string): void {
    const store = this.deps.store;
    if (store.has(id)) {
      this.deps.send({ type: 'object_located', id });
      return;
    }
    // fetch() reports the copy it keeps; one it could not keep (store full) or get counts as failed.
    this.fetch(id, from, false, sha256).then(
      () => {
        if (!store.has(id)) this.deps.send({ type: 'object_located', id, failed: true });
      },
      () => this.deps.send({ type: 'object_located', id, failed: true }),
    );
  }
}
