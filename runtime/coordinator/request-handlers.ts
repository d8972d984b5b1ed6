// The coordinator's message handlers (Ray's GCS service handlers): every message a node sends —
// task progress, objects, refs, stats — and every request task code makes through its node
// (`client_request`: submit, put, get, wait, cancel, kill, ...), each turned into a call on the
// part that owns it and, for requests, answered with a `client_reply`. A volunteer node's messages
// are first judged by `capabilities.ts`: a refused one is answered (requests) and logged, nothing in
// it is kept, and it is a strike; at VOLUNTEER_STRIKE_LIMIT the node is dropped as if it had left.

import { wireError } from '../api/errors.ts';
import type { ClientRequest } from '../protocol/client-requests.ts';
import { DRIVER_HOLDER, holderOfNode, type HolderId, type NodeId } from '../protocol/ids.ts';
import type { Logger } from '../common/logger.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { ActorManager } from './actor-manager.ts';
import type { Capabilities } from './capabilities.ts';
import type { ClusterScheduler } from './cluster-scheduler.ts';
import { VOLUNTEER_STRIKE_LIMIT } from './constants.ts';
import { expectObject, type NodeManager, type NodeState } from './node-manager.ts';
import type { ObjectDirectory } from './object-directory.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import type { ObjectWaits } from './object-waits.ts';
import type { TaskManager } from './task-manager.ts';
import type { TaskTable } from './task-table.ts';

export interface RequestHandlersDeps {
  readonly nodes: NodeManager;
  readonly tasks: TaskTable;
  readonly taskManager: TaskManager;
  readonly scheduler: ClusterScheduler;
  readonly actorManager: ActorManager;
  readonly objects: ObjectDirectory;
  readonly lifetimes: ObjectLifetimes;
  readonly waits: ObjectWaits;
  readonly capabilities: Capabilities;
  /** The coordinator's own node: it has every power. */
  readonly selfId: NodeId;
  /** Drops a node as if it had left (its link closed, its tasks retried elsewhere). */
  readonly evict: (node: NodeId, reason: string) => void;
  readonly log: Logger;
}

type ClientReply = (ok: boolean, value: unknown) => void;

export class RequestHandlers {
  constructor(private readonly d: RequestHandlersDeps) {}

  /** A message from node `from`; `reply` answers its client requests (default: over its link). */
  handleNodeMessage(from: NodeId, msg: NodeToCoordinator, reply?: (m: CoordinatorToNode) => void): void {
    const node = from === this.d.selfId ? undefined : this.d.nodes.get(from);
    if (node && !node.isCoordinator) {
      // A volunteer: only what it may do (capabilities.ts); nothing from a node that was dropped.
      if (!node.alive || !node.grants) return;
      const v = this.d.capabilities.check(node, node.grants, msg);
      if (v.kind === 'stale') return;
      if (v.kind === 'refused') return this.refuse(node, msg, v.reason, v.strike, v.abandon, reply);
    }
    switch (msg.type) {
      case 'task_started':
        this.d.taskManager.started(from, msg);
        return;
      case 'task_done':
        this.d.taskManager.done(from, msg);
        return;
      case 'generator_item':
        this.d.taskManager.generatorItem(from, msg.taskId, msg.attempt, msg.index, msg.result);
        return;
      case 'actor_died':
        this.d.actorManager.reportedDead(from, msg.actorId, msg.error);
        return;
      case 'task_blocked':
      case 'task_unblocked':
        this.d.scheduler.onBlocked(msg.taskId, msg.type === 'task_blocked');
        return;
      case 'tasks_waiting':
        this.d.scheduler.onWaiting(from, msg.taskIds);
        return;
      case 'object_put':
        this.d.lifetimes.put(msg.id, msg.size, msg.obj, from, msg.holder ?? DRIVER_HOLDER, from, msg.refs);
        return;
      case 'refs':
        if (!this.d.tasks.stopped) this.d.lifetimes.update(msg.holder, from, msg);
        return;
      case 'object_located':
        if (!msg.failed) this.d.lifetimes.located(msg.id, from);
        this.d.waits.located(from, msg.id, !msg.failed);
        return;
      case 'client_request': {
        const send = reply ?? ((m: CoordinatorToNode) => this.d.nodes.get(from)?.link.send(m));
        this.handleClientRequest(from, msg.holder, msg.req, (ok, value) => {
          // reqId -1: fire and forget (a nested submit, register or cancel): nobody waits for a
          // success, so none is sent; a failure still goes back for the node to log.
          if (ok && msg.reqId < 0) return;
          send(
            ok
              ? { type: 'client_reply', reqId: msg.reqId, ok: true, value }
              : { type: 'client_reply', reqId: msg.reqId, ok: false, error: value as WireError },
          );
        });
        return;
      }
      case 'node_stats':
        this.d.nodes.setStats(from, { memoryBytes: msg.memoryBytes, spilledBytes: msg.spilledBytes, objects: msg.objects, budgetBytes: msg.budgetBytes ?? 0 });
        return;
      default:
        assertNever(msg);
    }
  }

