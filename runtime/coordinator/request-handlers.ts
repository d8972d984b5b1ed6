// The coordinator's message handlers (Ray's GCS service handlers): every message a node sends —
// task progress, objects, refs, stats — and every request task code makes through its node
// (`client_request`: submit, put, get, wait, cancel, kill, ...), each turned into a call on the
// part that owns it and, for requests, answered with a `client_reply` by the handler of that
// request (client-handlers.ts, typed per request). A volunteer node's messages
// are first judged by `capabilities.ts`: a refused one is answered (requests) and logged, nothing in
// it is kept, and it is a strike; at VOLUNTEER_STRIKE_LIMIT the node is dropped as if it had left.

import { wireError } from '../api/errors.ts';
import type { Logger } from '../common/logger.ts';
import { answerNow, type RpcHandlers } from '../common/rpc.ts';
import { DRIVER_HOLDER, type HolderId, type NodeId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { Capabilities } from './capabilities.ts';
import { clientHandlers, replyError, type ClientHandlersDeps, type CoordinatorHandlers, type CoordinatorService } from './client-handlers.ts';
import type { ClusterScheduler } from './cluster-scheduler.ts';
import { VOLUNTEER_STRIKE_LIMIT } from './constants.ts';
import type { NodeState } from './node-manager.ts';
import { RequestRateLimit } from './request-rate-limit.ts';
import type { TaskManager } from './task-manager.ts';

export interface RequestHandlersDeps extends ClientHandlersDeps {
  readonly scheduler: ClusterScheduler;
  readonly capabilities: Capabilities;
  /** Drops a node as if it had left (its link closed, its tasks retried elsewhere). */
  readonly evict: (node: NodeId, reason: string) => void;
  readonly log: Logger;
}

export class RequestHandlers {
  /** Requests per volunteer node (request-rate-limit.ts). */
  readonly rateLimit = new RequestRateLimit<NodeState>();

  constructor(private readonly d: RequestHandlersDeps) {}

  /** A message from node `from`; `reply` answers its client requests (default: over its link). */
  handleNodeMessage(from: NodeId, msg: NodeToCoordinator, reply?: (m: CoordinatorToNode) => void): void {
    const node = from === this.d.selfId ? undefined : this.d.nodes.get(from);
    if (!node || node.isCoordinator) this.d.capabilities.claimOwn(from, msg);
    else {
      // A volunteer: only what it may do (capabilities.ts); nothing from a node that was dropped.
      if (!node.alive || !node.grants) return;
      const v = this.d.capabilities.check(node, node.grants, msg);
      if (v.kind === 'stale') {
        if (msg.type === 'task_done') this.d.taskManager.staleDone(from, msg);
        return;
      }
      if (v.kind === 'refused') return this.refuse(node, msg, v.reason, v.strike, v.abandon, reply);
      if (msg.type === 'client_request') {
        const rate = this.rateLimit.take(node);
        if (rate === 'flood') return this.refuse(node, msg, this.rateLimit.describe(rate), true, undefined, reply, 'RateLimitError');
        if (rate === 'limited') {
          // Refused, not a strike; logged once per run of refusals, not for each.
          const reason = this.rateLimit.describe(rate);
          if (this.rateLimit.refusedInARow(node) === 1) this.d.log.warn(`refusing client requests from node ${node.nodeId} until it slows down: ${reason}`);
          const error: WireError = { name: 'RateLimitError', message: `webray refused this request: ${reason}` };
          (reply ?? ((m: CoordinatorToNode) => node.link.send(m)))({ type: 'client_reply', reqId: msg.reqId, ok: false, error });
          return;
        }
      }
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
        this.d.scheduler.onBlocked(from, msg.taskId, msg.type === 'task_blocked');
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
        const { reqId } = msg;
        const handlers: RpcHandlers<CoordinatorService> = this.clientHandlers(from, msg.holder);
        answerNow(handlers, msg.req.type, msg.req, (outcome) => {
          // reqId -1: fire and forget (a nested submit, register or cancel): nobody waits for a
          // success, so none is sent; a failure still goes back for the node to log.
          if (outcome.ok && reqId < 0) return;
          send(
            outcome.ok
              ? { type: 'client_reply', reqId, ok: true, value: outcome.value }
              : { type: 'client_reply', reqId, ok: false, error: replyError(outcome.error) },
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
    errorName = 'PermissionError',
  ): void {
    const g = node.grants!;
    if (strike) g.strikes++;
    const what = `refused ${msg.type}${msg.type === 'client_request' ? ` ${msg.req.type}` : ''} from node ${node.nodeId}: ${reason}`;
    this.d.log.warn(strike ? `${what} (strike ${g.strikes} of ${VOLUNTEER_STRIKE_LIMIT})` : what);
    if (msg.type === 'client_request') {
      const error: WireError = { name: errorName, message: `webray refused this request: ${reason}` };
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

  /** The answers to requests made on node `from` by `holder` (client-handlers.ts). */
  clientHandlers(from: NodeId, holder: HolderId | undefined): CoordinatorHandlers {
    return clientHandlers(this.d, from, holder);
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
