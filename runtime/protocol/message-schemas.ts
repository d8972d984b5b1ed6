// The control messages between tabs, checked field by field where they arrive (peer-messages.ts):
// every id a bounded string, every count an integer in range, every size finite and ≥ 0, every
// list bounded (limits.ts). Unknown fields are dropped, so nothing a peer adds is kept. User values
// (`SerializedObject.v`, a reply's `value`) stay opaque: their shape is the program's business.
// The `satisfies` checks at the end fail to compile when a message type and its schema drift apart.

import * as v from 'valibot';
import type { ClientRequest } from './client-requests.ts';
import type { ActorId, FunctionId, HolderId, NodeId, ObjectId, TaskId, WorkerId } from './ids.ts';
import {
  MAX_CALLS,
  MAX_ERROR_CAUSE_DEPTH,
  MAX_ERROR_TEXT_CHARS,
  MAX_ID_CHARS,
  MAX_LIST_ITEMS,
  MAX_NAME_CHARS,
  MAX_NUM_RETURNS,
  MAX_REPLICAS,
  MAX_SMALL_ITEMS,
  MAX_TOTAL_REPLICAS,
  MAX_SOURCE_CHARS,
} from './limits.ts';
import type { CoordinatorToNode, NodeToCoordinator, ResolvedArg, TaskResult } from './node-messages.ts';
import type { FunctionDescriptor, ScopeEntry, SerializedObject, TaskArg, TaskSpec } from './task-spec.ts';
import type { WireError } from './wire-error.ts';

/** An id of brand T: a non-empty string of at most MAX_ID_CHARS. */
const id = <T extends string>(what: string) =>
  v.custom<T>((x) => typeof x === 'string' && x.length > 0 && x.length <= MAX_ID_CHARS, `expected ${what} (1 to ${MAX_ID_CHARS} characters)`);
export const objectId = id<ObjectId>('an object id');
export const taskId = id<TaskId>('a task id');
export const actorId = id<ActorId>('an actor id');
const nodeId = id<NodeId>('a node id');
const workerId = id<WorkerId>('a worker id');
const functionId = id<FunctionId>('a function id');
/** Who holds refs or made a call (ids.ts: the driver, a worker, or a prefixed id): 1 to 2·MAX_ID_CHARS characters. */
const holderId = v.custom<HolderId>(
  (x) => typeof x === 'string' && x.length > 0 && x.length <= 2 * MAX_ID_CHARS,
  `expected a holder id (1 to ${2 * MAX_ID_CHARS} characters)`,
);

const name = v.pipe(v.string(), v.maxLength(MAX_NAME_CHARS));
export const list = <S extends v.GenericSchema>(item: S, max = MAX_LIST_ITEMS) => v.pipe(v.array(item), v.maxLength(max));
export const idList = list(objectId);
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
/** A byte count or an amount of a resource: finite, ≥ 0. */
const amount = v.pipe(v.number(), v.finite(), v.minValue(0));
/** A time in ms (performance.now() or Date.now() of the sender): any finite number. */
export const time = v.pipe(v.number(), v.finite());
const resources = v.pipe(
  v.record(name, amount),
  v.check((r) => Object.keys(r).length <= MAX_SMALL_ITEMS, `at most ${MAX_SMALL_ITEMS} resources`),
);

/** A WireError whose `cause` chain is at most `depth` deep. */
function wireError(depth: number): v.GenericSchema<WireError> {
  return v.object({
    name: name,
    message: v.pipe(v.string(), v.maxLength(MAX_ERROR_TEXT_CHARS)),
    stack: v.optional(v.pipe(v.string(), v.maxLength(MAX_ERROR_TEXT_CHARS))),
    classChain: v.optional(list(name, MAX_SMALL_ITEMS)),
    cause: depth > 0 ? v.optional(wireError(depth - 1)) : v.optional(v.never()),
    props: v.optional(
      v.pipe(
        v.record(name, v.union([v.pipe(v.string(), v.maxLength(MAX_ERROR_TEXT_CHARS)), time, v.boolean()])),
        v.check((r) => Object.keys(r).length <= MAX_SMALL_ITEMS, `at most ${MAX_SMALL_ITEMS} error props`),
      ),
    ),
  });
}
export const wireErrorSchema = wireError(MAX_ERROR_CAUSE_DEPTH);

export const serializedObjectSchema = v.object({
  v: v.unknown(),
  m: v.optional(v.literal(1)),
  refs: v.optional(idList),
  size: amount,
  err: v.optional(wireErrorSchema),
});

const scopeEntry = v.variant('kind', [
  v.object({ name, kind: v.literal('function'), source: v.pipe(v.string(), v.maxLength(MAX_SOURCE_CHARS)) }),
  v.object({ name, kind: v.literal('value'), value: serializedObjectSchema }),
]);

const functionDescriptor = v.object({
  fnId: functionId,
  kind: v.picklist(['function', 'generator', 'async-generator', 'class']),
  name,
  source: v.pipe(v.string(), v.maxLength(MAX_SOURCE_CHARS)),
  scope: list(scopeEntry, MAX_SMALL_ITEMS * 16),
  options: v.record(v.string(), v.unknown()),
});

