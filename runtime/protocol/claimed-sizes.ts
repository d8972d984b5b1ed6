// Object sizes a member reports are claims: the coordinator keeps them in its object directory
// (locality: where a task's arguments weigh most) and hands inline objects on to nodes, whose
// stores count them against their memory budget. So where the object itself came along (inline),
// its size is what it measures on arrival, not what the sender said; where it stayed on the
// sender (a large result, a stored put), the claim is capped at the largest object a pull can
// carry — a larger one could never be fetched. (A pulled object's size is the bytes its pull reply
// took: transport/inbox.ts.)

import type { NodeToCoordinator, TaskResult } from './node-messages.ts';
import type { SerializedObject } from './task-spec.ts';

/** What an inline object measures (the receiver's codec: its encoded bytes). */
export type MeasureObject = (obj: SerializedObject) => number;

/** `msg` with every object size it claims replaced by the measured one, or capped at `maxHeldBytes`. */
export function withMeasuredSizes(msg: NodeToCoordinator, measure: MeasureObject, maxHeldBytes: number): NodeToCoordinator {
  switch (msg.type) {
    case 'task_done':
      return msg.results ? { ...msg, results: msg.results.map((r) => measuredResult(r, measure, maxHeldBytes)) } : msg;
    case 'generator_item':
      return { ...msg, result: measuredResult(msg.result, measure, maxHeldBytes) };
    case 'object_put': {
      if (!msg.obj) return msg.size > maxHeldBytes ? { ...msg, size: maxHeldBytes } : msg;
      const obj = measuredObject(msg.obj, measure);
      return { ...msg, size: obj.size, obj };
    }
    case 'client_request':
      return msg.req.type === 'put' ? { ...msg, req: { ...msg.req, obj: measuredObject(msg.req.obj, measure) } } : msg;
    default:
      return msg;
  }
}

function measuredResult(r: TaskResult, measure: MeasureObject, maxHeldBytes: number): TaskResult {
  if (!r.obj) return r.size > maxHeldBytes ? { ...r, size: maxHeldBytes } : r;
  const obj = measuredObject(r.obj, measure);
  return { ...r, size: obj.size, obj };
}

function measuredObject(obj: SerializedObject, measure: MeasureObject): SerializedObject {
  const size = measure(obj);
  return size === obj.size ? obj : { ...obj, size };
}
