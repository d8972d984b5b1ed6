// Calls task code makes (`.remote`, `get`, `wait`, `put`, …), forwarded from a worker to the
// coordinator and the replies routed back (Ray: the core worker's RPCs to the raylet and GCS).
// The node is a caller of the coordinator's requests (common/rpc.ts, `CoordinatorRequests`) and
// answers its workers' (`NodeRequests`): `put` stays on this node; `get` is getObjects
// (get-objects.ts) — ask where the objects are, fetch the values here, hand the worker the values.
// While a task waits in get/wait it is blocked: the coordinator is told and its CPU is lent to
// other tasks until the reply (its worker may run one of them meanwhile, see WorkerPool.takeParked).

import { toWireError } from '../api/errors.ts';
import { answer, RpcCaller, type RpcHandlers } from '../common/rpc.ts';
import { isBlockingRequest, type ClientNotification, type ClientRequest } from '../protocol/client-requests.ts';
import { holderOfWorker, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { CoordinatorRequests, CoordinatorToNode, NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { NodeRequests, ToWorker } from '../protocol/worker-messages.ts';
import type { Assignment, WorkerSlot } from './assignment.ts';
import { getObjects } from './get-objects.ts';

export interface RequestForwarderDeps {
  readonly send: (msg: NodeToCoordinator) => void;
  readonly post: (w: WorkerSlot, msg: ToWorker) => void;
  /** Keeps an object task code put (see TaskReporter.keepOrFail). */
  readonly keep: (id: ObjectId, obj: SerializedObject) => TaskResult;
  /** An object not sent inline, from this node's store or pulled (see DependencyManager.fetch). */
  readonly fetch: (id: ObjectId, from: readonly NodeId[], sha256?: string) => Promise<SerializedObject>;
  readonly stopped: () => boolean;
}

/** Who a forwarded request is for: the task making it and its worker (holder of the refs it gets). */
interface Caller {
  readonly worker: WorkerSlot;
  readonly taskId: TaskId | null;
}

export class RequestForwarder {
  private readonly deps: RequestForwarderDeps;
  private readonly coordinator: RpcCaller<CoordinatorRequests, ClientNotification, Caller>;

  constructor(deps: RequestForwarderDeps) {
    this.deps = deps;
    this.coordinator = new RpcCaller({
      callee: 'the coordinator',
      send: (req, reqId, c) => deps.send({ type: 'client_request', reqId: reqId ?? -1, taskId: c.taskId, req, holder: holderOfWorker(c.worker.id) }),
    });
  }

  /** The answers to one worker's requests: the coordinator's, except `get`, whose values are fetched here. */
  private handlers(c: Caller): RpcHandlers<NodeRequests> {
    const ask = <R extends ClientRequest & CoordinatorRequests[keyof CoordinatorRequests]['req']>(req: R) => this.coordinator.call(req, c);
    return {
      get: (req) =>
        getObjects(req.ids, req.timeoutMs, {
          locate: (ids, timeoutMs) => this.coordinator.call({ type: 'get', ids, timeoutMs }, c),
          fetch: (id, nodes, sha256) => this.deps.fetch(id, nodes, sha256),
          abandoned: () => c.worker.dead || this.deps.stopped(),
        }),
      wait: ask,
      getActor: ask,
      generatorNext: ask,
      tasks: ask,
      timeline: ask,
      clusterView: ask,
    };
  }

  /** A request from a worker; `workerReqId` −1 when it expects no reply. */
  forward(w: WorkerSlot, workerReqId: number, taskId: TaskId | null, req: ClientRequest): void {
    if (req.type === 'put') {
      // Objects `put` inside a task live on this node; small ones are also sent inline. When the
      // store is full, the object is ObjectStoreFullError: `get` raises it.
      const r = this.deps.keep(req.id, req.obj);
      this.deps.send({ type: 'object_put', id: req.id, size: r.size, holder: holderOfWorker(w.id), ...(r.obj ? { obj: r.obj } : {}), ...(r.refs ? { refs: r.refs } : {}) });
      return;
    }
    // A task of this worker blocks (an actor's calls lend nothing; a call naming no task of it blocks none).
    const blocking = isBlockingRequest(req) && !w.actorId && taskId !== null ? w.tasks.get(taskId) : undefined;
    if (blocking && blocking.blocked++ === 0) {
      blocking.started = true;
      w.blockedTasks++;
      this.deps.send({ type: 'task_blocked', taskId: blocking.spec.taskId });
    }
    const caller: Caller = { worker: w, taskId };
    if (workerReqId < 0 || !isAnswered(req)) {
      // A notification (submit, register, cancel, kill): nobody waits, so no reply comes back.
      this.coordinator.notify(req as ClientNotification, caller);
      return;
    }
    answer(this.handlers(caller), req.type, req).then(
      (value) => {
        if (blocking) this.unblock(w, blocking);
        if (!w.dead) this.deps.post(w, { type: 'reply', reqId: workerReqId, ok: true, value });
      },
      (e: unknown) => {
        if (blocking) this.unblock(w, blocking);
        if (!w.dead) this.deps.post(w, { type: 'reply', reqId: workerReqId, ok: false, error: e instanceof CoordinatorError ? e.wire : toWireError(e) });
      },
    );
  }

  private unblock(w: WorkerSlot, a: Assignment): void {
    // Its worker died, or it ended with a call still out (LocalTaskManager.finishOnWorker).
    if (w.dead || a.blocked === 0) return;
    if (--a.blocked === 0) {
      w.blockedTasks--;
      this.deps.send({ type: 'task_unblocked', taskId: a.spec.taskId });
    }
  }

  /** The coordinator's answer to a forwarded request. */
  onReply(msg: Extract<CoordinatorToNode, { type: 'client_reply' }>): void {
    const settled = this.coordinator.settle(msg.reqId, msg.ok ? { ok: true, value: msg.value } : { ok: false, error: new CoordinatorError(msg.error) });
    // A notification (reqId -1) failed: nobody waits for it, so say so here.
    if (!settled && !msg.ok && msg.reqId < 0) console.warn(`webray: a request from task code failed: ${msg.error.name}: ${msg.error.message}`);
  }

  /** The node stopped: calls still waiting for the coordinator fail. */
  close(): void {
    this.coordinator.close('this node stopped');
  }
}

/** A failure the coordinator answered, passed on to the worker as it came. */
class CoordinatorError extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

/** Whether a request has an answer (is one of NodeRequests), rather than being a notification. */
function isAnswered(req: ClientRequest): req is NodeRequests[keyof NodeRequests]['req'] {
  switch (req.type) {
    case 'get':
    case 'wait':
    case 'getActor':
    case 'generatorNext':
    case 'tasks':
    case 'timeline':
    case 'clusterView':
      return true;
    case 'register':
    case 'submit':
    case 'put':
    case 'cancel':
    case 'kill':
      return false;
  }
}
