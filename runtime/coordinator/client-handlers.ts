// The coordinator's answers to the calls task code and the driver make (Ray's GCS service
// handlers): one handler per client request, each returning that request's reply type
// (common/rpc.ts, `RpcHandlers`), so a reply that does not fit its request fails to compile. A
// node's `client_request` is answered through them (request-handlers.ts, after the capability
// checks of a volunteer); the driver in this tab calls the same handlers in process
// (driver/driver-core.ts), so `get`'s wait for the objects exists once.

import { wireError } from '../api/errors.ts';
import type { RpcHandlers } from '../common/rpc.ts';
import type { ClientNotification, ClientRequestOf } from '../protocol/client-requests.ts';
import { DRIVER_HOLDER, holderOfNode, type HolderId, type NodeId } from '../protocol/ids.ts';
import type { CoordinatorRequests } from '../protocol/node-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { ActorManager } from './actor-manager.ts';
import { expectObject, type NodeManager } from './node-manager.ts';
import type { ObjectDirectory } from './object-directory.ts';
import type { ObjectLifetimes } from './object-lifetimes.ts';
import type { ObjectWaits } from './object-waits.ts';
import type { TaskManager } from './task-manager.ts';
import type { TaskTable } from './task-table.ts';

/**
 * Every client request the coordinator answers: the requests with a reply (`CoordinatorRequests`)
 * and the notifications, whose reply is `null` (sent only when one came with an id, or failed).
 */
export type CoordinatorService = CoordinatorRequests & {
  readonly [K in ClientNotification['type']]: { readonly req: ClientRequestOf<K>; readonly reply: null };
};

/** The requests answered at once, never with a promise: the driver calls them synchronously. */
type AnsweredAtOnce = ClientNotification['type'] | 'getActor' | 'tasks' | 'timeline' | 'clusterView';

/** One handler per client request (what the driver holds to call them in process). */
export type CoordinatorHandlers = { readonly [K in AnsweredAtOnce]: (req: CoordinatorService[K]['req']) => CoordinatorService[K]['reply'] } & RpcHandlers<CoordinatorService>;

export interface ClientHandlersDeps {
  readonly nodes: NodeManager;
  readonly tasks: TaskTable;
  readonly taskManager: TaskManager;
  readonly actorManager: ActorManager;
  readonly objects: ObjectDirectory;
  readonly lifetimes: ObjectLifetimes;
  readonly waits: ObjectWaits;
  /** The coordinator's own node. */
  readonly selfId: NodeId;
}

/** A request the coordinator answers with this error, as it is (the node passes it on, the driver raises it). */
export class RequestFailure extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

/** The error a failed request is answered with. */
export function replyError(e: unknown): WireError {
  if (e instanceof RequestFailure) return e.wire;
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/** The answers to requests made on node `from` (`holder`: the worker or driver holding the refs they hand out). */
export function clientHandlers(d: ClientHandlersDeps, from: NodeId, holder: HolderId | undefined): CoordinatorHandlers {
  return {
    register: (req) => {
      d.taskManager.registerFunction(req.desc);
      return null;
    },
    submit: (req) => {
      d.taskManager.submit(req.spec, from, true);
      return null;
    },
    put: (req) => {
      d.lifetimes.put(req.id, req.obj.size, req.obj, from, holder ?? DRIVER_HOLDER, from);
      return null;
    },
    get: (req) => {
      const { ids, timeoutMs } = req;
      // Where each object is, once all are ready; granting `from` the pulls it will make.
      const located = () => {
        const resolved = ids.map((id) => d.objects.resolvedArg(id));
        const g = d.nodes.get(from)?.grants;
        if (g) for (const r of resolved) if (r.kind === 'located') expectObject(g, r.id);
        d.nodes.grantPulls(from, resolved);
        return resolved;
      };
      if (ids.every((id) => d.objects.get(id)?.ready)) return located();
      return d.waits.wait(ids, ids.length, timeoutMs, undefined, true).then((ready) => {
        // Stopped early because one of them failed: raise that at once, as Ray's get does.
        const failed = ready.length < ids.length ? d.waits.firstError(ids) : undefined;
        if (failed) throw new RequestFailure(failed);
        if (ready.length < ids.length) {
          throw new RequestFailure(
            wireError(
              'GetTimeoutError',
              `ray.get timed out after ${timeoutMs} ms with ${ids.length - ready.length} of ${ids.length} object(s) not ready; the task(s) keep running`,
            ),
          );
        }
        return located();
      });
    },
    wait: (req) => d.waits.wait(req.ids, req.numReturns, req.timeoutMs, req.fetchLocal ? from : undefined),
    cancel: (req) => {
      d.taskManager.cancel(req.id, req.force, req.recursive);
      return null;
    },
    kill: (req) => {
      d.actorManager.kill(req.actorId, req.noRestart);
      return null;
    },
    getActor: (req) => {
      // The requester holds a ref to the actor's handle object from now on (the handle it builds keeps it).
      const info = d.actorManager.handOut(req.name, req.namespace, holder ?? (from === d.selfId ? DRIVER_HOLDER : holderOfNode(from)), from === d.selfId ? undefined : from);
      if (!info) throw new RequestFailure({ name: 'Error', message: `ray.getActor: no live actor is named "${req.name}"${req.namespace !== undefined ? ` in namespace "${req.namespace}"` : ''}` });
      return info;
    },
    generatorNext: (req) => d.taskManager.generatorNext(req.taskId, req.index, holder ?? holderOfNode(from), from),
    tasks: (req) => d.tasks.infos(req.state),
    timeline: () => d.tasks.timeline(),
    // Task code on a volunteer sees the cluster's totals and its own node, not the others.
    clusterView: () => d.nodes.viewFor(from !== d.selfId && d.nodes.get(from)?.isCoordinator === false ? from : undefined),
  };
}
