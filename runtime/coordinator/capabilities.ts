// What a volunteer node may do (the capability model, issue 9). The driver and the coordinator's
// own node have every power and are never checked. A volunteer node may only
//  - report on what the coordinator gave it: progress, results and items of the tasks assigned to
//    it (their current attempt, their own return ids), the death of actors placed on it, copies of
//    objects it was told to pull, and fresh objects its workers put;
//  - act on behalf of a task running on it (`client_request` names that task), with the refs of
//    its own workers, cancelling and killing only what its tasks started.
// Listing the cluster (`tasks`, `timeline`) is the driver's; `clusterView` answers with the
// cluster's totals and the node's own entry only. Each message gets a verdict: ok, stale (a late
// but honest report about something the node once had: dropped quietly) or refused (a strike,
// unless honest task code can cause it; request-handlers.ts answers, logs and counts it).

import { functionIdOf } from '../protocol/task-spec.ts';
import { returnId, taskIdOf, type ActorId, type FunctionId, type HolderId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { ClientRequest } from '../protocol/client-requests.ts';
import type { NodeToCoordinator, RefUpdate, TaskResult } from '../protocol/node-messages.ts';
import { hosts, type ActorDirectory } from './actor-directory.ts';
import type { GeneratorStreams } from './generator-streams.ts';
import type { NodeGrants, NodeState } from './node-manager.ts';
import type { ObjectDirectory } from './object-directory.ts';
import type { TaskEntry } from './task-entry.ts';
import type { TaskTable } from './task-table.ts';

export type Verdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'stale' }
  | {
      readonly kind: 'refused';
      readonly reason: string;
      /** Counted against the node (false where honest task code could cause it). */
      readonly strike: boolean;
      /** A task whose current attempt sent it: that attempt fails (retried), so it never waits forever. */
      readonly abandon?: TaskEntry;
    };

const OK: Verdict = { kind: 'ok' };
const STALE: Verdict = { kind: 'stale' };
const refused = (reason: string, strike = true, abandon?: TaskEntry): Verdict => ({ kind: 'refused', reason, strike, ...(abandon ? { abandon } : {}) });

/** Holder names only the coordinator's side uses: the driver, actors' creation results, streams, nodes. */
function reservedHolder(holder: string): boolean {
  return holder === 'driver' || holder.startsWith('actor:') || holder.startsWith('gen:') || holder.startsWith('node:');
}

type ClientRequestMsg = Extract<NodeToCoordinator, { type: 'client_request' }>;

export interface CapabilitiesDeps {
  readonly tasks: TaskTable;
  readonly objects: ObjectDirectory;
  readonly actors: ActorDirectory;
  readonly generators: GeneratorStreams;
  /** Whether a holder (a worker) has a ref to the object, per the reference table. */
  readonly holds: (holder: HolderId, id: ObjectId) => boolean;
  /** The objects a holder has refs to, per the reference table. */
  readonly heldBy: (holder: HolderId) => Iterable<ObjectId>;
  /** Refs in the `scope` of a registered function (shipped with its code). */
  readonly scopeRefs: (fnId: FunctionId) => readonly ObjectId[];
}

export class Capabilities {
  /** Which node each holder (a worker) belongs to, from the first message that named it. */
  private readonly holderNodes = new Map<string, NodeId>();

  constructor(private readonly d: CapabilitiesDeps) {}

  /** The node left: the worker names it used are forgotten. */
  nodeLeft(nodeId: NodeId): void {
    for (const [holder, owner] of this.holderNodes) if (owner === nodeId) this.holderNodes.delete(holder);
  }

  /** How many worker names are attributed to `nodeId` (tests). */
  holdersOf(nodeId: NodeId): number {
    let n = 0;
    for (const owner of this.holderNodes.values()) if (owner === nodeId) n++;
    return n;
  }

