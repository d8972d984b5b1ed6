// The calls a program makes once webray runs: the same functions serve the driver in a tab and
// task code inside a Web Worker (which receives them as `ray`). `init`, `join` and `shutdown`
// live in index.ts, the composition root.

import type { TaskId } from '../protocol/ids.ts';
import type { ActorListing, NodeInfo, ObjectListing, ResourceSet, TaskInfo, TaskState, TaskSummary, TraceEvent } from '../protocol/task-spec.ts';
import { isActorCall } from './actor-call-refs.ts';
import { ActorClass, ActorHandleBase, handleOf, type ActorHandle } from './actor.ts';
import { requireCore, type RuntimeContext } from './core.ts';
import { fromWireError, GetTimeoutError } from './errors.ts';
import { keepAlive } from './local-refs.ts';
import { ObjectRef, registeredRef } from './object-ref.ts';
import { ObjectRefGenerator } from './object-ref-generator.ts';
import { suggest, type ActorOptions, type TaskOptions } from './options.ts';
import { RemoteFunction } from './remote-function.ts';
import { deserialize, serialize, snapshot } from './serialization.ts';

type AnyFunction = (...args: never[]) => unknown;
type AnyClass = abstract new (...args: never[]) => object;

/** `ray.remote(fn)`, `ray.remote(Class)`, or with options first: `ray.remote({ numCpus: 2 }, fn)`. */
export function remote<C extends AnyClass>(cls: C): ActorClass<C>;
export function remote<F extends AnyFunction>(fn: F): RemoteFunction<F>;
export function remote<C extends AnyClass>(options: ActorOptions, cls: C): ActorClass<C>;
export function remote<F extends AnyFunction>(options: TaskOptions, fn: F): RemoteFunction<F>;
export function remote(a: unknown, b?: unknown): unknown {
  const [options, target] = b === undefined ? [undefined, a] : [a, b];
  if (typeof target !== 'function') {
    throw new TypeError(
      `ray.remote takes a function or a class (optionally after an options object), got ${describe(target)}`,
    );
  }
  if (/^class\b/.test(Function.prototype.toString.call(target))) {
    return ActorClass.define(target as AnyClass, options);
  }
  return RemoteFunction.define(target as AnyFunction, options);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x instanceof ObjectRef) return 'an ObjectRef';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${String(x)}`;
}

function checkOptionKeys(opts: object | undefined, known: readonly string[], what: string): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what} options must be an object`);
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) {
      const hint = suggest(k, known);
      throw new TypeError(`unknown option "${k}" for ${what}${hint ? ` — did you mean ${hint}?` : `; valid options are: ${known.join(', ')}`}`);
    }
  }
}

function checkTimeout(t: unknown, what: string): number | null {
  if (t === undefined || t === null) return null;
  if (typeof t !== 'number' || Number.isNaN(t) || t < 0) {
    throw new TypeError(`${what}: timeoutMs must be a number of milliseconds ≥ 0 or null, got ${String(t)}`);
  }
  return t === Infinity ? null : t;
}

/** Fetches the value(s) of one ObjectRef or an array of them. Rejects with the task's error. */
export function get<T>(ref: ObjectRef<T>, options?: { timeoutMs?: number | null }): Promise<T>;
export function get<T extends readonly ObjectRef<unknown>[]>(
  refs: T,
  options?: { timeoutMs?: number | null },
): Promise<{ [K in keyof T]: T[K] extends ObjectRef<infer V> ? V : never }>;
export async function get(refs: unknown, options?: { timeoutMs?: number | null }): Promise<unknown> {
  checkOptionKeys(options, ['timeoutMs'], 'ray.get');
  const timeoutMs = checkTimeout(options?.timeoutMs, 'ray.get');
  const single = refs instanceof ObjectRef;
  if (!single && !(Array.isArray(refs) && refs.every((r) => r instanceof ObjectRef))) {
    const bad = Array.isArray(refs) ? refs.findIndex((r) => !(r instanceof ObjectRef)) : -1;
    throw new TypeError(
      Array.isArray(refs)
        ? `ray.get: element ${bad} of the array is ${describe(refs[bad])}, not an ObjectRef`
        : refs instanceof ObjectRefGenerator
          ? `ray.get takes ObjectRefs; iterate the ObjectRefGenerator (for await (const ref of gen)) and get each ref`
          : `ray.get takes an ObjectRef or an array of ObjectRefs, got ${describe(refs)}`,
    );
  }
  const list = single ? [refs] : (refs as ObjectRef[]);
  const core = requireCore('ray.get');
  const objs = await core.get(
    list.map((r) => r.id),
    timeoutMs,
  );
  const shared = core.runtimeContext().isDriver;
  const values = objs.map((o) => {
    if (o.err) throw fromWireError(o.err);
    return deserialize(o, shared);
  });
  // The refs stay reachable until their values (and the refs inside them) are in hand.
  keepAlive(list);
  return single ? values[0] : values;
}

