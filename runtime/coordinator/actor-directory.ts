// Actors known to the coordinator (Ray's GcsActorManager): their state, node, restarts, names,
// and the calls waiting for them — one queue per caller, so each caller's calls run in order.

import { returnId, type ActorId, type FunctionId, type HolderId, type NodeId } from '../protocol/ids.ts';
import type { ActorCreationTaskSpec, ActorInfo, ActorListing } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { TaskEntry } from './task-entry.ts';

export type ActorState = 'PENDING_CREATION' | 'ALIVE' | 'RESTARTING' | 'DEAD';

export interface ActorEntry {
  readonly actorId: ActorId;
  readonly info: ActorInfo;
  readonly creationTaskId: TaskEntry['spec']['taskId'];
  /** Its class's function id (what its calls run). */
  readonly classFnId: FunctionId;
  readonly maxRestarts: number;
  readonly maxTaskRetries: number;
  state: ActorState;
  /** Where it runs (set once its constructor has finished). */
  nodeId: NodeId | null;
  /** The node whose resources it holds, from placement until death. */
  holding: NodeId | null;
  restarts: number;
  deathCause: WireError | undefined;
  /** Calls not yet sent, per caller, in submission order. */
  readonly queues: Map<HolderId, TaskEntry[]>;
  /** Calls sent to its worker and not finished. */
  readonly inflight: Map<TaskEntry['spec']['taskId'], TaskEntry>;
  /** Runs calls side by side (maxConcurrency > 1: async or threaded): a call goes as soon as its arguments are ready. */
  readonly concurrent: boolean;
  /** A replicated actor (`replicas > 1`): its other replicas (its first is `nodeId` / `holding`). */
  readonly replication?: ActorReplication;
  /** No handle to it is left: it is terminated once its calls end. */
  unreferenced?: true;
}

/**
 * The replicas of a replicated actor beyond its first: each on a node of its own, holding the
 * actor's resources there, its constructor running or finished. Every call goes to all of them
 * and its result is taken by majority (replicas.ts); a replica that disagrees, or whose node
 * leaves, is dropped and not replaced (the actor is `degraded`), and once fewer than a majority of
 * `count` are left the actor dies.
 */
export interface ActorReplication {
  /** Replicas asked for (≥ 2). */
  readonly count: number;
  /** The other replicas, by node: constructor running, or alive. */
  readonly others: Map<NodeId, 'creating' | 'alive'>;
  /** Replicas still to place (no node with room that holds none has been found yet). */
  wanted: number;
  /** A replica was dropped: fewer than `count` run. */
  degraded: boolean;
  /** The driver was told too few nodes could take a replica. */
  warned?: boolean;
}

/** Every node a replica of the actor runs on (or holds resources of): its first, then the others. */
export function replicaNodes(a: ActorEntry): NodeId[] {
  const out: NodeId[] = [];
  const first = a.nodeId ?? a.holding;
  if (first) out.push(first);
  if (a.replication) for (const n of a.replication.others.keys()) if (n !== first) out.push(n);
  return out;
}

export class ActorDirectory {
  private readonly actors = new Map<ActorId, ActorEntry>();
  /** Named live actors, by namespace and name (`nameKey`). */
  private readonly names = new Map<string, ActorId>();
  /** The job's namespace (`init({ namespace })`): where names given without one live. */
  namespace = DEFAULT_NAMESPACE;
  /** Each actor's creation task id (its handles hold refs to that task's result). */
  private readonly creations = new Map<TaskEntry['spec']['taskId'], ActorId>();
  /** Actors a `getIfExists` creation stood for: the live actor of that name each handle reaches. */
  private readonly aliases = new Map<ActorId, ActorId>();