  /** The verdict on a message from volunteer node `node` (whose grants are `g`). */
  check(node: NodeState, g: NodeGrants, msg: NodeToCoordinator): Verdict {
    const from = node.nodeId;
    switch (msg.type) {
      case 'task_started':
      case 'task_blocked':
      case 'task_unblocked':
        return this.assigned(from, g, msg.taskId, undefined);
      case 'tasks_waiting':
        for (const id of msg.taskIds) {
          const v = this.assigned(from, g, id, undefined);
          if (v.kind === 'refused') return v;
        }
        return OK; // the scheduler takes only those still pipelined on this node
      case 'task_done': {
        // Its last word on this run: later reports about the task are forged, unless it runs again.
        const sent = g.sentTasks.get(msg.taskId);
        const v = this.assigned(from, g, msg.taskId, msg.attempt);
        if (sent !== undefined) {
          if (sent > 1) g.sentTasks.set(msg.taskId, sent - 1);
          else g.sentTasks.delete(msg.taskId);
        }
        if (v.kind !== 'ok' || msg.error) return v;
        return this.results(this.d.tasks.attemptOn(msg.taskId, from)!, msg.results);
      }
      case 'generator_item': {
        const v = this.assigned(from, g, msg.taskId, msg.attempt);
        if (v.kind !== 'ok') return v;
        const t = this.d.tasks.get(msg.taskId)!;
        const next = this.d.generators.nextIndex(msg.taskId);
        if (t.spec.numReturns !== 'streaming') return refused(`generator_item for task ${msg.taskId}, which is not a streaming task`, true, t);
        if (next === undefined || msg.index < next) return STALE; // ended, or a retry repeating items
        if (msg.index > next) return refused(`generator_item ${msg.index} of task ${msg.taskId} skips item ${next}`, true, t);
        if (msg.result.id !== returnId(msg.taskId, msg.index)) return refused(`generator_item ${msg.index} of task ${msg.taskId} names object ${msg.result.id}, not its own item id`, true, t);
        return OK;
      }
      case 'actor_died': {
        const a = this.d.actors.get(msg.actorId);
        if (a && hosts(a, from)) return OK;
        return g.hostedActors.has(msg.actorId) ? STALE : refused(`actor_died for actor ${msg.actorId}, which was never placed on this node`);
      }
      case 'object_put':
        return msg.holder === undefined ? refused(`object_put of ${msg.id} names no worker`) : this.holder(from, msg.holder) ?? this.freshPut(msg.id);
      case 'object_located':
        if (g.expectedObjects.delete(msg.id)) return OK;
        // A copy of an object freed meanwhile is freed there too (not listed as a source); a failure
        // only wakes this node's own waits.
        if (msg.failed || !this.d.objects.get(msg.id)) return msg.failed ? STALE : OK;
        return refused(`object_located for object ${msg.id}, which this node was never told to pull`);
      case 'refs': {
        const v = this.holder(from, msg.holder) ?? this.generatorsDropped(from, msg);
        return v.kind === 'ok' && msg.add && msg.add.length > 0 ? this.adds(g, msg.holder, msg.add) : v;
      }
      case 'client_request':
        return this.request(from, g, msg);
      case 'node_stats':
        return OK;
    }
  }

  /** The task is assigned to `from` (in this attempt); stale when it was sent there and moved on. */
  private assigned(from: NodeId, g: NodeGrants, taskId: TaskId, attempt: number | undefined): Verdict {
    // The task's own attempt, or a straggler copy of it, on this node.
    const t = this.d.tasks.attemptOn(taskId, from);
    if (t && (attempt === undefined || t.attempt === attempt)) return OK;
    // Sent here once and not reported done: the coordinator moved on (cancelled, killed, retried).
    if (g.sentTasks.has(taskId)) return STALE;
    return refused(`a report on task ${taskId}, which is not assigned to this node${t ? ` in attempt ${attempt}` : ''}`);
  }

  /** A successful task_done must carry exactly the task's own return ids, in order. */
  private results(t: TaskEntry, results: readonly TaskResult[] | undefined): Verdict {
    const spec = t.spec;
    if (spec.kind === 'actor-creation') return OK; // its results are not taken
    const n = spec.numReturns === 'streaming' ? 0 : spec.numReturns;
    const got = results?.length ?? 0;
    if (got !== n) return refused(`task_done of task ${spec.taskId} carries ${got} results, the task has ${n} returns`, true, t);
    for (let i = 0; i < n; i++) {
      const id = results![i]!.id;
      if (id !== returnId(spec.taskId, i)) return refused(`task_done of task ${spec.taskId} names object ${id} as return ${i}, not the task's own return id`, true, t);
    }
    return OK;
  }