/** Stores a value in the object store and returns a ref to it, synchronously. */
export function put<T>(value: T): ObjectRef<T> {
  if (value instanceof ObjectRef) {
    throw new TypeError('ray.put(ObjectRef) is not allowed: the object is already in the store; pass the ref itself');
  }
  if (value instanceof ObjectRefGenerator) {
    throw new TypeError('ray.put(ObjectRefGenerator) is not allowed: iterate it and put or pass its refs');
  }
  const core = requireCore('ray.put');
  const obj = snapshot(serialize(value, 'the value given to ray.put'));
  const id = core.ids.putId();
  core.put(id, obj);
  return registeredRef<T>(id);
}

export interface WaitOptions {
  numReturns?: number;
  timeoutMs?: number | null;
  fetchLocal?: boolean;
}

/** Waits until `numReturns` of the refs are ready or the timeout passes: `[ready, notReady]`, in input order. */
export async function wait<T extends ObjectRef<unknown>>(refs: readonly T[], options?: WaitOptions): Promise<[T[], T[]]> {
  checkOptionKeys(options, ['numReturns', 'timeoutMs', 'fetchLocal'], 'ray.wait');
  if (!Array.isArray(refs)) throw new TypeError(`ray.wait takes an array of ObjectRefs, got ${describe(refs)}`);
  const numReturns = options?.numReturns ?? 1;
  // As in Ray, `wait([])` gives `[[], []]` before numReturns is checked.
  if (!Number.isInteger(numReturns) || numReturns < (refs.length === 0 ? 0 : 1)) {
    throw new TypeError(`ray.wait: numReturns must be a whole number ≥ 1, got ${String(numReturns)}`);
  }
  const timeoutMs = checkTimeout(options?.timeoutMs, 'ray.wait');
  if (refs.length === 0) return [[], []];
  const seen = new Set<string>();
  refs.forEach((r, i) => {
    if (!(r instanceof ObjectRef)) throw new TypeError(`ray.wait: element ${i} is ${describe(r)}, not an ObjectRef`);
    if (seen.has(r.id)) throw new TypeError(`ray.wait: ${r.toString()} appears more than once in the list; pass each ref once`);
    seen.add(r.id);
  });
  if (numReturns > refs.length) {
    throw new TypeError(`ray.wait: numReturns (${numReturns}) is larger than the number of refs (${refs.length})`);
  }
  const core = requireCore('ray.wait');
  const readyIdx = await core.wait(
    refs.map((r) => r.id),
    numReturns,
    timeoutMs,
    options?.fetchLocal ?? true,
  );
  const readySet = new Set(readyIdx);
  const ready: T[] = [];
  const notReady: T[] = [];
  refs.forEach((r, i) => (readySet.has(i) ? ready : notReady).push(r));
  return [ready, notReady];
}

/** Cancels the task that makes `ref` (or a generator's task). */
export function cancel(ref: ObjectRef<unknown> | ObjectRefGenerator<unknown>, options?: { force?: boolean; recursive?: boolean }): void {
  checkOptionKeys(options, ['force', 'recursive'], 'ray.cancel');
  const core = requireCore('ray.cancel');
  if (options?.force && typeof ref === 'object' && ref !== null && isActorCall(ref)) {
    throw new TypeError(
      'ray.cancel: force: true is not supported for actor calls (as in Ray): the actor\'s worker holds its state and is not ' +
        'terminated to stop one call. Cancel without force (the call\'s signal is aborted), or end the actor with ray.kill.',
    );
  }
  if (ref instanceof ObjectRefGenerator) {
    core.cancel(ref.taskId as unknown as ObjectRef['id'], options?.force ?? false, options?.recursive ?? true);
    return;
  }
  if (!(ref instanceof ObjectRef)) throw new TypeError(`ray.cancel takes an ObjectRef, got ${describe(ref)}`);
  core.cancel(ref.id, options?.force ?? false, options?.recursive ?? true);
}

/** Kills an actor: its pending and later calls reject ActorDiedError. */
export function kill(actor: ActorHandle<unknown> | ActorHandleBase, options?: { noRestart?: boolean }): void {
  checkOptionKeys(options, ['noRestart'], 'ray.kill');
  if (!(actor instanceof ActorHandleBase)) throw new TypeError(`ray.kill takes an actor handle, got ${describe(actor)}`);
  requireCore('ray.kill').killActor(actor.actorId, options?.noRestart ?? true);
}

/**
 * The handle of the live actor with this name, in `namespace` (default: the job's, `init({ namespace
 * })`); rejects when there is none.
 */
