// The cluster scheduler (Ray's ClusterTaskManager over the cluster resource view): places each
// task whose arguments are ready on a node (`scheduling-policy.ts`), queues it by scheduling class
// while no node has room, pipelines short tasks onto busy nodes, sends `run_task`, and gives the
// resources back when the task ends or blocks in `get`. It is the one owner of every node's
// resources: nodes only report (task_blocked, tasks_waiting), and are told which pipelined task
// that came back to them now holds resources of its own (`start_task`).

import { wireError } from '../api/errors.ts';
import { fits } from '../common/resources.ts';
import { TaskDurations } from '../common/task-durations.ts';
import type { FunctionId, NodeId, TaskId } from '../protocol/ids.ts';
import type { ResolvedArg } from '../protocol/node-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
import { functionIdOf, type FunctionDescriptor, type TaskSpec } from '../protocol/task-spec.ts';
import type { ActorDirectory } from './actor-directory.ts';
import { expectObject, type NodeManager, type NodeState } from './node-manager.ts';
import { pipelineCap } from './node-index.ts';
import type { ObjectDirectory } from './object-directory.ts';
import { place, type Placement, type SpreadState } from './scheduling-policy.ts';
import { Stragglers } from './stragglers.ts';
import { detachCopy, type TaskEntry } from './task-entry.ts';
import { disarm, nowMs, type TaskTable } from './task-table.ts';

/** The calls that read the cluster view in task code. */
const CLUSTER_VIEW_CALLS = /\b(?:nodes|clusterResources|availableResources)\b/;

export interface ClusterSchedulerDeps {
  readonly nodes: NodeManager;
  readonly tasks: TaskTable;
  readonly objects: ObjectDirectory;
  readonly actors: ActorDirectory;
  /** The function table: sources sent with a node's first task of each function. */
  readonly fns: ReadonlyMap<FunctionId, FunctionDescriptor>;
  /** The coordinator's debug log. */
  readonly log: (msg: string) => void;
  /** An attempt is about to go to a node: the task manager decides whether it is verified (its replicas, a spot check). */
  readonly sending?: (t: TaskEntry, node: NodeState) => void;
  /** An attempt was sent to a node (the task manager arms its `timeoutMs`, starts a verified task's replicas). */
  readonly dispatched?: (t: TaskEntry) => void;
  /** Resources may have freed up (after each drain): verified tasks place the replicas they still want. */
  readonly onRoom?: () => void;
  /** A task can never be placed: the task manager fails it (an actor's creation: the actor dies for good). */
  readonly unschedulable?: (t: TaskEntry, err: WireError) => void;
  /** A verified task's replica straggles on its node (stragglers.ts): stop it, run it elsewhere. */
  readonly replicaStalled?: (a: TaskEntry) => void;
}

export class ClusterScheduler {
  /** Feasible tasks waiting for free resources, by scheduling class, in submission order. */
  private readonly waiting = new Map<string, TaskEntry[]>();
  /** Tasks of each scheduling class placed on a node and not finished (running, blocked or queued there). */
  private readonly activeByClass = new Map<string, number>();
  /**
   * Per node, pipelined tasks waiting there without a worker (`tasks_waiting`), first in line for
   * its resources. Entries of tasks that ended meanwhile (their flag cleared) are skipped.
   */
  private readonly waitingForWorker = new Map<NodeId, TaskEntry[]>();
  /** Tasks no live node can run; re-examined when a node joins. */
  private infeasible: TaskEntry[] = [];
  private readonly spread: SpreadState = { cursor: 0 };
  private lastClass: { fnId: FunctionId | undefined; strategy: TaskSpec['strategy']; resources: TaskSpec['resources']; key: string } | undefined;
  /** How long each function's tasks take, to tell short ones (pipelined) from the rest. */
  private readonly durations = new TaskDurations();
  /** Per function: whether its code reads the cluster view (`readsClusterView`). */
  private readonly viewReaders = new Map<FunctionId, boolean>();
  private draining = false;
  /** Copies of tasks that straggle on volunteer nodes. */
  private readonly stragglers: Stragglers;

  constructor(private readonly d: ClusterSchedulerDeps) {
    this.stragglers = new Stragglers({
      nodes: d.nodes,
      tasks: d.tasks,
      placeCopy: (t) => this.placeCopy(t),
      replicaStalled: (a) => d.replicaStalled?.(a),
      log: d.log,
    });
  }