  /**
   * A message from the coordinator's own node (never judged): the worker holder it names is claimed
   * for that node, so that no volunteer that learns the name (a spec's callerId) may act for it.
   */
  claimOwn(from: NodeId, msg: NodeToCoordinator): void {
    const h = msg.type === 'refs' || msg.type === 'object_put' || msg.type === 'client_request' ? msg.holder : undefined;
    if (h !== undefined && !reservedHolder(h) && !this.holderNodes.has(h)) this.holderNodes.set(h, from);
  }

  /** A holder named by `from` must be one of its own workers: never the driver's or another node's. */
  private holder(from: NodeId, holder: string): Verdict | undefined {
    if (reservedHolder(holder)) return refused(`refs or objects attributed to holder "${holder}", which is not a worker of this node`);
    const owner = this.holderNodes.get(holder);
    if (owner === undefined) this.holderNodes.set(holder, from);
    else if (owner !== from) return refused(`refs or objects attributed to worker ${holder} of another node`);
    return undefined;
  }

  /** An object a volunteer puts: a new id, never an existing object's nor a task's return id. */
  private freshPut(id: ObjectId): Verdict {
    if (taskIdOf(id) !== undefined) return refused(`a put under ${id}, which has the form of a task's return id`);
    if (this.d.objects.get(id)) return refused(`a put under ${id}, which names an existing object (objects are never overwritten)`);
    return OK;
  }

  private generatorsDropped(from: NodeId, u: RefUpdate): Verdict {
    for (const taskId of u.generators ?? []) {
      if (this.d.generators.has(taskId) && this.d.generators.ownerOf(taskId) !== from) {
        return refused(`dropping the stream of task ${taskId}, which no task of this node started`);
      }
    }
    return OK;
  }

  /** A request from task code: on behalf of a task running on this node, within its powers. */
  private request(from: NodeId, g: NodeGrants, msg: ClientRequestMsg): Verdict {
    const req = msg.req;
    if (req.type === 'tasks' || req.type === 'timeline') {
      // Honest task code may ask: an error, not a strike.
      return refused(`ray.${req.type}() lists the whole cluster, which is the driver's power: task code on a volunteer node cannot list tasks`, false);
    }
    // An actor's creation task stands for the actor's code wherever a replica of it runs.
    const running = msg.taskId === null ? undefined : this.d.tasks.attemptOn(msg.taskId, from) ?? this.d.tasks.get(msg.taskId);
    if (!running || !this.runsOn(running, from)) {
      const why = msg.taskId === null ? 'names no task' : `names task ${msg.taskId}, which is not running on this node`;
      // Sent here and not yet reported done: the coordinator moved on (another attempt won, it was
      // cancelled or timed out) while the code was still asking. Refused, not a strike.
      const late = msg.taskId !== null && g.sentTasks.has(msg.taskId);
      return refused(`a ${req.type} request that ${why}: task code may act only on behalf of a task running on its node`, !late);
    }
    if (msg.holder !== undefined) {
      const v = this.holder(from, msg.holder);
      if (v) return v;
    }
    return this.operation(from, msg.taskId!, msg.holder, req);
  }

  private runsOn(t: TaskEntry, from: NodeId): boolean {
    if (t.nodeId === from && (t.state === 'SUBMITTED_TO_WORKER' || t.state === 'RUNNING')) return true;
    // An actor's creation task stays in the table while the actor lives: code of the actor runs on
    // its node (on each of its replicas' nodes).
    if (t.spec.kind !== 'actor-creation' || !t.spec.actorId) return false;
    const a = this.d.actors.get(t.spec.actorId);
    return a !== undefined && a.state === 'ALIVE' && hosts(a, from);
  }

