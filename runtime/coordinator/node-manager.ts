// The nodes of the cluster as the coordinator sees them (Ray's GcsNodeManager plus the cluster
// resource view): each node's link, total and free resources, the functions it has been sent,
// the tasks placed on it and its object store figures.

import type { ActorId, FunctionId, NodeId, ObjectId, TaskId } from '../protocol/ids.ts';
import type { ClusterView } from '../protocol/client-requests.ts';
import type { CoordinatorToNode, ResolvedArg } from '../protocol/node-messages.ts';
import type { NodeInfo, ObjectStoreStats, ResourceSet } from '../protocol/task-spec.ts';
import { add, subtract } from '../common/resources.ts';
import { EXPECTED_OBJECTS_MAX } from './constants.ts';
import { NodeIndex, type Eligible } from './node-index.ts';
import type { NodeView } from './scheduling-policy.ts';

/** Sends control messages to one node. */
export interface NodeLink {
  send(msg: CoordinatorToNode): void;
  /** Drops the node as if it had left (closes its link); absent where the link cannot be closed. */
  close?(reason: string): void;
}

/**
 * What the coordinator told a volunteer node (not its own node), to judge what the node may report
 * (`capabilities.ts`): tasks sent and not yet reported done, actors placed there, objects it was
 * told to pull, and its strikes.
 */
export interface NodeGrants {
  /** run_task messages sent per task, less the task_done reports received (stale reports are quiet). */
  readonly sentTasks: Map<TaskId, number>;
  /** Actors ever placed on it (a late actor_died about one is stale, not forged). */
  readonly hostedActors: Set<ActorId>;
  /** Objects it was told to pull (task arguments, get replies, fetch_objects), until it reports them. */
  readonly expectedObjects: Set<ObjectId>;
  /** Refused messages so far; at VOLUNTEER_STRIKE_LIMIT the node is dropped. */
  strikes: number;
}

/**
 * A node as the coordinator sees it. Its liveness, free resources and pipeline change only through
 * NodeManager (`markDead`, `take`, `giveBack`, `lendCpu`, `pipeline`), which keeps placement's
 * index of them (node-index.ts) true.
 */
export interface NodeState extends NodeView {
  readonly nodeId: NodeId;
  readonly alive: boolean;
  readonly isCoordinator: boolean;
  readonly total: ResourceSet;
  readonly available: ResourceSet;
  readonly link: NodeLink;
  readonly knownFns: Set<FunctionId>;
  readonly gpuFallback: boolean;
  readonly label: string | undefined;
  /** Short tasks sent beyond its free resources. */
  readonly pipelined: number;
  readonly running: Set<TaskId>;
  stats: ObjectStoreStats;
  /** Undefined for the coordinator's own node, which has every power. */
  readonly grants: NodeGrants | undefined;
  /** Tasks it finished with results: the record straggler copies prefer (stragglers.ts). */
  finished: number;
  /** Verified-task replicas whose result agreed with the accepted majority, and that disagreed (replicas.ts). */
  verified: number;
  mismatches: number;
  /** Dropped for its mismatches; never given a task again. */
  quarantined: boolean;
  /** The driver vouched for it (`ray.trustNode`): no spot checks, never quarantined, preferred for copies. */
  trusted: boolean;
}

/** Told the node to pull `id`: it may now report a copy of it (`object_located`). */
export function expectObject(g: NodeGrants, id: ObjectId): void {
  if (g.expectedObjects.size >= EXPECTED_OBJECTS_MAX) g.expectedObjects.delete(g.expectedObjects.values().next().value!);
  g.expectedObjects.add(id);
}

export interface NodeOptions {
  readonly isCoordinator: boolean;
  readonly gpuFallback: boolean;
  readonly label?: string;
}

/** NodeState as NodeManager alone may change it. */
type MutableNode = NodeState & { alive: boolean; available: Record<string, number>; pipelined: number };

export class NodeManager {
  private readonly nodes = new Map<NodeId, MutableNode>();
  /** The live nodes by what they have free, for placement. */
  private readonly index = new NodeIndex<NodeState>();

  /** Records a node that joined, all of its resources free. */
  add(nodeId: NodeId, resources: ResourceSet, link: NodeLink, opts: NodeOptions): void {
    const node: MutableNode = {
      nodeId,
      alive: true,
      isCoordinator: opts.isCoordinator,
      total: { ...resources },
      available: { ...resources },
      link,
      knownFns: new Set(),
      gpuFallback: opts.gpuFallback,
      label: opts.label,
      pipelined: 0,
      running: new Set(),
      stats: { memoryBytes: 0, spilledBytes: 0, objects: 0, budgetBytes: 0 },
      grants: opts.isCoordinator ? undefined : { sentTasks: new Map(), hostedActors: new Set(), expectedObjects: new Set(), strikes: 0 },
      finished: 0,
      verified: 0,
      mismatches: 0,
      quarantined: false,
      trusted: opts.isCoordinator,
    };
    this.nodes.set(nodeId, node);
    this.index.add(node);
  }

  /** The node left or died: it is no longer placed on. */
  markDead(nodeId: NodeId): void {
    const n = this.nodes.get(nodeId);
    if (!n || !n.alive) return;
    n.alive = false;
    this.index.membershipChanged(n);
  }

  /** A task or actor now holds `res` on the node. */
  take(node: NodeState, res: ResourceSet): void {
    const n = this.mutable(node);
    subtract(n.available, res);
    this.index.update(n);
  }

