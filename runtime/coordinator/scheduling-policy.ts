// Where a task or actor goes (Ray's scheduling/policy/*): pure functions over a view of the nodes.
// Feasibility first (CPU, GPU, custom), then the strategy — DEFAULT packs nodes in order until
// they are busy, SPREAD rotates, node affinity pins — then locality (most argument bytes).

import { fits, format, missing } from '../common/resources.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { ResourceSet, SchedulingStrategy } from '../protocol/task-spec.ts';

export interface NodeView {
  readonly nodeId: NodeId;
  readonly alive: boolean;
  readonly total: ResourceSet;
  readonly available: ResourceSet;
}

export interface PlacementRequest {
  readonly resources: ResourceSet;
  readonly strategy: SchedulingStrategy;
  /** Bytes of the task's arguments already on each node. */
  readonly localityBytes?: ReadonlyMap<NodeId, number>;
}

export type Placement =
  | { readonly kind: 'node'; readonly nodeId: NodeId }
  /** Some node could run it but none has the resources free now. */
  | { readonly kind: 'wait'; readonly feasible: readonly NodeId[] }
  /** No live node has that much of some resource; a node that has may still join. */
  | { readonly kind: 'infeasible'; readonly reason: string }
  /** It can never run (hard affinity to a node that is gone). */
  | { readonly kind: 'unschedulable'; readonly reason: string };

export interface SpreadState {
  cursor: number;
}

export function place(req: PlacementRequest, nodes: readonly NodeView[], spread: SpreadState): Placement {
  const feasible = nodes.filter((n) => n.alive && fits(req.resources, n.total));
  const strategy = req.strategy;
  if (typeof strategy === 'object') {
    const target = nodes.find((n) => n.nodeId === strategy.nodeId);
    if (!target || !target.alive) {
      if (!strategy.soft) {
        return {
          kind: 'unschedulable',
          reason: `node affinity to node ${strategy.nodeId}, which is ${target ? 'dead' : 'not in the cluster'} (soft: false)`,
        };
      }
    } else if (fits(req.resources, target.total)) {
      // As in Ray, soft or not: a live, feasible target is the only place it runs; a busy one is waited for.
      if (fits(req.resources, target.available)) return { kind: 'node', nodeId: target.nodeId };
      return { kind: 'wait', feasible: [target.nodeId] };
    } else if (!strategy.soft) {
      return {
        kind: 'infeasible',
        reason: `node affinity to node ${strategy.nodeId}, which lacks ${missing(req.resources, target.total).join(', ')}`,
      };
    }
  }
  if (feasible.length === 0) return { kind: 'infeasible', reason: infeasibleReason(req.resources, nodes) };
  const ready = feasible.filter((n) => fits(req.resources, n.available));
  if (ready.length === 0) return { kind: 'wait', feasible: feasible.map((n) => n.nodeId) };
  if (strategy === 'SPREAD') {
    // Rotate over every feasible node so consecutive tasks land on different nodes.
    for (let i = 0; i < feasible.length; i++) {
      const n = feasible[(spread.cursor + i) % feasible.length]!;
      if (ready.includes(n)) {
        spread.cursor = (spread.cursor + i + 1) % feasible.length;
        return { kind: 'node', nodeId: n.nodeId };
      }
    }
  }
  if (req.localityBytes && req.localityBytes.size > 0) {
    let best: NodeView | undefined;
    let bestBytes = 0;
    for (const n of ready) {
      const b = req.localityBytes.get(n.nodeId) ?? 0;
      if (b > bestBytes) {
        best = n;
        bestBytes = b;
      }
    }
    if (best) return { kind: 'node', nodeId: best.nodeId };
  }
  return { kind: 'node', nodeId: ready[0]!.nodeId };
}

function infeasibleReason(need: ResourceSet, nodes: readonly NodeView[]): string {
  const alive = nodes.filter((n) => n.alive);
  if (alive.length === 0) return `waiting for resources ${format(need)}: no node is alive`;
  const largest: Record<string, number> = {};
  for (const n of alive) for (const k in n.total) largest[k] = Math.max(largest[k] ?? 0, n.total[k] ?? 0);
  return `waiting for resources ${format(need)}: no node offers ${missing(need, largest).join(', ')}; it runs when a node that has them joins`;
}