const taskArg = v.variant('kind', [
  v.object({ kind: v.literal('value'), obj: serializedObjectSchema }),
  v.object({ kind: v.literal('ref'), id: objectId }),
]);

const strategy = v.union([v.picklist(['DEFAULT', 'SPREAD']), v.object({ nodeId, soft: v.boolean() })]);

const actorCreation = v.object({
  className: name,
  actorName: v.optional(name),
  namespace: v.optional(name),
  getIfExists: v.optional(v.literal(true)),
  detached: v.optional(v.literal(true)),
  maxRestarts: int(-1),
  maxTaskRetries: int(-1),
  maxConcurrency: int(1),
  methods: list(name, MAX_SMALL_ITEMS * 16),
  streamingMethods: list(name, MAX_SMALL_ITEMS * 16),
});

/** The fields every kind of task has. */
const taskSpecBase = {
  taskId,
  name,
  args: list(taskArg),
  numReturns: v.union([int(0, MAX_NUM_RETURNS), v.literal('streaming')]),
  resources,
  heldResources: v.optional(resources),
  maxRetries: int(-1),
  retryExceptions: v.union([v.boolean(), list(name, MAX_SMALL_ITEMS)]),
  strategy,
  enableTaskEvents: v.boolean(),
  generatorBackpressure: int(-1),
  timeoutMs: v.optional(v.pipe(v.number(), v.finite(), v.gtValue(0))),
  maxCalls: v.optional(int(1, MAX_CALLS)),
  replicas: v.optional(int(1, MAX_REPLICAS)),
  maxReplicas: v.optional(int(1, MAX_TOTAL_REPLICAS)),
  parentTaskId: v.optional(taskId),
  callerId: holderId,
};

export const taskSpecSchema = v.variant('kind', [
  v.object({ ...taskSpecBase, kind: v.literal('normal'), fnId: functionId }),
  v.object({ ...taskSpecBase, kind: v.literal('actor-creation'), fnId: functionId, actorId, actor: actorCreation }),
  // No function id: the actor's class was shipped with its creation task.
  v.object({ ...taskSpecBase, kind: v.literal('actor-method'), actorId, method: name }),
]);

const timeoutMs = v.nullable(v.pipe(v.number(), v.minValue(0)));

export const clientRequestSchema = v.variant('type', [
  v.object({ type: v.literal('register'), desc: functionDescriptor }),
  v.object({ type: v.literal('submit'), spec: taskSpecSchema }),
  v.object({ type: v.literal('put'), id: objectId, obj: serializedObjectSchema }),
  v.object({ type: v.literal('get'), ids: idList, timeoutMs }),
  v.object({ type: v.literal('wait'), ids: idList, numReturns: int(0, MAX_LIST_ITEMS), timeoutMs, fetchLocal: v.boolean() }),
  v.object({ type: v.literal('cancel'), id: objectId, force: v.boolean(), recursive: v.boolean() }),
  v.object({ type: v.literal('kill'), actorId, noRestart: v.boolean() }),
  v.object({ type: v.literal('getActor'), name, namespace: v.optional(name) }),
  v.object({ type: v.literal('generatorNext'), taskId, index: int(0) }),
  v.object({
    type: v.literal('tasks'),
    state: v.optional(v.picklist(['PENDING_ARGS_AVAIL', 'PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER', 'RUNNING', 'FINISHED', 'FAILED'])),
  }),
  v.object({ type: v.literal('timeline') }),
  v.object({ type: v.literal('clusterView') }),
]);

const sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex (64 characters 0-9a-f)'));
const taskResult = v.object({
  id: objectId,
  size: amount,
  obj: v.optional(serializedObjectSchema),
  refs: v.optional(idList),
  sha256: v.optional(sha256),
});

/** What a node may tell the coordinator. */
export const nodeToCoordinatorSchema = v.variant('type', [
  v.object({ type: v.literal('task_started'), taskId, workerId, atMs: time }),
  v.object({
    type: v.literal('task_done'),
    taskId,
    attempt: int(0),
    workerId: v.nullable(workerId),
    startMs: time,
    endMs: time,
    results: v.optional(list(taskResult, MAX_NUM_RETURNS)),
    error: v.optional(wireErrorSchema),
    systemFailure: v.optional(v.boolean()),
  }),
  v.object({ type: v.literal('generator_item'), taskId, attempt: int(0), index: int(0), result: taskResult }),
  v.object({ type: v.literal('actor_died'), actorId, error: wireErrorSchema }),
  v.object({ type: v.literal('task_blocked'), taskId }),
  v.object({ type: v.literal('task_unblocked'), taskId }),
  v.object({ type: v.literal('tasks_waiting'), taskIds: list(taskId, MAX_SMALL_ITEMS) }),
  v.object({
    type: v.literal('object_put'),
    id: objectId,
    size: amount,
    obj: v.optional(serializedObjectSchema),
    holder: v.optional(holderId),
    refs: v.optional(idList),
  }),
  // reqId -1: fire and forget (a nested submit, register or cancel), never answered.
  v.object({ type: v.literal('client_request'), reqId: int(-1), taskId: v.nullable(taskId), req: clientRequestSchema, holder: v.optional(holderId) }),
  v.object({
    type: v.literal('refs'),
    holder: holderId,
    add: v.optional(idList),
    release: v.optional(idList),
    generators: v.optional(list(taskId)),
    gone: v.optional(v.literal(true)),
  }),
  v.object({ type: v.literal('object_located'), id: objectId, failed: v.optional(v.literal(true)) }),
  v.object({ type: v.literal('node_stats'), memoryBytes: amount, spilledBytes: amount, objects: int(0), budgetBytes: v.optional(amount) }),
]);

