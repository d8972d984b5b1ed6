// Waits on objects (the coordinator's side of Ray's `get` and `wait`): until enough of them are
// ready, or — `wait`'s fetchLocal — until they are in the store of the caller's node, which is
// asked to pull them (`fetch_objects`) and reports each copy (`object_located`).

import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { WireError } from '../protocol/wire-error.ts';
import { expectObject, type NodeManager } from './node-manager.ts';
import type { ObjectDirectory } from './object-directory.ts';

export class ObjectWaits {
  /** Waits (fetchLocal) for objects to arrive on a node, by object. */
  private readonly locationWaiters = new Map<ObjectId, Set<(ok: boolean) => void>>();
  /** Pulls asked of nodes and not yet reported, as `node\0id`. */
  private readonly fetching = new Set<string>();

  constructor(
    private readonly objects: ObjectDirectory,
    private readonly nodes: NodeManager,
  ) {}

  /**
   * Resolves with the indexes of ready objects once `numReturns` are ready or the timeout passes.
   * With `localTo` (`ray.wait`'s fetchLocal), an object counts only once it is local to that node:
   * inline, or in its store — the node is asked to pull what is ready elsewhere (a failed pull
   * counts too: `get` then raises why). With `abortOnError` (`ray.get`), it also resolves as soon as
   * one of them is ready as an error, as Ray's get raises the first failure without waiting for the rest.
   */
  wait(ids: readonly ObjectId[], numReturns: number, timeoutMs: number | null, localTo?: NodeId, abortOnError = false): Promise<number[]> {
    // The common case (`ray.get(ref)`): one object, anywhere, no timeout. Same outcome as the
    // general path below — resolved a microtask after it is ready — without its bookkeeping.
    if (localTo === undefined && timeoutMs === null && numReturns === 1 && ids.length === 1) {
      const id = ids[0]!;
      if (this.objects.isReady(id)) return Promise.resolve([0]);
      return new Promise((resolve) => {
        this.objects.onReady(id, () => queueMicrotask(() => resolve(this.objects.isReady(id) ? [0] : [])));
      });
    }
    const failed = new Set<ObjectId>();
    const done = (id: ObjectId): boolean => {
      if (localTo === undefined) return this.objects.isReady(id);
      const e = this.objects.get(id);
      return e !== undefined && e.ready && (e.obj !== undefined || e.locations.has(localTo) || failed.has(id));
    };
    const readyIdx = (): number[] => {
      const out: number[] = [];
      for (let i = 0; i < ids.length && out.length < numReturns; i++) if (done(ids[i]!)) out.push(i);
      return out;
    };
    const now = readyIdx();
    if (localTo !== undefined) for (const id of ids) if (this.objects.isReady(id) && !done(id)) this.requestFetch(localTo, id);
    if (now.length >= numReturns || timeoutMs === 0 || (abortOnError && this.firstError(ids))) return Promise.resolve(now);
    return new Promise((resolve) => {
      const cancels: (() => void)[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        for (const c of cancels) c();
        resolve(readyIdx());
      };
      let remaining = numReturns - now.length;
      const count = (n: number): void => {
        remaining -= n;
        if (remaining <= 0) queueMicrotask(finish);
      };
      // Ready elsewhere: wait until this node has pulled it.
      const awaitLocal = (id: ObjectId, n: number): void => {
        const cb = (ok: boolean): void => {
          if (!ok) failed.add(id);
          if (!done(id)) return;
          this.locationWaiters.get(id)?.delete(cb);
          count(n);
        };
        let set = this.locationWaiters.get(id);
        if (!set) this.locationWaiters.set(id, (set = new Set()));
        set.add(cb);
        cancels.push(() => {
          const s = this.locationWaiters.get(id);
          s?.delete(cb);
          if (s?.size === 0) this.locationWaiters.delete(id);
        });
        this.requestFetch(localTo!, id);
      };
      // An id listed twice (`ray.get([ref, ref])`) counts twice when it becomes ready.
      const pending = new Map<ObjectId, number>();
      for (const id of ids) if (!done(id)) pending.set(id, (pending.get(id) ?? 0) + 1);
      for (const [id, n] of pending) {
        if (this.objects.isReady(id)) {
          awaitLocal(id, n);
          continue;
        }
        cancels.push(
          this.objects.onReady(id, () => {
            if (abortOnError && this.objects.get(id)?.obj?.err) queueMicrotask(finish);
            else if (done(id)) count(n);
            else awaitLocal(id, n);
          }),
        );
      }
      if (timeoutMs !== null) timer = setTimeout(finish, timeoutMs);
    });
  }

  /** The error of the first of these objects that is ready as an error, if any. */
  firstError(ids: readonly ObjectId[]): WireError | undefined {
    for (const id of ids) {
      const e = this.objects.get(id);
      if (e?.ready && e.obj?.err) return e.obj.err;
    }
    return undefined;
  }

  /** A node pulled an object (or failed to): wake the waits for it. */
  located(node: NodeId, id: ObjectId, ok: boolean): void {
    this.fetching.delete(`${node}\u0000${id}`);
    const waiters = this.locationWaiters.get(id);
    if (waiters) for (const cb of [...waiters]) cb(ok);
  }

  /** Asks `node` to pull a ready object into its store (once at a time per node and object). */
  private requestFetch(node: NodeId, id: ObjectId): void {
    const key = `${node}\u0000${id}`;
    const e = this.objects.get(id);
    const n = this.nodes.get(node);
    if (this.fetching.has(key) || !e || !n?.alive) return;
    this.fetching.add(key);
    const nodes = [...e.locations];
    if (n.grants) expectObject(n.grants, id);
    this.nodes.grantPulls(node, [{ kind: 'located', id, nodes }]);
    n.link.send({ type: 'fetch_objects', objects: [e.sha256 ? { id, nodes, sha256: e.sha256 } : { id, nodes }] });
  }
}
