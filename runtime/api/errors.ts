// webray's error classes, named and shaped after Ray's python/ray/exceptions.py. They cross
// boundaries as WireError and are rebuilt into the same class; callers test `instanceof`.

import { MAX_ERROR_CAUSE_DEPTH, MAX_ERROR_TEXT_CHARS, MAX_NAME_CHARS, MAX_SMALL_ITEMS } from '../protocol/limits.ts';
import type { WireError } from '../protocol/wire-error.ts';

const TASK_ERROR_BRAND = Symbol.for('webray.RayTaskError');

/** Base class of every webray error. */
export class RayError extends Error {
  static [Symbol.hasInstance](x: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    if (typeof x !== 'object' || x === null) return false;
    // A RayTaskError whose remote error was a built-in class (TypeError, …) extends that class,
    // yet is still a RayTaskError and a RayError.
    const taskError = (x as Record<symbol, unknown>)[TASK_ERROR_BRAND] === true || Function.prototype[Symbol.hasInstance].call(RayTaskError, x);
    if (!taskError) return false;
    if (this === RayError || this === RayTaskError) return true;
    // A task that re-raised a webray error (a cancelled child's TaskCancelledError, a dead actor's
    // ActorDiedError) failed with it: its RayTaskError is an instance of that class too, as Ray's
    // `as_instanceof_cause`. Followed through nested task errors, a bounded number of levels.
    let cause = (x as { cause?: unknown }).cause;
    for (let depth = 0; depth < MAX_ERROR_CAUSE_DEPTH + 1 && typeof cause === 'object' && cause !== null; depth++) {
      if (Function.prototype[Symbol.hasInstance].call(this, cause)) return true;
      const nested = (cause as Record<symbol, unknown>)[TASK_ERROR_BRAND] === true || Function.prototype[Symbol.hasInstance].call(RayTaskError, cause);
      if (!nested) return false;
      cause = (cause as { cause?: unknown }).cause;
    }
    return false;
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The task (or actor method) threw. `cause` is the remote error, rebuilt with its remote stack. */
export class RayTaskError extends RayError {
  declare readonly cause: Error;
  readonly taskName: string;

  constructor(taskName: string, cause: Error) {
    super(taskErrorMessage(taskName, cause), { cause });
    this.taskName = taskName;
  }
}

function taskErrorMessage(taskName: string, cause: Error): string {
  return `task ${taskName} failed: ${cause.name}: ${cause.message}`;
}

/** The task was cancelled with `ray.cancel` before it finished. */
export class TaskCancelledError extends RayError {}
/** `ray.get` did not see the object within `timeoutMs`; the task goes on running. */
export class GetTimeoutError extends RayError {}
/** The Web Worker running the task died (crashed, closed itself, or was terminated). */
export class WorkerCrashedError extends RayError {}
/** The task was still running `timeoutMs` after it started: its worker was terminated (no retries left). */
export class TaskTimeoutError extends RayError {}
/** The node (tab) running the task left or died and no retries were left. */
export class NodeDiedError extends RayError {}
/** Every copy of the object is gone and it cannot be recomputed (e.g. it came from `put`). */
export class ObjectLostError extends RayError {}
/** The object was freed with `ray.free()` (Ray's internal_api.free): its value is gone on every node. */
export class ObjectFreedError extends RayError {}
/** Memory and IndexedDB quota are both full. */
export class ObjectStoreFullError extends RayError {}
/** The actor is dead: killed, its constructor failed, or it crashed with no restarts left. */
export class ActorDiedError extends RayError {}
/** The task can never be scheduled (a hard node affinity to a node that is gone). */
export class TaskUnschedulableError extends RayError {}
/** The runtime itself failed (a protocol error, a broken channel). */
export class RaySystemError extends RayError {}

/** What one replica of a verified task reported: the SHA-256 of its result's bytes, or its error. */
export interface ReplicaReport {
  readonly nodeId: string;
  /** Hex SHA-256 of the result (common/result-hash.ts), when the replica returned one. */
  readonly sha256?: string;
  /** `Name: message` of the replica's error, when it failed instead. */
  readonly error?: string;
}

/**
 * A task run with `replicas > 1` whose replicas reached no majority on one result, even after
 * running up to `maxReplicas`: no result is returned. `reports` lists each node with the hash it
 * reported (or its error).
 */
export class ResultMismatchError extends RayError {
  readonly taskName: string;
  readonly reports: readonly ReplicaReport[];

  constructor(taskName: string, reports: readonly ReplicaReport[], message = resultMismatchMessage(taskName, reports)) {
    super(message);
    this.taskName = taskName;
    this.reports = reports;
  }
}

function resultMismatchMessage(taskName: string, reports: readonly ReplicaReport[]): string {
  const lines = reports.map((r) => `  node ${r.nodeId}: ${r.sha256 !== undefined ? `sha256 ${r.sha256}` : `error ${r.error ?? 'unknown'}`}`);
  return (
    `task ${taskName}: its ${reports.length} replicas reached no majority on one result, so none is returned ` +
    `(results are compared by SHA-256 of their bytes; make the task deterministic, e.g. take randomness from ` +
    `ray.getRuntimeContext().seed):\n${lines.join('\n')}`
  );
}

/** The reports of a ResultMismatchError as its wire props carry them (a JSON text: props hold only scalars). */
function reportsFromWire(text: unknown): ReplicaReport[] {
  if (typeof text !== 'string') return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return [];
    const out: ReplicaReport[] = [];
    for (const r of parsed.slice(0, MAX_SMALL_ITEMS) as unknown[]) {
      if (typeof r !== 'object' || r === null) continue;
      const { nodeId, sha256, error } = r as Record<string, unknown>;
      if (typeof nodeId !== 'string') continue;
      out.push({
        nodeId: bounded(nodeId, MAX_NAME_CHARS),
        ...(typeof sha256 === 'string' ? { sha256: bounded(sha256, MAX_NAME_CHARS) } : {}),
        ...(typeof error === 'string' ? { error: bounded(error, MAX_NAME_CHARS) } : {}),
      });
    }
    return out;
  } catch {
    return [];
  }
}

const RAY_ERRORS: Record<string, new (message: string) => RayError> = {
  RayError,
  TaskCancelledError,
  GetTimeoutError,
  WorkerCrashedError,
  TaskTimeoutError,
  NodeDiedError,
  ObjectLostError,
  ObjectFreedError,
  ObjectStoreFullError,
  ActorDiedError,
  TaskUnschedulableError,
  RaySystemError,
};

const BUILTIN_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  EvalError,
  URIError,
};