  /** Registers a new actor; undefined when its name is taken by a live actor. */
  create(spec: ActorCreationTaskSpec): ActorEntry | undefined {
    const opts = spec.actor;
    const namespace = opts.namespace ?? this.namespace;
    if (opts.actorName !== undefined && this.names.has(nameKey(namespace, opts.actorName))) return undefined;
    const a: ActorEntry = {
      actorId: spec.actorId,
      info: {
        actorId: spec.actorId,
        handleId: returnId(spec.taskId, 0),
        className: opts.className,
        methods: opts.methods,
        streamingMethods: opts.streamingMethods,
        ...(opts.actorName !== undefined ? { name: opts.actorName, namespace } : {}),
      },
      creationTaskId: spec.taskId,
      classFnId: spec.fnId,
      maxRestarts: opts.maxRestarts,
      maxTaskRetries: opts.maxTaskRetries,
      state: 'PENDING_CREATION',
      nodeId: null,
      holding: null,
      restarts: 0,
      deathCause: undefined,
      queues: new Map(),
      inflight: new Map(),
      concurrent: opts.maxConcurrency > 1,
      ...((spec.replicas ?? 1) > 1 ? { replication: { count: spec.replicas!, others: new Map(), wanted: spec.replicas! - 1, degraded: false } } : {}),
    };
    this.actors.set(a.actorId, a);
    this.creations.set(spec.taskId, a.actorId);
    if (opts.actorName !== undefined) this.names.set(nameKey(namespace, opts.actorName), a.actorId);
    return a;
  }

  /** The actor a creation task creates. */
  byCreation(taskId: TaskEntry['spec']['taskId']): ActorEntry | undefined {
    const id = this.creations.get(taskId);
    return id ? this.actors.get(id) : undefined;
  }

  /** Its handle object is gone: the creation task id is not looked up any more. */
  forgetCreation(taskId: TaskEntry['spec']['taskId']): void {
    this.creations.delete(taskId);
  }

  /** Frees the actor's name (it is being terminated), unless a newer actor holds it. */
  releaseName(a: ActorEntry): void {
    if (a.info.name === undefined) return;
    const key = nameKey(a.info.namespace ?? this.namespace, a.info.name);
    if (this.names.get(key) === a.actorId) this.names.delete(key);
  }

  get(id: ActorId): ActorEntry | undefined {
    return this.actors.get(this.aliases.get(id) ?? id);
  }

  /** The actor id a handle's id stands for (itself, unless it came from a `getIfExists` creation). */
  resolve(id: ActorId): ActorId {
    return this.aliases.get(id) ?? id;
  }

  /** A `getIfExists` creation found `existing` alive under its name: its handle's id reaches it. */
  alias(id: ActorId, existing: ActorId): void {
    this.aliases.set(id, existing);
  }

  /** `ray.actors()`: every actor of the session, dead ones included, optionally in one state. */
  listings(state?: ActorState): ActorListing[] {
    const out: ActorListing[] = [];
    for (const a of this.actors.values()) {
      if (state !== undefined && a.state !== state) continue;
      out.push({
        actorId: a.actorId,
        className: a.info.className,
        name: a.info.name ?? null,
        namespace: a.info.namespace ?? null,
        state: a.state,
        nodeId: a.nodeId,
        numRestarts: a.restarts,
        deathCause: a.deathCause ? `${a.deathCause.name}: ${a.deathCause.message}` : null,
        replicas: a.replication?.count ?? 1,
        replicaNodes: a.state === 'DEAD' ? [] : replicaNodes(a),
        degraded: a.replication?.degraded ?? false,
      });
    }
    return out;
  }

  /** The live named actors: their names and namespaces. */
  namedActors(): { name: string; namespace: string }[] {
    const out: { name: string; namespace: string }[] = [];
    for (const id of this.names.values()) {
      const info = this.actors.get(id)?.info;
      if (info?.name !== undefined) out.push({ name: info.name, namespace: info.namespace ?? this.namespace });
    }
    return out;
  }

  /** The live actor named `name` in `namespace` (default: the job's). */
  byName(name: string, namespace = this.namespace): ActorEntry | undefined {
    const id = this.names.get(nameKey(namespace, name));
    return id ? this.actors.get(id) : undefined;
  }