  private operation(from: NodeId, taskId: TaskId, holder: HolderId | undefined, req: Exclude<ClientRequest, { type: 'tasks' | 'timeline' }>): Verdict {
    switch (req.type) {
      case 'submit': {
        const spec = req.spec;
        if (spec.parentTaskId !== taskId) return refused(`a submit of task ${spec.taskId} whose parent is ${spec.parentTaskId}, not the requesting task ${taskId}`);
        if (holder === undefined || spec.callerId !== holder) return refused(`a submit of task ${spec.taskId} on behalf of caller ${spec.callerId}, not the requesting worker`);
        if (this.d.tasks.has(spec.taskId) || this.d.generators.has(spec.taskId) || this.d.objects.get(returnId(spec.taskId, 0))) {
          return refused(`a submit reusing the id of task ${spec.taskId} (task ids are never reused)`);
        }
        if (spec.kind === 'actor-creation' && (!spec.actorId || this.d.actors.get(spec.actorId))) return refused(`an actor creation reusing actor id ${spec.actorId}`);
        return OK;
      }
      case 'put':
        return holder === undefined ? refused(`a put of ${req.id} that names no worker`) : this.freshPut(req.id);
      case 'cancel': {
        const target = this.d.generators.has(req.id as unknown as TaskId) ? (req.id as unknown as TaskId) : taskIdOf(req.id);
        const t = target ? this.d.tasks.get(target) : undefined;
        if (t && t.submittedBy !== from) return refused(`cancelling task ${target}, which no task of this node submitted`);
        return OK;
      }
      case 'kill':
        return this.mayKill(from, req.actorId);
      case 'get':
      case 'wait':
        return this.mayName(holder, req.type, req.ids);
      case 'generatorNext': {
        const owner = this.d.generators.ownerOf(req.taskId);
        // An ended stream answers "done" to anyone; a live one only to the node whose task started it.
        if (owner !== undefined && owner !== from) return refused(`reading the stream of task ${req.taskId}, which no task of this node started`, false);
        return OK;
      }
      case 'register':
      case 'getActor':
      case 'clusterView':
        return OK;
    }
  }

  /**
   * `get`/`wait` only of objects the requesting worker holds refs to, per the reference table: its
   * tasks' arguments and the refs nested in them, returns of what it submitted, its puts, stream
   * items it took (a worker reports the refs it gains before any other message, and `adds` checks
   * those it says it received inside values). Not a strike:
   * a ref the worker just dropped can race its request.
   */
  private mayName(holder: HolderId | undefined, op: 'get' | 'wait', ids: readonly ObjectId[]): Verdict {
    for (const id of ids) {
      if (holder === undefined || !this.d.holds(holder, id)) {
        return refused(`ray.${op}() of object ${id}, which this task was never given: task code on a volunteer may ${op} only objects it holds refs to (its arguments, what it put or submitted, refs nested in those)`, false);
      }
    }
    return OK;
  }

  /**
   * A worker's `refs.add` of refs it was not handed by the coordinator (registered: what it put or
   * submitted, stream items it took) names refs that arrived inside a value it received: nested in
   * an argument of a task sent to its node, in the scope of such a task's function, or nested in
   * an object it holds (a `get` result). Anything else is an id it made up (`new ObjectRef(id)`),
   * so holding it would let it `get` objects it was never given. Not a strike: task code can do it.
   */
  private adds(g: NodeGrants, holder: HolderId, add: readonly ObjectId[]): Verdict {
    let reachable: Set<ObjectId> | undefined;
    for (const id of add) {
      if (this.d.holds(holder, id)) continue;
      reachable ??= this.reachable(g, holder);
      if (!reachable.has(id)) {
        return refused(`a ref to object ${id}, which this worker was never given (refs are received inside values, never made from ids)`, false);
      }
    }
    return OK;
  }

  /** The ids that may arrive inside values at `holder`'s worker on the node whose grants are `g`. */
  private reachable(g: NodeGrants, holder: HolderId): Set<ObjectId> {
    const out = new Set<ObjectId>();
    const nestedIn = (id: ObjectId): void => {
      for (const r of this.d.objects.get(id)?.refs ?? []) out.add(r);
    };
    for (const taskId of g.sentTasks.keys()) {
      const spec = this.d.tasks.get(taskId)?.spec;
      if (!spec) continue;
      for (const a of spec.args) {
        if (a.kind === 'ref') nestedIn(a.id);
        else for (const r of a.obj.refs ?? []) out.add(r);
      }
      const fnId = functionIdOf(spec);
      if (fnId) for (const r of this.d.scopeRefs(fnId)) out.add(r);
    }
    for (const id of this.d.heldBy(holder)) nestedIn(id);
    return out;
  }

  private mayKill(from: NodeId, actorId: ActorId): Verdict {
    const a = this.d.actors.get(actorId);
    if (!a || a.state === 'DEAD') return OK; // nothing to kill
    if (this.d.tasks.get(a.creationTaskId)?.submittedBy === from) return OK;
    return refused(`killing actor ${actorId}, which no task of this node created`);
  }
}