  /**
   * The nodes a task may run on. A task a volunteer's task submitted never runs on the coordinator
   * tab's own node, isolated or not. Isolation (the default of `ray.init`) keeps task code off the
   * coordinator page's storage, but not off the coordinator's powers: that node's workers ask the
   * coordinator as the coordinator's own node, which has every power (no capability checks: listing
   * tasks, `get` of any object, killing any actor), so a stranger's code placed there would escape
   * the checks its own node is held to (docs/isolation.md). With `isolation: 'none'` it would also
   * read the page's storage. Its code runs on volunteers' nodes, whose workers are isolated.
   */
  private candidates(t: TaskEntry): NodeState[] {
    const all = this.d.nodes.all();
    return t.submittedBy === undefined ? all : all.filter((n) => !n.isCoordinator);
  }

  /**
   * Where the task goes now. DEFAULT placement — the first node in joining order with the task's
   * resources free, or the one holding most of its arguments' bytes — is answered by the node
   * index without reading every node (its 'wait' then names no nodes: tryPipeline asks the index
   * too); SPREAD, node affinity and infeasible reasons scan the nodes (scheduling-policy.ts).
   */
  private place(t: TaskEntry): Placement | { readonly kind: 'wait'; readonly feasible: undefined } {
    const spec = t.spec;
    const localityBytes = this.localityOf(t);
    if (spec.strategy === 'DEFAULT') {
      const eligible = t.submittedBy === undefined ? 'any' : 'volunteers';
      let best: NodeId | undefined;
      let bestBytes = 0;
      for (const [nodeId, bytes] of localityBytes ?? []) {
        const n = this.d.nodes.get(nodeId);
        if (bytes < bestBytes || !n?.alive || (eligible === 'volunteers' && n.isCoordinator) || !fits(spec.resources, n.available)) continue;
        // On a tie, the node that joined first, as a scan of the nodes in joining order picks.
        if (bytes === bestBytes && (best === undefined || this.d.nodes.order(nodeId) > this.d.nodes.order(best))) continue;
        best = nodeId;
        bestBytes = bytes;
      }
      if (best) return { kind: 'node', nodeId: best };
      const ready = this.d.nodes.firstReady(spec.resources, eligible);
      if (ready) return { kind: 'node', nodeId: ready.nodeId };
      if (this.d.nodes.anyFeasible(spec.resources, eligible)) return { kind: 'wait', feasible: undefined };
    }
    return place({ resources: spec.resources, strategy: spec.strategy, localityBytes }, this.candidates(t), this.spread);
  }

  /** Places a task whose arguments are ready, or queues it (waiting for room, or infeasible). */
  schedule(t: TaskEntry): void {
    if (t.cancelled || this.d.tasks.stopped) return;
    t.state = 'PENDING_NODE_ASSIGNMENT';
    const placement = this.place(t);
    switch (placement.kind) {
      case 'node':
        t.pendingReason = null;
        this.dispatch(t, this.d.nodes.get(placement.nodeId)!, true);
        return;
      case 'wait': {
        if (this.tryPipeline(t, placement.feasible)) return;
        t.pendingReason = 'waiting for free resources on a node';
        const key = this.classKey(t);
        let q = this.waiting.get(key);
        if (!q) this.waiting.set(key, (q = []));
        q.push(t);
        return;
      }
      case 'infeasible':
        t.pendingReason = placement.reason;
        this.infeasible.push(t);
        this.d.log(`task ${t.spec.name} ${placement.reason}`);
        return;
      case 'unschedulable':
        this.unschedulable(t, placement.reason);
        return;
    }
  }

  /** The task can never be placed (hard affinity to a node that is gone): it fails, or its actor dies. */
  private unschedulable(t: TaskEntry, reason: string): void {
    const err = wireError('TaskUnschedulableError', `task ${t.spec.name} cannot be scheduled: ${reason}`);
    if (this.d.unschedulable) this.d.unschedulable(t, err);
    else this.d.tasks.failTask(t, err);
  }

  /** A node joined: tasks no node could run are placed again. */
  retryInfeasible(): void {
    const retry = this.infeasible;
    this.infeasible = [];
    // A task may have ended while it waited (a killed actor's creation): only pending ones go on.
    for (const t of retry) if (t.state === 'PENDING_NODE_ASSIGNMENT') this.schedule(t);
  }

