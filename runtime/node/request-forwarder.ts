// Calls task code makes (`.remote`, `get`, `wait`, `put`, …), forwarded from a worker to the
// coordinator and the replies routed back (Ray: the core worker's RPCs to the raylet and GCS).
// `put` stays on this node; a `get` reply says where each object is, and the values are fetched
// here before the worker gets them. While a task waits in get/wait it is blocked: the coordinator
// is told and its CPU is lent to other tasks until the reply.

import { toWireError } from '../api/errors.ts';
import { isBlockingRequest, type ClientRequest } from '../protocol/client-requests.ts';
import { holderOfWorker, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, ResolvedArg, TaskResult } from '../protocol/node-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import type { ToWorker } from '../protocol/worker-messages.ts';
import type { WorkerSlot } from './assignment.ts';
import { GET_REFETCH_DELAY_MS, GET_REFETCH_MAX } from './constants.ts';
import type { LocalResources } from './local-resources.ts';

export interface RequestForwarderDeps {
  readonly send: (msg: NodeToCoordinator) => void;
  readonly post: (w: WorkerSlot, msg: ToWorker) => void;
  readonly resources: LocalResources;
  /** Keeps an object task code put (see TaskReporter.keepOrFail). */
  readonly keep: (id: ObjectId, obj: SerializedObject) => TaskResult;
  /** The values of a `get` reply (see DependencyManager.values). */
  readonly values: (resolved: readonly ResolvedArg[]) => Promise<SerializedObject[]>;
  /** Starts queued tasks (after a blocked task lent its CPU). */
  readonly drain: () => void;
  readonly stopped: () => boolean;
}

interface PendingRequest {
  readonly worker: WorkerSlot;
  readonly workerReqId: number;
  readonly blocking: boolean;
  readonly taskId: TaskId | null;
  readonly op: ClientRequest['type'];
  /** A `get`, kept to ask again when a pull fails; how many times it was asked again. */
  readonly get?: { readonly req: ClientRequest; readonly refetches: number };
}

export class RequestForwarder {
  private readonly deps: RequestForwarderDeps;
  private readonly requests = new Map<number, PendingRequest>();
  private nextReqId = 1;

  constructor(deps: RequestForwarderDeps) {
    this.deps = deps;
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
    const blocking = isBlockingRequest(req) && !w.actorId && taskId !== null;
    if (blocking && w.blocked++ === 0) {
      this.deps.send({ type: 'task_blocked', taskId: taskId! });
      if (this.deps.resources.lendCpu(w)) this.deps.drain();
    }
    if (workerReqId < 0) {
      // Fire-and-forget (submit, register): no reply is routed back.
      this.deps.send({ type: 'client_request', reqId: -1, taskId, req, holder: holderOfWorker(w.id) });
      return;
    }
    const reqId = this.nextReqId++;
    this.requests.set(reqId, { worker: w, workerReqId, blocking, taskId, op: req.type, ...(req.type === 'get' ? { get: { req, refetches: 0 } } : {}) });
    this.deps.send({ type: 'client_request', reqId, taskId, req, holder: holderOfWorker(w.id) });
  }

  /** The coordinator's answer to a forwarded request. */
  onReply(msg: Extract<CoordinatorToNode, { type: 'client_reply' }>): void {
    const r = this.requests.get(msg.reqId);
    if (!r) {
      // A fire-and-forget request (reqId -1) failed: nobody waits for it, so say so here.
      if (!msg.ok && msg.reqId < 0) console.warn(`webray: a request from task code failed: ${msg.error.name}: ${msg.error.message}`);
      return;
    }
    this.requests.delete(msg.reqId);
    const w = r.worker;
    const unblock = (): void => {
      if (!r.blocking || w.dead) return;
      if (--w.blocked === 0) {
        this.deps.send({ type: 'task_unblocked', taskId: r.taskId! });
        this.deps.resources.reclaimCpu(w);
      }
    };
    if (!msg.ok) {
      unblock();
      this.deps.post(w, { type: 'reply', reqId: r.workerReqId, ok: false, error: msg.error });
      return;
    }
    if (r.op !== 'get') {
      unblock();
      this.deps.post(w, { type: 'reply', reqId: r.workerReqId, ok: true, value: msg.value });
      return;
    }
    // `get` replies say where each object is; hand the worker the values themselves.
    const resolved = msg.value as ResolvedArg[];
    this.deps.values(resolved).then(
      (objs) => {
        unblock();
        this.deps.post(w, { type: 'reply', reqId: r.workerReqId, ok: true, value: objs });
      },
      (e: unknown) => {
        const get = r.get;
        if (get && get.refetches < GET_REFETCH_MAX && !w.dead && !this.deps.stopped()) {
          // The holder left mid-pull: ask the coordinator again, which answers once the object is
          // ready elsewhere (recomputed from lineage) or lost for good (ObjectLostError).
          const refetches = get.refetches + 1;
          const reqId = this.nextReqId++;
          this.requests.set(reqId, { ...r, get: { req: get.req, refetches } });
          setTimeout(() => {
            if (this.requests.has(reqId)) this.deps.send({ type: 'client_request', reqId, taskId: r.taskId, req: get.req });
          }, GET_REFETCH_DELAY_MS * refetches);
          return;
        }
        unblock();
        this.deps.post(w, { type: 'reply', reqId: r.workerReqId, ok: false, error: toWireError(e) });
      },
    );
  }

  /** Forgets the requests of a worker that is gone: their replies have no one to go to. */
  dropWorker(w: WorkerSlot): void {
    for (const [reqId, r] of this.requests) if (r.worker === w) this.requests.delete(reqId);
  }
}