  /** What a task or actor held on the node is free again (never above the node's total). */
  giveBack(node: NodeState, res: ResourceSet): void {
    const n = this.mutable(node);
    add(n.available, res, n.total);
    this.index.update(n);
  }

  /** A task blocked in `get` lends its CPUs (`cpu` > 0), or takes them back when it goes on (`cpu` < 0). */
  lendCpu(node: NodeState, cpu: number): void {
    const n = this.mutable(node);
    n.available.CPU = (n.available.CPU ?? 0) + cpu;
    this.index.update(n);
  }

  /** One more (`delta` 1) or one fewer (-1) short task sent to the node beyond its free resources. */
  pipeline(node: NodeState, delta: 1 | -1): void {
    const n = this.mutable(node);
    n.pipelined += delta;
    this.index.update(n);
  }

  /** The node's place in joining order (lower joined first). */
  order(nodeId: NodeId): number {
    return this.index.order(nodeId) ?? Infinity;
  }

  /** The first live node in joining order with `need` free now (`eligible`: volunteers' nodes only, or any). */
  firstReady(need: ResourceSet, eligible: Eligible): NodeState | undefined {
    return this.index.firstReady(need, eligible);
  }

  /** Whether some eligible live node has `need` in all, free or not. */
  anyFeasible(need: ResourceSet, eligible: Eligible): boolean {
    return this.index.anyFeasible(need, eligible);
  }

  /** The eligible node that has `need` in all with the fewest pipelined tasks and room for another. */
  leastPipelined(need: ResourceSet, eligible: Eligible): NodeState | undefined {
    return this.index.leastPipelined(need, eligible);
  }

  private mutable(node: NodeState): MutableNode {
    const n = this.nodes.get(node.nodeId);
    if (n !== node) throw new Error(`node ${node.nodeId} is not this cluster's`);
    return n;
  }

  /**
   * `puller` is about to be told where these objects are: each node holding one expects one pull
   * of it from `puller` (`expect_pulls`), sent before the puller hears of it. Inline objects and
   * the puller's own copies need none, nor the coordinator's own node (every node answers it).
   */
  grantPulls(puller: NodeId, objects: readonly ResolvedArg[]): void {
    if (this.nodes.get(puller)?.isCoordinator) return; // the coordinator's own node may pull anything
    let byHolder: Map<NodeId, ObjectId[]> | undefined;
    for (const o of objects) {
      if (o.kind !== 'located') continue;
      for (const holder of o.nodes) {
        if (holder === puller) continue;
        byHolder ??= new Map();
        const ids = byHolder.get(holder);
        if (ids) ids.push(o.id);
        else byHolder.set(holder, [o.id]);
      }
    }
    if (!byHolder) return;
    for (const [holder, ids] of byHolder) {
      const n = this.nodes.get(holder);
      if (n?.alive) n.link.send({ type: 'expect_pulls', puller, ids });
    }
  }

  /** The node, alive or not; undefined when it never joined. */
  get(nodeId: NodeId): NodeState | undefined {
    return this.nodes.get(nodeId);
  }

  /** Every node that ever joined, in joining order (the view placement works on). */
  all(): NodeState[] {
    return [...this.nodes.values()];
  }

  /** A node's latest object store figures (`node_stats`). */
  setStats(nodeId: NodeId, stats: ObjectStoreStats): void {
    const n = this.nodes.get(nodeId);
    if (n) n.stats = stats;
  }

  infos(): NodeInfo[] {
    return [...this.nodes.values()].map((n) => ({
      nodeId: n.nodeId,
      alive: n.alive,
      isCoordinator: n.isCoordinator,
      resources: { ...n.total },
      available: n.alive ? clampAvailable(n.available) : {},
      objectStore: { ...n.stats },
      gpuFallback: n.gpuFallback,
      ...(n.label ? { label: n.label } : {}),
      runningTasks: n.running.size,
      verified: n.verified,
      mismatches: n.mismatches,
      quarantined: n.quarantined,
      trusted: n.trusted,
    }));
  }

  /**
   * What task code reads as the cluster (`ray.nodes()`, `clusterResources()`,
   * `availableResources()`): the totals, and every node — task code on a volunteer node (given)
   * sees only its own.
   */
  viewFor(volunteer: NodeId | undefined): ClusterView {
    const nodes = this.infos();
    return {
      nodes: volunteer ? nodes.filter((n) => n.nodeId === volunteer) : nodes,
      total: this.clusterResources(),
      available: this.availableResources(),
    };
  }

  clusterResources(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.nodes.values()) if (n.alive) for (const k in n.total) out[k] = (out[k] ?? 0) + (n.total[k] ?? 0);
    return this.withObjectStoreMemory(out);
  }

  /** What is free on the live nodes; a resource fully in use is left out, as Ray's `available_resources()` does. */
  availableResources(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      for (const [k, v] of Object.entries(clampAvailable(n.available))) if (v > 0) out[k] = (out[k] ?? 0) + v;
    }
    return this.withObjectStoreMemory(out);
  }

  /**
   * Adds `objectStoreMemory`, the live nodes' in-memory object budgets, as Ray lists
   * `object_store_memory` among its resources (objects do not consume it; tasks cannot ask for it).
   */
  private withObjectStoreMemory(out: Record<string, number>): Record<string, number> {
    let budget = 0;
    for (const n of this.nodes.values()) if (n.alive) budget += n.stats.budgetBytes;
    if (budget > 0) out.objectStoreMemory = budget;
    return out;
  }
}

function clampAvailable(a: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in a) out[k] = Math.max(0, a[k] ?? 0);
  return out;
}