  /**
   * Places waiting tasks on nodes that have room again. Classes with the fewest tasks already
   * placed go first (Ray's fair queueing across scheduling classes): a CPU lent by a parent
   * blocked in ray.get goes to its children's class, not to yet another parent, so nested
   * tasks finish instead of filling the node's worker pool with blocked parents.
   */
  drain(): void {
    if (this.draining || this.d.tasks.stopped) return;
    this.draining = true;
    try {
      for (const [nodeId, q] of this.waitingForWorker) this.startWaiting(nodeId, q);
      const classes = [...this.waiting];
      if (classes.length > 1) classes.sort((a, b) => (this.activeByClass.get(a[0]) ?? 0) - (this.activeByClass.get(b[0]) ?? 0));
      for (const [key, q] of classes) {
        let i = 0;
        while (i < q.length) {
          const t = q[i]!;
          if (t.cancelled || t.state !== 'PENDING_NODE_ASSIGNMENT') {
            i++;
            continue;
          }
          const placement = this.place(t);
          if (placement.kind === 'node') {
            this.dispatch(t, this.d.nodes.get(placement.nodeId)!, true);
            i++;
          } else if (placement.kind === 'wait') {
            if (this.tryPipeline(t, placement.feasible)) i++;
            else break;
          } else {
            i++;
            if (placement.kind === 'infeasible') {
              t.pendingReason = placement.reason;
              this.infeasible.push(t);
            } else {
              this.unschedulable(t, placement.reason);
            }
          }
        }
        if (i >= q.length) this.waiting.delete(key);
        else if (i > 0) q.splice(0, i);
      }
    } finally {
      this.draining = false;
    }
    this.d.onRoom?.();
  }

  /**
   * A normal task's attempt on its node ended with results: `workerMs` is how long it ran by its
   * worker's clock (short tasks are pipelined); the coordinator's clock from dispatch judges stragglers.
   */
  recordDuration(t: TaskEntry, workerMs: number): void {
    if (t.spec.kind !== 'normal') return;
    this.durations.record(t.spec.fnId, workerMs);
    // Only while volunteers run tasks: a cluster of the coordinator's node alone has no stragglers to judge.
    if (this.stragglers.watching && t.nodeId && t.dispatchedAtMs !== undefined) this.stragglers.record(t.spec.fnId, t.nodeId, nowMs() - t.dispatchedAtMs);
  }

  /** Sends `run_task`: the spec, each argument inline or where it lives, the source the first time. */
  sendTask(node: NodeState, t: TaskEntry): void {
    const spec = t.spec;
    const args: ResolvedArg[] = new Array(spec.args.length);
    for (let i = 0; i < spec.args.length; i++) {
      const a = spec.args[i]!;
      args[i] = a.kind === 'value' ? { kind: 'inline', obj: a.obj } : this.d.objects.resolvedArg(a.id);
    }
    const g = node.grants;
    if (g) {
      // What a volunteer is told, so that it may report on it (capabilities.ts).
      g.sentTasks.set(spec.taskId, (g.sentTasks.get(spec.taskId) ?? 0) + 1);
      if (spec.kind === 'actor-creation' && spec.actorId) g.hostedActors.add(spec.actorId);
      for (const a of args) if (a.kind === 'located') expectObject(g, a.id);
    }
    let fn: FunctionDescriptor | undefined;
    if (spec.kind !== 'actor-method' && !node.knownFns.has(spec.fnId)) {
      fn = this.d.fns.get(spec.fnId);
      node.knownFns.add(spec.fnId);
    }
    this.d.nodes.grantPulls(node.nodeId, args);
    const view = this.readsClusterView(spec) ? this.d.nodes.viewFor(node.isCoordinator ? undefined : node.nodeId) : undefined;
    // A verified task's replicas carry their counts, so that their nodes hash the results.
    const v = t.verification;
    node.link.send({
      type: 'run_task',
      spec: v && spec.kind !== 'actor-creation' && spec.replicas !== v.replicas ? { ...spec, replicas: v.replicas, maxReplicas: v.maxReplicas } : spec,
      attempt: t.attempt,
      args,
      ...(fn ? { fn } : {}),
      ...(spec.kind === 'normal' && !t.reserved ? { pipelined: true as const } : {}),
      ...(view ? { view } : {}),
    });
  }