export async function getActor<T = unknown>(name: string, options?: { namespace?: string }): Promise<ActorHandle<T>> {
  if (typeof name !== 'string' || name === '') throw new TypeError('ray.getActor takes the actor\'s name (a non-empty string)');
  checkOptionKeys(options, ['namespace'], 'ray.getActor');
  const namespace = options?.namespace;
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '')) throw new TypeError(`ray.getActor: namespace must be a non-empty string, got ${describe(namespace)}`);
  const info = await requireCore('ray.getActor').getActor(name, namespace);
  return handleOf(info) as ActorHandle<T>;
}

export function nodes(): NodeInfo[] {
  return requireCore('ray.nodes').nodes();
}

export function clusterResources(): ResourceSet {
  return requireCore('ray.clusterResources').clusterResources();
}

/**
 * The live named actors (Ray's `ray.util.list_named_actors()`); the driver's: the names in the
 * job's namespace, or with `allNamespaces` every one as `{ name, namespace }`.
 */
export function listNamedActors(allNamespaces?: false): string[];
export function listNamedActors(allNamespaces: true): { name: string; namespace: string }[];
export function listNamedActors(allNamespaces = false): string[] | { name: string; namespace: string }[] {
  const { actors, namespace } = requireCore('ray.listNamedActors').listNamedActors();
  return allNamespaces ? actors : actors.filter((a) => a.namespace === namespace).map((a) => a.name);
}

/**
 * Frees objects now (Ray's `ray._private.internal_api.free`): their values are dropped from every
 * node's store, whoever still holds their refs; a later `get` (or a task taking one as argument)
 * fails with ObjectFreedError. A pending object (its task still running) is left alone.
 */
export function free(refs: ObjectRef<unknown> | readonly ObjectRef<unknown>[]): void {
  const list = refs instanceof ObjectRef ? [refs] : refs;
  if (!Array.isArray(list)) throw new TypeError(`ray.free takes an ObjectRef or an array of them, got ${describe(refs)}`);
  list.forEach((r, i) => {
    if (!(r instanceof ObjectRef)) throw new TypeError(`ray.free: element ${i} is ${describe(r)}, not an ObjectRef`);
  });
  requireCore('ray.free').free(list.map((r) => r.id));
}

/**
 * Vouches for a node (webray only): its tasks are not spot-checked (`init({ verification: {
 * spotCheck } })`), it is never quarantined, and copies and replicas prefer it. `nodeId` as
 * `ray.nodes()` lists it.
 */
export function trustNode(nodeId: string): void {
  if (typeof nodeId !== 'string' || nodeId.length === 0) throw new TypeError(`ray.trustNode(nodeId): nodeId must be a node id string as ray.nodes() lists it, got ${typeof nodeId}`);
  requireCore('ray.trustNode').trustNode(nodeId);
}

export function availableResources(): ResourceSet {
  return requireCore('ray.availableResources').availableResources();
}

export function getRuntimeContext(): RuntimeContext {
  return requireCore('ray.getRuntimeContext').runtimeContext();
}

export function tasks(filter?: { state?: TaskState }): Promise<TaskInfo[]> {
  checkOptionKeys(filter, ['state'], 'ray.tasks');
  return requireCore('ray.tasks').tasks(filter);
}

export function timeline(): Promise<TraceEvent[]> {
  return requireCore('ray.timeline').timeline();
}

const ACTOR_STATES = ['PENDING_CREATION', 'ALIVE', 'RESTARTING', 'DEAD'] as const;

/**
 * Every actor of the session, dead ones included (Ray's `ray.util.state.list_actors`), optionally
 * in one state; the driver's.
 */
export function actors(filter?: { state?: ActorListing['state'] }): Promise<ActorListing[]> {
  checkOptionKeys(filter, ['state'], 'ray.actors');
  if (filter?.state !== undefined && !ACTOR_STATES.includes(filter.state)) {
    throw new TypeError(`ray.actors: state must be one of ${ACTOR_STATES.join(', ')}, got ${describe(filter.state)}`);
  }
  return requireCore('ray.actors').actors(filter);
}

/** Every object the cluster knows: size, state, where its copies are and who keeps it (Ray's `list_objects`); the driver's. */
export function objects(): Promise<ObjectListing[]> {
  return requireCore('ray.objects').objects();
}

/** The tasks by name, counted per state (Ray's `ray summary tasks`); the driver's. */
export function summary(): Promise<TaskSummary> {
  return requireCore('ray.summary').summary();
}

/** A WebGPU device for the current task's share of its node's GPU (tasks with numGpus > 0 only). */
export function getGpuDevice(): Promise<GPUDevice> {
  return requireCore('ray.getGpuDevice').getGpuDevice() as Promise<GPUDevice>;
}

export { GetTimeoutError };
export type { TaskId };
