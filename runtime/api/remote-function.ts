// RemoteFunction: what `ray.remote(fn)` returns (Ray's RemoteFunction). `.remote(...)` submits a
// task and returns its ObjectRef(s) at once; `.options(...)` returns a new handle.

import { randomPrefix, type FunctionId } from '../protocol/ids.ts';
import type { FunctionDescriptor, SchedulingStrategy, TaskSpec } from '../protocol/task-spec.ts';
import { requireCore } from './core.ts';
import { makeDescriptor } from './function-descriptor.ts';
import type { ObjectRef } from './object-ref.ts';
import type { ObjectRefGenerator } from './object-ref-generator.ts';
import { retryExceptionNames, validateTaskOptions, type TaskOptions } from './options.ts';
import { replicationFields, resolveReplication } from './replication.ts';
import { HANDLE_MARKER, registerReviver, type Marker } from './serialization.ts';
import { buildArgs, buildResources, returnsOf } from './task-builder.ts';

type Validated = ReturnType<typeof validateTaskOptions>;

/** What `.remote()` returns for a function of this shape. */
export type RemoteReturn<F> = F extends (...args: never[]) => infer R ? RefsFor<R> : never;

/** What a call returning `R` gives: a generator's refs stream; a body that only throws (`never`) still gives one ref. */
export type RefsFor<R> = [R] extends [never]
  ? ObjectRef<never>
  : [R] extends [AsyncGenerator<infer Y> | Generator<infer Y>]
    ? ObjectRefGenerator<Y>
    : ObjectRef<Awaited<R>>;

/** An argument may be given as a value or as an ObjectRef to one. */
export type RemoteArgs<A extends readonly unknown[]> = { [K in keyof A]: A[K] | ObjectRef<A[K]> };

const DEFAULT_MAX_RETRIES = 3;

export class RemoteFunction<F extends (...args: never[]) => unknown = (...args: never[]) => unknown> {
  readonly descriptor: FunctionDescriptor;
  private readonly opts: Validated;
  private readonly numReturns: number | 'streaming';
  private readonly resources: Readonly<Record<string, number>>;
  private readonly taskName: string;

  constructor(descriptor: FunctionDescriptor, opts: Validated) {
    this.descriptor = descriptor;
    this.opts = opts;
    const streaming = descriptor.kind === 'generator' || descriptor.kind === 'async-generator';
    this.numReturns = opts.numReturns ?? (streaming ? 'streaming' : 1);
    if (this.numReturns === 'streaming' && !streaming) {
      throw new TypeError(`numReturns: 'streaming' needs a generator function; ${descriptor.name} is not one`);
    }
    this.resources = buildResources(opts.numCpus ?? 1, opts.numGpus, opts.resources);
    this.taskName = opts.name ?? descriptor.name;
  }

  /** Makes a handle from a function and its (unvalidated) options. */
  static define<F extends (...args: never[]) => unknown>(fn: F, rawOptions: unknown): RemoteFunction<F> {
    const opts = validateTaskOptions(rawOptions, `ray.remote(${fn.name || 'anonymous function'})`);
    const { scope, ...rest } = opts;
    const desc = makeDescriptor(newFunctionId(), fn, fn.name || 'anonymous', scope, rest);
    return new RemoteFunction<F>(desc, opts);
  }

  /** Submits a task running this function with these arguments. */
  remote(...args: RemoteArgs<Parameters<F>>): RemoteReturn<F> {
    const core = requireCore(`${this.taskName}.remote()`);
    const replication = resolveReplication(this.opts, `${this.taskName}.remote()`);
    if (replication.replicas > 1 && this.numReturns === 'streaming') {
      throw new TypeError(`${this.taskName}.remote(): a streaming generator cannot be verified with replicas (its items are not compared); use replicas: 1, or return an array`);
    }
    core.registerFunction(this.descriptor);
    const taskId = core.ids.taskId();
    const o = this.opts;
    const spec: TaskSpec = {
      taskId,
      kind: 'normal',
      name: this.taskName,
      fnId: this.descriptor.fnId,
      args: buildArgs(args, this.taskName),
      numReturns: this.numReturns,
      resources: this.resources,
      maxRetries: o.maxRetries ?? DEFAULT_MAX_RETRIES,
      retryExceptions: retryExceptionNames(o.retryExceptions),
      strategy: (o.schedulingStrategy ?? 'DEFAULT') as SchedulingStrategy,
      enableTaskEvents: o.enableTaskEvents ?? true,
      generatorBackpressure: o.generatorBackpressureNumObjects ?? 0,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.maxCalls ? { maxCalls: o.maxCalls } : {}),
      ...replicationFields(replication),
      parentTaskId: core.currentTaskId(),
      callerId: core.callerId,
    };
    core.submitTask(spec);
    return returnsOf(taskId, this.numReturns) as RemoteReturn<F>;
  }

  /** A new handle with these options overriding the current ones, for one call or many. */
  options(overrides: TaskOptions): RemoteFunction<F> {
    const checked = validateTaskOptions(overrides, `${this.taskName}.options()`);
    if (checked.scope) throw new TypeError(`scope can only be given to ray.remote(), not to .options()`);
    return new RemoteFunction<F>(this.descriptor, { ...this.opts, ...checked });
  }

  /** Functions cannot be called directly, as in Ray: use `.remote()`. */
  call(): never {
    throw new TypeError(`remote function ${this.taskName} cannot be called directly; use ${this.taskName}.remote(...)`);
  }

  [HANDLE_MARKER](): Marker {
    const { scope: _scope, ...opts } = this.opts;
    return { __webray__: 'function', desc: this.descriptor, opts };
  }

  toString(): string {
    return `RemoteFunction(${this.taskName})`;
  }
}

const FUNCTION_ID_PREFIX = randomPrefix();
let fnCounter = 0;
/** Function ids are minted where `ray.remote` runs, before or after `init`. */
export function newFunctionId(): FunctionId {
  return `${FUNCTION_ID_PREFIX}f${(fnCounter++).toString(36)}` as FunctionId;
}

registerReviver('function', (m) => new RemoteFunction(m.desc as FunctionDescriptor, m.opts as Validated));