  /**
   * Whether the task's code (its function or actor class, with the functions in its scope) names
   * `nodes`, `clusterResources` or `availableResources`: its run_task then carries the cluster view,
   * so that they answer from a fresh one from the first call. Decided once per function.
   */
  private readsClusterView(spec: TaskEntry['spec']): boolean {
    const fnId = spec.kind === 'actor-method' ? this.d.actors.get(spec.actorId)?.classFnId : spec.fnId;
    if (!fnId) return false;
    let reads = this.viewReaders.get(fnId);
    if (reads === undefined) {
      const fn = this.d.fns.get(fnId);
      reads = fn !== undefined && [fn.source, ...fn.scope.map((e) => (e.kind === 'function' ? e.source : ''))].some((s) => CLUSTER_VIEW_CALLS.test(s));
      this.viewReaders.set(fnId, reads);
    }
    return reads;
  }

  /**
   * Sends a copy of `t` — a straggler copy, or a verified task's replica — to a node other than
   * those running it (or in `tried`), if one has its resources free now (a copy never waits and
   * never pipelines). Returns the copy's node, or undefined when none has room.
   */
  placeCopy(t: TaskEntry, tried?: ReadonlySet<NodeId>): NodeId | undefined {
    // A replicated actor's other replicas are copies of its creation (actor-manager.ts).
    if (t.cancelled || this.d.tasks.stopped || t.spec.kind === 'actor-method' || (t.spec.kind === 'actor-creation' && !tried)) return undefined;
    // A straggler copy of a task with node affinity would run where it must not; a verified task's
    // replicas run on distinct nodes whatever its strategy (the first on its target).
    if (typeof t.spec.strategy === 'object' && !tried) return undefined;
    const busy = new Set<NodeId | null>([t.nodeId, ...(t.copies ?? []).map((c) => c.nodeId), ...(tried ?? [])]);
    // A copy's outcome is believed as any attempt's: it goes first to the coordinator's own node,
    // then to trusted nodes, then to those that have finished the most tasks (a stranger that joined
    // to take copies has none).
    const nodes = this.candidates(t)
      .filter((n) => !busy.has(n.nodeId))
      .sort((a, b) => Number(b.isCoordinator) - Number(a.isCoordinator) || Number(b.trusted) - Number(a.trusted) || b.finished - a.finished);
    const placement = place({ resources: t.spec.resources, strategy: 'DEFAULT', localityBytes: this.localityOf(t) }, nodes, this.spread);
    if (placement.kind !== 'node') return undefined;
    this.dispatch(this.copyOf(t), this.d.nodes.get(placement.nodeId)!, true);
    return placement.nodeId;
  }

  /**
   * Sends a call of a replicated actor to one of its other replicas, on `node`: an attempt of the
   * call like a verified task's replica (actor calls hold no resources of their own).
   */
  sendReplicaCall(t: TaskEntry, node: NodeState): void {
    const copy = this.copyOf(t);
    copy.attempt = ++t.dispatches;
    copy.dispatchedAtMs = nowMs();
    copy.state = 'SUBMITTED_TO_WORKER';
    copy.nodeId = node.nodeId;
    copy.reserved = false;
    node.running.add(t.spec.taskId);
    this.sendTask(node, copy);
  }

  /** A new attempt of `t`, listed among its copies (a straggler copy, or a replica). */
  private copyOf(t: TaskEntry): TaskEntry {
    const copy: TaskEntry = {
      ...t,
      copyOf: t,
      copies: undefined,
      children: undefined,
      deadline: undefined,
      argsHeld: false,
      schedClass: undefined,
      workerId: null,
      startedAtMs: null,
    };
    (t.copies ??= []).push(copy);
    return copy;
  }

  /** Stops an attempt still out on its node (its worker terminated) and frees what it holds there. */
  stopAttempt(a: TaskEntry): void {
    disarm(a);
    const node = a.nodeId ? this.d.nodes.get(a.nodeId) : undefined;
    if (node?.alive && node.running.has(a.spec.taskId) && (a.state === 'SUBMITTED_TO_WORKER' || a.state === 'RUNNING')) {
      // An actor call is never forced: its worker is the actor's (as ray.cancel of an actor call).
      node.link.send({ type: 'cancel_task', taskId: a.spec.taskId, force: a.spec.kind !== 'actor-method' });
    }
    this.release(a);
  }