const resolvedArg = v.variant('kind', [
  v.object({ kind: v.literal('inline'), obj: serializedObjectSchema }),
  v.object({ kind: v.literal('located'), id: objectId, nodes: list(nodeId, MAX_SMALL_ITEMS * 16), sha256: v.optional(sha256) }),
]);

/** One node as `ray.nodes()` lists it. */
const nodeInfo = v.object({
  nodeId,
  alive: v.boolean(),
  isCoordinator: v.boolean(),
  resources,
  available: resources,
  objectStore: v.object({ memoryBytes: amount, spilledBytes: amount, objects: int(0), budgetBytes: amount }),
  gpuFallback: v.boolean(),
  runningTasks: int(0),
  label: v.optional(v.pipe(v.string(), v.maxLength(MAX_NAME_CHARS))),
  verified: int(0),
  mismatches: int(0),
  quarantined: v.boolean(),
  trusted: v.boolean(),
});

/** The cluster view a task's code reads (`ClusterView`). */
const clusterView = v.object({ nodes: list(nodeInfo, MAX_LIST_ITEMS), total: resources, available: resources });

/** What the coordinator may tell a node. */
export const coordinatorToNodeSchema = v.variant('type', [
  v.object({
    type: v.literal('run_task'),
    spec: taskSpecSchema,
    attempt: int(0),
    args: list(resolvedArg),
    fn: v.optional(functionDescriptor),
    pipelined: v.optional(v.literal(true)),
    view: v.optional(clusterView),
  }),
  v.object({ type: v.literal('start_task'), taskId }),
  v.object({ type: v.literal('cancel_task'), taskId, force: v.boolean() }),
  v.object({ type: v.literal('kill_actor'), actorId }),
  v.object({ type: v.literal('generator_ack'), taskId, consumed: int(0) }),
  v.object({
    type: v.literal('fetch_objects'),
    objects: list(v.object({ id: objectId, nodes: list(nodeId, MAX_SMALL_ITEMS * 16), sha256: v.optional(sha256) })),
  }),
  v.object({ type: v.literal('expect_pulls'), puller: nodeId, ids: idList }),
  v.object({ type: v.literal('free_objects'), ids: idList }),
  v.variant('ok', [
    v.object({ type: v.literal('client_reply'), reqId: int(-1), ok: v.literal(true), value: v.unknown() }),
    v.object({ type: v.literal('client_reply'), reqId: int(-1), ok: v.literal(false), error: wireErrorSchema }),
  ]),
]);

/** What a failed check says: the path of the first field found wrong, and what was expected there. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  if (!issue) return 'malformed';
  const path = issue.path?.map((p) => String(p.key)) ?? [];
  return path.length > 0 ? `${path.join('.')}: ${issue.message}` : issue.message;
}

// Each schema's output is the message type (a schema missing a field, or with a wrong one, fails
// here), and each message type is covered by its schema.
export type Same<S extends v.GenericSchema, T> = [v.InferOutput<S>] extends [T] ? ([DeepMutable<T>] extends [v.InferOutput<S>] ? true : false) : false;
export type DeepMutable<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends (infer E)[] | readonly (infer E)[]
  ? DeepMutable<E>[]
  : T extends object
    ? { -readonly [K in keyof T]: DeepMutable<T[K]> }
    : T;
const typesMatch: {
  serialized: Same<typeof serializedObjectSchema, SerializedObject>;
  scope: Same<typeof scopeEntry, ScopeEntry>;
  fn: Same<typeof functionDescriptor, FunctionDescriptor>;
  arg: Same<typeof taskArg, TaskArg>;
  spec: Same<typeof taskSpecSchema, TaskSpec>;
  request: Same<typeof clientRequestSchema, ClientRequest>;
  result: Same<typeof taskResult, TaskResult>;
  toCoordinator: Same<typeof nodeToCoordinatorSchema, NodeToCoordinator>;
  resolved: Same<typeof resolvedArg, ResolvedArg>;
  toNode: Same<typeof coordinatorToNodeSchema, CoordinatorToNode>;
} = { serialized: true, scope: true, fn: true, arg: true, spec: true, request: true, result: true, toCoordinator: true, resolved: true, toNode: true };
void typesMatch;