  /** Answers (requests), logs and counts a refused message; drops the node at the strike limit. */
  private refuse(
    node: NodeState,
    msg: NodeToCoordinator,
    reason: string,
    strike: boolean,
    abandon: Parameters<TaskManager['abandonAttempt']>[0] | undefined,
    reply: ((m: CoordinatorToNode) => void) | undefined,
  ): void {
    const g = node.grants!;
    if (strike) g.strikes++;
    const what = `refused ${msg.type}${msg.type === 'client_request' ? ` ${msg.req.type}` : ''} from node ${node.nodeId}: ${reason}`;
    this.d.log.warn(strike ? `${what} (strike ${g.strikes} of ${VOLUNTEER_STRIKE_LIMIT})` : what);
    if (msg.type === 'client_request') {
      const error: WireError = { name: 'PermissionError', message: `webray refused this request: ${reason}` };
      (reply ?? ((m: CoordinatorToNode) => node.link.send(m)))({ type: 'client_reply', reqId: msg.reqId, ok: false, error });
    }
    if (abandon) {
      this.d.taskManager.abandonAttempt(
        abandon,
        wireError('RaySystemError', `node ${node.nodeId} sent a malformed report for task ${abandon.spec.name} (${reason}); the attempt is retried`, { nodeId: node.nodeId }),
      );
    }
    if (strike && g.strikes >= VOLUNTEER_STRIKE_LIMIT && node.alive) {
      this.d.evict(node.nodeId, `it sent ${g.strikes} refused messages (the last: ${reason})`);
    }
  }

  /** A call task code made (`holder`: the worker holding the refs it gets), answered through `reply`. */
  private handleClientRequest(from: NodeId, holder: HolderId | undefined, req: ClientRequest, reply: ClientReply): void {
    try {
      switch (req.type) {
        case 'register':
          this.d.taskManager.registerFunction(req.desc);
          return reply(true, null);
        case 'submit':
          this.d.taskManager.submit(req.spec, from, true);
          return reply(true, null);
        case 'put':
          this.d.lifetimes.put(req.id, req.obj.size, req.obj, from, holder ?? DRIVER_HOLDER, from);
          return reply(true, null);
        case 'get':
          void this.d.waits.wait(req.ids, req.ids.length, req.timeoutMs, undefined, true).then((ready) => {
            const failed = ready.length < req.ids.length ? this.d.waits.firstError(req.ids) : undefined;
            if (failed) {
              reply(false, failed);
              return;
            }
            if (ready.length < req.ids.length) {
              reply(false, wireError('GetTimeoutError', `ray.get timed out after ${req.timeoutMs} ms; the task keeps running`));
              return;
            }
            const resolved = req.ids.map((id) => this.d.objects.resolvedArg(id));
            const g = this.d.nodes.get(from)?.grants;
            if (g) for (const r of resolved) if (r.kind === 'located') expectObject(g, r.id);
            this.d.nodes.grantPulls(from, resolved);
            reply(true, resolved);
          });
          return;
        case 'wait':
          void this.d.waits.wait(req.ids, req.numReturns, req.timeoutMs, req.fetchLocal ? from : undefined).then((ready) => reply(true, ready));
          return;
        case 'cancel':
          this.d.taskManager.cancel(req.id, req.force, req.recursive);
          return reply(true, null);
        case 'kill':
          this.d.actorManager.kill(req.actorId, req.noRestart);
          return reply(true, null);
        case 'getActor': {
          const info = this.d.actorManager.byName(req.name);
          if (info) return reply(true, info);
          return reply(false, { name: 'Error', message: `no live actor is named "${req.name}"` });
        }
        case 'generatorNext':
          void this.d.taskManager.generatorNext(req.taskId, req.index, holder ?? holderOfNode(from), from).then((item) => reply(true, item));
          return;
        case 'tasks':
          return reply(true, this.d.tasks.infos(req.state));
        case 'timeline':
          return reply(true, this.d.tasks.timeline());
        case 'clusterView': {
          // Task code on a volunteer sees the cluster's totals and its own node, not the others.
          const volunteer = from !== this.d.selfId && this.d.nodes.get(from)?.isCoordinator === false;
          const nodes = this.d.nodes.infos();
          return reply(true, {
            nodes: volunteer ? nodes.filter((n) => n.nodeId === from) : nodes,
            total: this.d.nodes.clusterResources(),
            available: this.d.nodes.availableResources(),
          });
        }
        default:
          assertNever(req);
      }
    } catch (e) {
      reply(false, { name: (e as Error).name ?? 'Error', message: (e as Error).message ?? String(e) });
    }
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