  /** Stops every straggler copy of the task. */
  dropCopies(t: TaskEntry): void {
    const copies = t.copies;
    t.copies = undefined;
    for (const c of copies ?? []) this.stopAttempt(c);
  }

  /** Stops one straggler copy (it failed, its node left, or it sent what cannot be taken). */
  dropCopy(copy: TaskEntry): void {
    detachCopy(copy);
    this.stopAttempt(copy);
  }

  /** Frees what a finished task held on its node. */
  release(t: TaskEntry): void {
    const node = t.nodeId ? this.d.nodes.get(t.nodeId) : undefined;
    if (!node) return;
    // Once per dispatch: TaskManager.done, its retry path and TaskTable.failTask may each call this for one task.
    if (!node.running.delete(t.spec.taskId)) return;
    this.leaveClass(t);
    if (t.spec.kind === 'actor-creation') return; // the actor keeps its resources
    if (t.reserved) {
      let res = t.spec.resources;
      if (t.blocked && res.CPU) {
        const { CPU: _cpu, ...rest } = res;
        res = rest;
      }
      this.d.nodes.giveBack(node, res);
    } else if (t.spec.kind === 'normal' && node.pipelined > 0) {
      // Only normal tasks are pipelined; actor calls hold nothing on their node.
      this.d.nodes.pipeline(node, -1);
    }
    t.reserved = false;
    t.waitingForWorker = false;
  }

  /**
   * Pipelined tasks waiting on a node without a worker (none of their shape free to queue behind,
   * or the task ahead of them blocked): first in line for the node's resources, since a blocked
   * task there may be waiting for them.
   */
  onWaiting(nodeId: NodeId, taskIds: readonly TaskId[]): void {
    const node = this.d.nodes.get(nodeId);
    if (!node) return;
    for (const id of taskIds) {
      const t = this.d.tasks.get(id);
      if (!t || t.waitingForWorker || t.nodeId !== nodeId || t.reserved || t.spec.kind !== 'normal' || !node.running.has(id)) continue;
      t.waitingForWorker = true;
      let q = this.waitingForWorker.get(nodeId);
      if (!q) this.waitingForWorker.set(nodeId, (q = []));
      q.push(t);
    }
    this.drain();
  }

  /** Gives the tasks waiting on the node for a worker resources of their own, in order, while they fit. */
  private startWaiting(nodeId: NodeId, q: TaskEntry[]): void {
    const node = this.d.nodes.get(nodeId);
    let i = 0;
    for (; i < q.length && node?.alive; i++) {
      const t = q[i]!;
      if (!t.waitingForWorker || t.nodeId !== nodeId) continue; // it ended, started, or moved on
      if (!fits(t.spec.resources, node.available)) break;
      this.d.nodes.take(node, t.spec.resources);
      t.reserved = true;
      t.waitingForWorker = false;
      this.d.nodes.pipeline(node, -1);
      node.link.send({ type: 'start_task', taskId: t.spec.taskId });
    }
    if (i >= q.length || !node?.alive) this.waitingForWorker.delete(nodeId);
    else if (i > 0) q.splice(0, i);
  }

  /** The task no longer counts in its scheduling class (it ended, or its actor let go of its node). */
  leaveClass(t: TaskEntry): void {
    const cls = t.schedClass;
    if (cls === undefined) return;
    t.schedClass = undefined;
    const n = (this.activeByClass.get(cls) ?? 1) - 1;
    if (n > 0) this.activeByClass.set(cls, n);
    else this.activeByClass.delete(cls);
  }

  /** A task blocked in ray.get lends its CPU back, so nested tasks can run (Ray's NotifyDirectCallTaskBlocked). */
  onBlocked(from: NodeId, taskId: TaskId, blocked: boolean): void {
    const t = this.d.tasks.attemptOn(taskId, from);
    if (!t || !t.reserved || t.blocked === blocked) return;
    const node = t.nodeId ? this.d.nodes.get(t.nodeId) : undefined;
    const cpu = t.spec.kind === 'actor-method' ? 0 : t.spec.resources.CPU ?? 0;
    t.blocked = blocked;
    if (!node || cpu === 0) return;
    if (blocked) {
      this.d.nodes.lendCpu(node, cpu);
      this.drain();
    } else {
      this.d.nodes.lendCpu(node, -cpu);
    }
  }

