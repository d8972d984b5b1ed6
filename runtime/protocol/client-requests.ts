// Calls a driver makes on the cluster (Ray's CoreWorker → GCS/raylet RPCs). The program in the
// coordinator tab makes them directly; task code in a Web Worker sends them to its node, which
// forwards them to the coordinator and routes the reply back.

import type { ActorId, ObjectId, TaskId } from './ids.ts';
import type { FunctionDescriptor, NodeInfo, ResourceSet, SerializedObject, TaskSpec, TaskState } from './task-spec.ts';

export type ClientRequest =
  | { readonly type: 'register'; readonly desc: FunctionDescriptor }
  | { readonly type: 'submit'; readonly spec: TaskSpec }
  | { readonly type: 'put'; readonly id: ObjectId; readonly obj: SerializedObject }
  | { readonly type: 'get'; readonly ids: readonly ObjectId[]; readonly timeoutMs: number | null }
  | {
      readonly type: 'wait';
      readonly ids: readonly ObjectId[];
      readonly numReturns: number;
      readonly timeoutMs: number | null;
      readonly fetchLocal: boolean;
    }
  | { readonly type: 'cancel'; readonly id: ObjectId; readonly force: boolean; readonly recursive: boolean }
  | { readonly type: 'kill'; readonly actorId: ActorId; readonly noRestart: boolean }
  | { readonly type: 'getActor'; readonly name: string; readonly namespace?: string }
  | { readonly type: 'generatorNext'; readonly taskId: TaskId; readonly index: number }
  | { readonly type: 'tasks'; readonly state?: TaskState }
  | { readonly type: 'timeline' }
  | { readonly type: 'clusterView' };

/** Requests that wait on other work: the task making them is blocked and lends its CPU back. */
export function isBlockingRequest(req: ClientRequest): boolean {
  return req.type === 'get' || req.type === 'wait' || req.type === 'generatorNext';
}

/** The request of operation K. */
export type ClientRequestOf<K extends ClientRequest['type']> = Extract<ClientRequest, { readonly type: K }>;

/** The next item of a streaming generator, once it is made, or the end of the stream. */
export type GeneratorItem = { readonly done: false; readonly id: ObjectId } | { readonly done: true };

/** What `ray.nodes()`, `clusterResources()` and `availableResources()` read in task code. */
export interface ClusterView {
  readonly nodes: NodeInfo[];
  readonly total: ResourceSet;
  readonly available: ResourceSet;
}

/** Requests sent without an id and never answered (a failure is only logged by the node). */
export type ClientNotification = ClientRequestOf<'register' | 'submit' | 'put' | 'cancel' | 'kill'>;