  /** Live actors running on, or holding resources of, a node. */
  onNode(nodeId: NodeId): ActorEntry[] {
    const out: ActorEntry[] = [];
    for (const a of this.actors.values()) if (a.state !== 'DEAD' && hosts(a, nodeId)) out.push(a);
    return out;
  }

  enqueue(a: ActorEntry, t: TaskEntry): void {
    let q = a.queues.get(t.spec.callerId);
    if (!q) a.queues.set(t.spec.callerId, (q = []));
    q.push(t);
  }

  /** Puts calls back at the front of their callers' queues, keeping their order. */
  requeue(a: ActorEntry, tasks: readonly TaskEntry[]): void {
    const byCaller = new Map<HolderId, TaskEntry[]>();
    for (const t of tasks) {
      let l = byCaller.get(t.spec.callerId);
      if (!l) byCaller.set(t.spec.callerId, (l = []));
      l.push(t);
    }
    for (const [caller, l] of byCaller) {
      const q = a.queues.get(caller) ?? [];
      a.queues.set(caller, [...l, ...q]);
    }
  }

  removeQueued(a: ActorEntry, t: TaskEntry): void {
    const q = a.queues.get(t.spec.callerId);
    const i = q?.indexOf(t) ?? -1;
    if (i >= 0) q!.splice(i, 1);
  }

  /**
   * Takes the calls whose turn has come: per caller, the queue heads whose arguments are ready, in
   * order — or, for a concurrent actor, every call whose arguments are ready, so that one waiting
   * for an argument holds up none behind it (as in Ray, order per caller is kept for sequential
   * actors only).
   */
  ready(a: ActorEntry): TaskEntry[] {
    const out: TaskEntry[] = [];
    if (a.concurrent) {
      for (const q of a.queues.values()) {
        let kept = 0;
        for (const t of q) {
          if (ended(t)) continue;
          if (t.depsPending === 0 && t.state === 'PENDING_NODE_ASSIGNMENT') out.push(t);
          else q[kept++] = t;
        }
        q.length = kept;
      }
      return out;
    }
    for (const q of a.queues.values()) {
      let i = 0;
      while (i < q.length) {
        const t = q[i]!;
        if (ended(t)) i++;
        else if (t.depsPending === 0 && t.state === 'PENDING_NODE_ASSIGNMENT') out.push(q[i++]!);
        else break;
      }
      if (i > 0) q.splice(0, i);
    }
    return out;
  }

  /** Whether a call is waiting in one of its callers' queues. */
  hasQueued(a: ActorEntry): boolean {
    for (const q of a.queues.values()) if (q.some((t) => !ended(t))) return true;
    return false;
  }

  /** Takes every queued call (the actor is dead). */
  drainQueued(a: ActorEntry): TaskEntry[] {
    const out: TaskEntry[] = [];
    for (const q of a.queues.values()) out.push(...q);
    a.queues.clear();
    return out;
  }

  markDead(a: ActorEntry, cause: WireError): void {
    a.state = 'DEAD';
    a.deathCause = cause;
    a.nodeId = null;
    a.holding = null;
    a.replication?.others.clear();
    this.releaseName(a);
  }
}

/** The namespace of names given without one when `init` named none (Ray's is an anonymous one per job). */
export const DEFAULT_NAMESPACE = 'default';

/** A name's key in its namespace (NUL cannot be typed into either by accident). */
function nameKey(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`;
}

/** A replica of the actor runs on the node, or holds its resources there. */
export function hosts(a: ActorEntry, nodeId: NodeId): boolean {
  return a.nodeId === nodeId || a.holding === nodeId || (a.replication?.others.has(nodeId) ?? false);
}

/** A queued call that will not run: cancelled, or failed or finished meanwhile. */
function ended(t: TaskEntry): boolean {
  return t.cancelled || t.state === 'FAILED' || t.state === 'FINISHED';
}