  /** Ray's SchedulingClass: the function, its resources and its strategy. */
  private classKey(t: TaskEntry): string {
    // Calls of one remote function share their resources object: the last key usually fits.
    const last = this.lastClass;
    const fnId = functionIdOf(t.spec);
    if (last && last.fnId === fnId && last.strategy === t.spec.strategy && last.resources === t.spec.resources) return last.key;
    const key = computeClassKey(t);
    this.lastClass = { fnId, strategy: t.spec.strategy, resources: t.spec.resources, key };
    return key;
  }

  /** Bytes of the task's ObjectRef arguments held in each node's store. */
  private localityOf(t: TaskEntry): Map<NodeId, number> | undefined {
    let out: Map<NodeId, number> | undefined;
    for (const arg of t.spec.args) {
      if (arg.kind !== 'ref') continue;
      const e = this.d.objects.get(arg.id);
      if (!e || e.obj || e.locations.size === 0) continue;
      out ??= new Map();
      for (const n of e.locations) out.set(n, (out.get(n) ?? 0) + e.size);
    }
    return out;
  }

  /**
   * Short tasks may queue at a busy node so its workers never wait for the next one. A retry never
   * does: it waits for a worker of its own rather than queue behind a task that may take its
   * worker down with it again (its last attempt's worker died).
   */
  private tryPipeline(t: TaskEntry, feasible: readonly NodeId[] | undefined): boolean {
    if (t.spec.kind !== 'normal' || t.spec.strategy === 'SPREAD' || t.attempt > 0) return false;
    if (!this.durations.isShort(t.spec.fnId)) return false;
    // The least pipelined of the feasible nodes with room (the first, on a tie); the index's answer when none are named.
    let best: NodeState | undefined;
    if (feasible) {
      for (const id of feasible) {
        const n = this.d.nodes.get(id)!;
        if (n.pipelined >= pipelineCap(n)) continue;
        if (!best || n.pipelined < best.pipelined) best = n;
      }
    } else {
      best = this.d.nodes.leastPipelined(t.spec.resources, t.submittedBy === undefined ? 'any' : 'volunteers');
    }
    if (!best) return false;
    this.dispatch(t, best, false);
    return true;
  }

  /** Sends the task to `node`, holding its resources there (`reserve`) or pipelined behind others. */
  private dispatch(t: TaskEntry, node: NodeState, reserve: boolean): void {
    const spec = t.spec;
    const task = t.copyOf ?? t;
    t.attempt = ++task.dispatches;
    t.dispatchedAtMs = nowMs();
    t.state = 'SUBMITTED_TO_WORKER';
    t.nodeId = node.nodeId;
    t.reserved = reserve;
    t.waitingForWorker = false;
    t.blocked = false;
    if (reserve) this.d.nodes.take(node, spec.kind === 'actor-creation' ? spec.heldResources ?? {} : spec.resources);
    else this.d.nodes.pipeline(node, 1);
    if (spec.kind === 'actor-creation') {
      // A replicated actor's other replicas hold their nodes' resources as its `others`.
      const a = this.d.actors.get(spec.actorId);
      if (a && t.copyOf) a.replication?.others.set(node.nodeId, 'creating');
      else if (a) a.holding = node.nodeId;
    }
    node.running.add(spec.taskId);
    const cls = (t.schedClass = this.classKey(t));
    this.activeByClass.set(cls, (this.activeByClass.get(cls) ?? 0) + 1);
    this.d.sending?.(t, node);
    this.sendTask(node, t);
    this.d.dispatched?.(t);
    if (node.grants && spec.kind === 'normal') this.stragglers.watch();
  }

  /** Stops the scheduler's timers (the session is over). */
  close(): void {
    this.stragglers.close();
  }
}

function computeClassKey(t: TaskEntry): string {
  const s = t.spec.strategy;
  const strat = typeof s === 'string' ? s : `${s.nodeId}/${s.soft}`;
  let key = `${functionIdOf(t.spec) ?? ''}|${strat}`;
  for (const k of Object.keys(t.spec.resources).sort()) key += `|${k}:${t.spec.resources[k]}`;
  return key;
}