/** The names of an error's class chain, most derived first: `['MyError', 'Error']`. */
export function classChainOf(err: unknown): string[] {
  const names: string[] = [];
  if (typeof err !== 'object' || err === null) return names;
  let proto = Object.getPrototypeOf(err) as { constructor?: { name?: string } } | null;
  while (proto && proto !== Object.prototype) {
    const name = proto.constructor?.name;
    if (name && names[names.length - 1] !== name) names.push(name);
    proto = Object.getPrototypeOf(proto) as typeof proto;
  }
  return names;
}

/** Text cut to what a message may carry across a boundary (protocol/limits.ts). */
function bounded(text: string, max = MAX_ERROR_TEXT_CHARS): string {
  return text.length > max ? text.slice(0, max) : text;
}

/**
 * Turns anything thrown into a WireError within the bounds the receiving side checks
 * (protocol/limits.ts): texts cut, and the `cause` chain cut after `causesLeft` levels (one level
 * is left for the RayTaskError a worker wraps it in; a cyclic chain ends there too).
 */
export function toWireError(err: unknown, causesLeft = MAX_ERROR_CAUSE_DEPTH - 1): WireError {
  const causeOf = (c: unknown): WireError | undefined => (c === undefined || causesLeft <= 0 ? undefined : toWireError(c, causesLeft - 1));
  if (err instanceof RayTaskError) {
    const cause = causesLeft <= 0 ? undefined : toWireError(err.cause, causesLeft - 1);
    return {
      name: 'RayTaskError',
      message: bounded(err.message),
      stack: err.stack === undefined ? undefined : bounded(err.stack),
      ...(cause ? { cause } : {}),
      props: { taskName: bounded(err.taskName) },
    };
  }
  if (err instanceof ResultMismatchError) {
    return {
      name: 'ResultMismatchError',
      message: bounded(err.message),
      stack: err.stack === undefined ? undefined : bounded(err.stack),
      props: { taskName: bounded(err.taskName), reports: bounded(JSON.stringify(err.reports.slice(0, MAX_SMALL_ITEMS))) },
    };
  }
  if (err instanceof Error) {
    const cause = causeOf(err.cause);
    const classChain = classChainOf(err)
      .slice(0, MAX_SMALL_ITEMS)
      .map((n) => bounded(n, MAX_NAME_CHARS));
    const props = ownFields(err);
    return {
      name: bounded(nameOf(err, classChain[0]), MAX_NAME_CHARS),
      message: bounded(String(err.message)),
      stack: err.stack === undefined ? undefined : bounded(String(err.stack)),
      classChain,
      ...(cause ? { cause } : {}),
      ...(props ? { props } : {}),
    };
  }
  let message: string;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { name: 'Error', message: bounded(`non-Error value thrown: ${message}`), classChain: [] };
}

