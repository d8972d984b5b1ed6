// The live nodes indexed by what they have free (an index over Ray's cluster resource view), so
// that placing a task does not read every node: per resource, the nodes with some of it free; per
// pipeline depth, the nodes with that many pipelined tasks and room for more. Members are slots in
// joining order, so the answers are the ones a scan of the nodes in that order would give.
// NodeManager re-indexes a node whenever its free resources, pipeline or liveness change.

import { Bitset } from '../common/bitset.ts';
import { fits } from '../common/resources.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { ResourceSet } from '../protocol/task-spec.ts';
import { PIPELINE_TASKS_PER_CPU } from './constants.ts';

const EPS = 1e-9;
const FEASIBLE_SHAPES_MAX = 1024;

interface Feasible {
  any: boolean;
  volunteers: boolean;
}

/** What the index reads of a node. */
export interface IndexedNode {
  readonly nodeId: NodeId;
  readonly alive: boolean;
  readonly isCoordinator: boolean;
  readonly total: ResourceSet;
  readonly available: ResourceSet;
  readonly pipelined: number;
}

/** Which nodes a task may go to: any, or volunteers' only (a task a volunteer's task submitted). */
export type Eligible = 'any' | 'volunteers';

/** How many short tasks a node may be sent beyond its free resources. */
export function pipelineCap(n: IndexedNode): number {
  return PIPELINE_TASKS_PER_CPU * Math.max(1, n.total.CPU ?? 1);
}

export class NodeIndex<N extends IndexedNode> {
  private readonly slots: N[] = [];
  private readonly slotOf = new Map<NodeId, number>();
  private readonly alive = new Bitset();
  /** Per resource: live nodes with some of it free. */
  private readonly free = new Map<string, Bitset>();
  /** Per pipeline depth d: live nodes with d pipelined tasks and room for more. */
  private readonly depths: Bitset[] = [];
  /** Per slot: the depth it is listed at, or -1. */
  private readonly depthOf: number[] = [];
  /** Answers about feasibility per resource shape, kept until a node joins or dies. */
  private readonly feasible = new Map<string, Feasible>();
  /** The same, by resource object: the tasks of one remote function share theirs, so most asks skip shapeKey. */
  private byObject = new WeakMap<ResourceSet, Feasible>();

  /** A node joined (or joined again under its id, keeping its place in the order). */
  add(n: N): void {
    let slot = this.slotOf.get(n.nodeId);
    if (slot === undefined) {
      slot = this.slots.length;
      this.slotOf.set(n.nodeId, slot);
      this.depthOf.push(-1);
    }
    this.slots[slot] = n;
    this.forgetFeasible();
    this.update(n);
  }

  /** The node's liveness changed (it died). */
  membershipChanged(n: N): void {
    this.forgetFeasible();
    this.update(n);
  }

  /** Lists the node where its free resources, pipeline and liveness now put it. */
  update(n: N): void {
    const slot = this.slotOf.get(n.nodeId);
    if (slot === undefined || this.slots[slot] !== n) return;
    if (n.alive) this.alive.set(slot);
    else this.alive.delete(slot);
    for (const k in n.available) {
      let bits = this.free.get(k);
      // Any amount above 0: `fits` takes a need up to EPS above what is free, so a need > EPS
      // fits only where some is free, and a need <= EPS is not looked up by resource at all.
      if (n.alive && (n.available[k] ?? 0) > 0) {
        if (!bits) this.free.set(k, (bits = new Bitset()));
        bits.set(slot);
      } else {
        bits?.delete(slot);
      }
    }
    const was = this.depthOf[slot]!;
    const depth = n.alive && n.pipelined < pipelineCap(n) ? n.pipelined : -1;
    if (was === depth) return;
    if (was >= 0) this.depths[was]!.delete(slot);
    if (depth >= 0) {
      while (this.depths.length <= depth) this.depths.push(new Bitset());
      this.depths[depth]!.set(slot);
    }
    this.depthOf[slot] = depth;
  }

  /** The node's place in joining order (lower joined first), or undefined for a node never added. */
  order(nodeId: NodeId): number | undefined {
    return this.slotOf.get(nodeId);
  }

  /** The first eligible live node, in joining order, with `need` free now. */
  firstReady(need: ResourceSet, eligible: Eligible): N | undefined {
    // Walk the nodes with the scarcest of the needed resources free.
    let bits: Bitset | undefined = this.alive;
    let fewest = Infinity;
    for (const k in need) {
      if ((need[k] ?? 0) <= EPS) continue;
      const b = this.free.get(k);
      if (!b || b.size === 0) return undefined;
      if (b.size < fewest) {
        bits = b;
        fewest = b.size;
      }
    }
    const slot = bits.find((i) => {
      const n = this.slots[i]!;
      return fits(need, n.available) && (eligible === 'any' || !n.isCoordinator);
    });
    return slot < 0 ? undefined : this.slots[slot];
  }

  /** Whether some eligible live node has `need` in all (free or not). */
  anyFeasible(need: ResourceSet, eligible: Eligible): boolean {
    let known = this.byObject.get(need);
    if (known) return eligible === 'any' ? known.any : known.volunteers;
    const key = exactShapeKey(need);
    known = this.feasible.get(key);
    if (!known) {
      known = { any: false, volunteers: false };
      const k = known;
      this.alive.find((i) => {
        const n = this.slots[i]!;
        if (!fits(need, n.total)) return false;
        k.any = true;
        if (!n.isCoordinator) k.volunteers = true;
        return k.volunteers;
      });
      // Shapes are the tasks' own: a bounded cache, whatever tasks ask for.
      if (this.feasible.size >= FEASIBLE_SHAPES_MAX) this.feasible.clear();
      this.feasible.set(key, known);
    }
    this.byObject.set(need, known);
    return eligible === 'any' ? known.any : known.volunteers;
  }

  private forgetFeasible(): void {
    this.feasible.clear();
    this.byObject = new WeakMap();
  }

  /** The eligible node that has `need` in all with the fewest pipelined tasks under its cap (the first, on a tie). */
  leastPipelined(need: ResourceSet, eligible: Eligible): N | undefined {
    for (const bits of this.depths) {
      if (bits.size === 0) continue;
      const slot = bits.find((i) => {
        const n = this.slots[i]!;
        return fits(need, n.total) && (eligible === 'any' || !n.isCoordinator);
      });
      if (slot >= 0) return this.slots[slot];
    }
    return undefined;
  }
}

/** A resource shape as a key no two shapes share (names may hold any character). */
function exactShapeKey(need: ResourceSet): string {
  return JSON.stringify(Object.keys(need).sort().map((k) => [k, need[k]]));
}
