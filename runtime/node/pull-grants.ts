// Which members may pull which of this node's objects (the object manager's side of the issue's
// capability model): the coordinator sends `expect_pulls` before it tells a node where an object
// is, and each grant answers one pull. A pull nobody granted is refused, so holding an object's id
// is not enough to read it from a node that has it.

import type { NodeId, ObjectId } from '../protocol/ids.ts';
import { PULL_GRANT_WAIT_MS } from './constants.ts';

interface Waiter {
  readonly puller: NodeId;
  readonly resolve: (granted: boolean) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class PullGrants {
  /** Grants not used yet: per object, per puller, how many pulls. */
  private readonly grants = new Map<ObjectId, Map<NodeId, number>>();
  /** Pulls that arrived before their grant. */
  private readonly waiting = new Map<ObjectId, Waiter[]>();

  /** The coordinator told `puller` where these objects are (`expect_pulls`). */
  expect(puller: NodeId, ids: readonly ObjectId[]): void {
    for (const id of ids) {
      const w = this.waiting.get(id);
      const i = w ? w.findIndex((x) => x.puller === puller) : -1;
      if (i >= 0) {
        const [waiter] = w!.splice(i, 1);
        if (w!.length === 0) this.waiting.delete(id);
        clearTimeout(waiter!.timer);
        waiter!.resolve(true);
        continue;
      }
      let byPuller = this.grants.get(id);
      if (!byPuller) this.grants.set(id, (byPuller = new Map()));
      byPuller.set(puller, (byPuller.get(puller) ?? 0) + 1);
    }
  }

  /**
   * Uses a grant for one pull of `id` by `puller`: true at once when there is one, else when one
   * arrives within PULL_GRANT_WAIT_MS; false (refuse the pull) after that.
   */
  take(puller: NodeId, id: ObjectId): boolean | Promise<boolean> {
    const byPuller = this.grants.get(id);
    const n = byPuller?.get(puller) ?? 0;
    if (n > 0) {
      if (n === 1) {
        byPuller!.delete(puller);
        if (byPuller!.size === 0) this.grants.delete(id);
      } else byPuller!.set(puller, n - 1);
      return true;
    }
    return new Promise<boolean>((resolve) => {
      const list = this.waiting.get(id) ?? [];
      const timer = setTimeout(() => {
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0 && this.waiting.get(id) === list) this.waiting.delete(id);
        resolve(false);
      }, PULL_GRANT_WAIT_MS);
      const waiter: Waiter = { puller, resolve, timer };
      list.push(waiter);
      this.waiting.set(id, list);
    });
  }

  /** The objects were freed: their grants go (a pull of them finds nothing anyway). */
  forget(ids: readonly ObjectId[]): void {
    for (const id of ids) this.grants.delete(id);
  }

  /**
   * `puller` left the cluster or was cut off: its grants go and its pulls still waiting for one are
   * refused, so a member that rejoins (or another that takes its place) cannot use them.
   */
  dropPuller(puller: NodeId): void {
    for (const [id, byPuller] of this.grants) {
      if (byPuller.delete(puller) && byPuller.size === 0) this.grants.delete(id);
    }
    for (const [id, list] of this.waiting) {
      for (let i = list.length - 1; i >= 0; i--) {
        const w = list[i]!;
        if (w.puller !== puller) continue;
        list.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(false);
      }
      if (list.length === 0) this.waiting.delete(id);
    }
  }

  /** Grants not used yet plus pulls waiting for one (tests: what a departed puller leaves behind). */
  get size(): number {
    let n = 0;
    for (const byPuller of this.grants.values()) for (const k of byPuller.values()) n += k;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  /** The node stops: pulls still waiting for a grant are refused. */
  close(): void {
    for (const list of this.waiting.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.resolve(false);
      }
    }
    this.waiting.clear();
    this.grants.clear();
  }
}
