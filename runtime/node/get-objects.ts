// `ray.get`, once for both callers: the program in the coordinator tab (driver/driver-core.ts) and
// task code, whose node asks the coordinator for it (request-forwarder.ts). Ask where the objects
// are once all are ready, then read each value: inline, from this node's store, or pulled. When a
// pull fails — usually its holder left mid-transfer, so the coordinator dropped that copy and
// recomputes the object from lineage or marks it lost — ask again where that object is, a few
// times, within the call's timeout (Ray's CoreWorker::Get with its plasma fetch retries).

import type { ObjectId, NodeId } from '../protocol/ids.ts';
import type { ResolvedArg } from '../protocol/node-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { GET_REFETCH_DELAY_MS, GET_REFETCH_MAX } from './constants.ts';

export interface ObjectSource {
  /**
   * Where each object is, once all are ready; rejects with the error of one that failed, or
   * GetTimeoutError when `timeoutMs` passes first.
   */
  locate(ids: readonly ObjectId[], timeoutMs: number | null): ResolvedArg[] | Promise<ResolvedArg[]>;
  /**
   * The value of an object not sent inline: from this node's store, or pulled from `nodes` (a copy
   * whose bytes match `sha256`, when given: a verified task's result).
   */
  fetch(id: ObjectId, nodes: readonly NodeId[], sha256?: string): SerializedObject | Promise<SerializedObject>;
  /** Whether the caller went away (its worker died, the node stopped): then no pull is retried. */
  readonly abandoned?: () => boolean;
}

/** The values of `ids`, in order; synchronous when all are ready and inline or at hand. */
export function getObjects(ids: readonly ObjectId[], timeoutMs: number | null, src: ObjectSource): SerializedObject[] | Promise<SerializedObject[]> {
  const deadline = timeoutMs === null ? null : performance.now() + timeoutMs;
  const located = src.locate(ids, timeoutMs);
  return located instanceof Promise ? located.then((r) => read(r, deadline, src)) : read(located, deadline, src);
}

function read(resolved: readonly ResolvedArg[], deadline: number | null, src: ObjectSource): SerializedObject[] | Promise<SerializedObject[]> {
  let waiting = false;
  const out = resolved.map((r): SerializedObject | Promise<SerializedObject> => {
    if (r.kind === 'inline') return r.obj;
    let obj: SerializedObject | Promise<SerializedObject>;
    try {
      obj = src.fetch(r.id, r.nodes, r.sha256);
    } catch (e) {
      obj = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    if (!(obj instanceof Promise)) return obj;
    waiting = true;
    return fetchAgain(r.id, obj, deadline, src);
  });
  return waiting ? Promise.all(out.map((o) => Promise.resolve(o))) : (out as SerializedObject[]);
}

async function fetchAgain(id: ObjectId, first: Promise<SerializedObject>, deadline: number | null, src: ObjectSource): Promise<SerializedObject> {
  let pending = first;
  for (let attempt = 1; ; attempt++) {
    try {
      return await pending;
    } catch (e) {
      if (attempt > GET_REFETCH_MAX || src.abandoned?.()) throw e;
      await new Promise((r) => setTimeout(r, GET_REFETCH_DELAY_MS * attempt));
      const left = deadline === null ? null : Math.max(0, deadline - performance.now());
      const [again] = await src.locate([id], left);
      if (again!.kind === 'inline') return again!.obj;
      const { nodes, sha256 } = again!;
      pending = Promise.resolve().then(() => src.fetch(id, nodes, sha256));
    }
  }
}
