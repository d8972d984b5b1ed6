// The node's own resource accounting (Ray's LocalResourceManager): its total and what is free now.
// A pooled worker holds a lease for the task it runs; an actor's worker holds the actor's resources
// for its lifetime; a task blocked in get/wait lends its CPU back until it unblocks.

import { add, fits, shapeKey, subtract } from '../common/resources.ts';
import type { ResourceSet } from '../protocol/task-spec.ts';
import type { WorkerSlot } from './assignment.ts';

export class LocalResources {
  readonly total: ResourceSet;
  private readonly available: Record<string, number>;

  constructor(resources: ResourceSet) {
    this.total = { ...resources };
    this.available = { ...resources };
  }

  /** The CPUs this node has, whole. */
  get cpus(): number {
    return Math.floor(this.total.CPU ?? 0);
  }

  /** Whether `need` is free now. */
  fits(need: ResourceSet): boolean {
    return fits(need, this.available);
  }

  /** Gives the worker a lease on `need` (which must fit), for the task it is about to run. */
  lease(w: WorkerSlot, need: ResourceSet): void {
    subtract(this.available, need);
    w.lease = need;
    w.shape = shapeKey(need);
  }

  /** Takes an actor's resources for its worker's lifetime. */
  holdForActor(held: ResourceSet): void {
    subtract(this.available, held);
  }

  /** Gives back a pooled worker's lease (without the CPU it lent while blocked, which is free already). */
  release(w: WorkerSlot): void {
    if (!w.lease) return;
    let res = w.lease;
    if (w.blocked > 0 && res.CPU) {
      const { CPU: _cpu, ...rest } = res;
      res = rest;
    }
    add(this.available, res, this.total);
    w.lease = null;
    w.shape = null;
  }

  /** Gives back everything an actor's worker held. */
  releaseActor(w: WorkerSlot): void {
    add(this.available, w.lease ?? {}, this.total);
    w.lease = null;
  }

  /** The worker's task blocked: its CPU is free for others. True when there was a CPU to lend. */
  lendCpu(w: WorkerSlot): boolean {
    if (!w.lease?.CPU) return false;
    this.available.CPU = (this.available.CPU ?? 0) + w.lease.CPU;
    return true;
  }

  /** The worker's task unblocked: it takes its CPU back (even if that overcommits the node for a while). */
  reclaimCpu(w: WorkerSlot): void {
    if (w.lease?.CPU) this.available.CPU = (this.available.CPU ?? 0) - w.lease.CPU;
  }
}