/**
 * An error's name as sent: its `name`, unless that is only inherited from a built-in class its own
 * class extends without naming itself (`class Invalid extends Error {}` has name "Error"): then its
 * class's name, as Ray keeps an exception's class.
 */
function nameOf(err: Error, ownClass: string | undefined): string {
  const name = String(err.name);
  if (ownClass && ownClass !== name && !Object.prototype.hasOwnProperty.call(err, 'name') && BUILTIN_ERRORS[name] && !BUILTIN_ERRORS[ownClass]) return ownClass;
  return name;
}

/** Keys never copied to or from an error's fields, beyond what errors inherit (`name`, `message`, `toString`, `__proto__`, …). */
const RESERVED_FIELDS = new Set(['stack', 'cause', 'prototype']);

/** A key an error field may not take: one of the above, or anything errors inherit, which a field would shadow. */
function reservedField(key: string): boolean {
  return RESERVED_FIELDS.has(key) || key in Error.prototype;
}

/** An error's own enumerable fields that are strings, finite numbers or booleans (`err.code`, `err.field`), within bounds. */
function ownFields(err: Error): Record<string, string | number | boolean> | undefined {
  let out: Record<string, string | number | boolean> | undefined;
  let n = 0;
  for (const key of Object.keys(err)) {
    if (reservedField(key) || key.length > MAX_NAME_CHARS) continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    const kept = typeof value === 'string' ? bounded(value) : (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' ? value : undefined;
    if (kept === undefined) continue;
    (out ??= {})[key] = kept;
    if (++n >= MAX_SMALL_ITEMS) break;
  }
  return out;
}

const taskErrorClasses = new Map<string, new (taskName: string, cause: Error) => RayTaskError>();

/** The RayTaskError class for a remote error: extends TypeError when the remote was one, etc. */
function taskErrorClassFor(causeName: string): new (taskName: string, cause: Error) => RayTaskError {
  const Builtin = BUILTIN_ERRORS[causeName];
  if (!Builtin || Builtin === Error) return RayTaskError;
  let cls = taskErrorClasses.get(causeName);
  if (!cls) {
    const Derived = class extends Builtin {
      readonly taskName: string;
      constructor(taskName: string, cause: Error) {
        super(taskErrorMessage(taskName, cause), { cause });
        this.name = 'RayTaskError';
        this.taskName = taskName;
      }
    };
    Object.defineProperty(Derived, 'name', { value: `RayTaskError(${causeName})` });
    Object.defineProperty(Derived.prototype, TASK_ERROR_BRAND, { value: true });
    cls = Derived as unknown as new (taskName: string, cause: Error) => RayTaskError;
    taskErrorClasses.set(causeName, cls);
  }
  return cls;
}

/** The nearest built-in class of a remote error: its own, or the first one its class chain extends. */
function builtinOf(w: WireError): ErrorConstructor | undefined {
  for (const name of [w.name, ...(w.classChain ?? [])]) {
    const cls = BUILTIN_ERRORS[name];
    if (cls) return cls;
  }
  return undefined;
}

/** Rebuilds a WireError into the class it was sent as. */
export function fromWireError(w: WireError): Error {
  if (w.name === 'RayTaskError') {
    const cause = w.cause ? fromWireError(w.cause) : new Error(w.message);
    const taskName = typeof w.props?.taskName === 'string' ? w.props.taskName : 'unknown';
    // A subclass of a built-in error (`class BadInput extends TypeError`) is still that built-in.
    const Cls = taskErrorClassFor((w.cause && builtinOf(w.cause)?.name) ?? cause.name);
    const err = new Cls(taskName, cause);
    err.message = w.message;
    if (w.stack) err.stack = w.stack;
    return err;
  }
  if (w.name === 'ResultMismatchError') {
    const taskName = typeof w.props?.taskName === 'string' ? w.props.taskName : 'unknown';
    const err = new ResultMismatchError(taskName, reportsFromWire(w.props?.reports), w.message);
    if (w.stack !== undefined) err.stack = w.stack;
    return err;
  }
  const RayCls = RAY_ERRORS[w.name];
  const BuiltinCls = RayCls ? undefined : builtinOf(w);
  const err: Error = RayCls ? new RayCls(w.message) : BuiltinCls ? new BuiltinCls(w.message) : new Error(w.message);
  if (!RayCls && err.name !== w.name) err.name = w.name;
  if (w.stack !== undefined) err.stack = w.stack;
  if (w.cause) (err as { cause?: unknown }).cause = fromWireError(w.cause);
  // Defined, not assigned: a field named like a setter (`__proto__`) from a peer stays a plain field, or is skipped.
  for (const [key, value] of Object.entries(w.props ?? {})) {
    if (!reservedField(key)) Object.defineProperty(err, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (w.classChain) Object.defineProperty(err, 'classChain', { value: w.classChain, enumerable: false });
  return err;
}

/** A WireError for one of webray's own error classes. */
export function wireError(
  name: keyof typeof RAY_ERRORS,
  message: string,
  props?: Record<string, string | number | boolean>,
  cause?: WireError,
): WireError {
  return { name, message, ...(props ? { props } : {}), ...(cause ? { cause } : {}) };
}

/** The WireError of a ResultMismatchError (what the coordinator fails a verified task with). */
export function resultMismatchWireError(taskName: string, reports: readonly ReplicaReport[]): WireError {
  return toWireError(new ResultMismatchError(taskName, reports));
}

/** A task error wrapping a remote error, as the worker reports it. */
export function taskWireError(taskName: string, remote: WireError): WireError {
  // A task that re-throws the RayTaskError of a task it waited on wraps the original cause, not
  // the wrapper, so the error stays `instanceof` the original class (Ray avoids nesting them too).
  const cause = remote.name === 'RayTaskError' && remote.cause ? remote.cause : remote;
  return {
    name: 'RayTaskError',
    message: bounded(`task ${taskName} failed: ${cause.name}: ${cause.message}`),
    stack: cause.stack,
    cause,
    props: { taskName },
  };
}
