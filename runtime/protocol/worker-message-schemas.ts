// The messages a Web Worker sends its node (FromWorker), checked field by field where they enter
// the node (node/worker-inbox.ts). A worker runs code the coordinator shipped — on a volunteer's
// node, a stranger's — so what it posts is input, not a promise: ids bounded strings, counts
// integers in range, times finite, lists bounded (limits.ts). User values (`SerializedObject.v`)
// stay opaque. A message that passes is handed on as posted, not copied: the objects in it (a
// result, a put) are kept by identity, and a `done` for a small task costs no allocation; the node
// reads only the fields a type names (extra ones are ignored, and dropped by the peer check when
// passed on to another tab). The field schemas are message-schemas.ts's; the `satisfies`-style
// check at the end fails to compile when FromWorker and its schema drift apart.

import * as v from 'valibot';
import { MAX_ERROR_TEXT_CHARS, MAX_LIST_ITEMS, MAX_NUM_RETURNS } from './limits.ts';
import {
  actorId,
  clientRequestSchema,
  describeIssues,
  idList,
  int,
  list,
  serializedObjectSchema,
  taskId,
  time,
  wireErrorSchema,
  type Same,
} from './message-schemas.ts';
import type { FromWorker } from './worker-messages.ts';

/** How long a task's code held its worker, in ms. */
const heldMs = v.pipe(v.number(), v.minValue(0), v.finite());

/** What a worker may tell its node, one schema per FromWorker type. */
export const fromWorkerSchema = v.variant('type', [
  v.object({
    type: v.literal('done'),
    taskId,
    startMs: time,
    endMs: time,
    heldMs: v.optional(heldMs),
    results: v.optional(list(serializedObjectSchema, MAX_NUM_RETURNS)),
    error: v.optional(wireErrorSchema),
  }),
  v.object({ type: v.literal('yield'), taskId, index: int(0), obj: serializedObjectSchema }),
  v.object({ type: v.literal('actor_ready'), actorId, taskId, startMs: time, endMs: time, error: v.optional(wireErrorSchema) }),
  v.object({ type: v.literal('returned'), taskIds: list(taskId) }),
  // reqId -1: a notification (submit, register, put, cancel, kill), never answered.
  v.object({ type: v.literal('request'), reqId: int(-1), taskId: v.nullable(taskId), req: clientRequestSchema, heldMs: v.optional(heldMs) }),
  v.object({
    type: v.literal('refs'),
    add: v.optional(idList),
    release: v.optional(idList),
    generators: v.optional(list(taskId)),
    gone: v.optional(v.literal(true)),
  }),
  v.object({ type: v.literal('exit'), reason: v.pipe(v.string(), v.maxLength(MAX_ERROR_TEXT_CHARS)) }),
]);

/** Every FromWorker type, in the schema's order (tests generate a case per type from it). */
export const FROM_WORKER_TYPES: readonly FromWorker['type'][] = fromWorkerSchema.options.map((o) => o.entries.type.literal);

/** Most messages one batch from a worker may hold. */
export const MAX_WORKER_BATCH = MAX_LIST_ITEMS;

/**
 * Narrows one message of a worker's batch to a FromWorker, field by field, or says what is wrong
 * with it (`done: taskId: expected a task id …`). Never throws. The message returned is `x` itself.
 */
export function parseFromWorker(x: unknown): { ok: true; msg: FromWorker } | { ok: false; reason: string } {
  let r;
  try {
    r = v.safeParse(fromWorkerSchema, x);
  } catch (e) {
    return { ok: false, reason: `could not be checked: ${(e as Error).message}` };
  }
  if (r.success) return { ok: true, msg: x as FromWorker };
  const type = typeof x === 'object' && x !== null && 'type' in x ? (x).type : undefined;
  if (typeof type === 'string' && (FROM_WORKER_TYPES as readonly string[]).includes(type)) return { ok: false, reason: `${type}: ${describeIssues(r.issues)}` };
  return { ok: false, reason: `unknown message type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : String(type)}` };
}

const typesMatch: { fromWorker: Same<typeof fromWorkerSchema, FromWorker> } = { fromWorker: true };
void typesMatch;
