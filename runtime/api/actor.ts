// Actor classes and handles (Ray's ActorClass / ActorHandle / ActorMethod): `ray.remote(Class)`
// gives an ActorClass; `.remote(...)` creates the actor and returns an ActorHandle whose methods
// submit actor tasks, kept in order per caller.

import { returnId, type ActorId } from '../protocol/ids.ts';
import type { ActorInfo, FunctionDescriptor, SchedulingStrategy, TaskSpec } from '../protocol/task-spec.ts';
import { markActorCall } from './actor-call-refs.ts';
import { requireCore } from './core.ts';
import { makeDescriptor } from './function-descriptor.ts';
import {
  retryExceptionNames,
  validateActorOptions,
  validateMethodOptions,
  type ActorOptions,
  type MethodOptions,
} from './options.ts';
import { newFunctionId, type RefsFor, type RemoteArgs } from './remote-function.ts';
import { assertActorReplicable, replicationFields, resolveReplication } from './replication.ts';
import { ObjectRef, registeredRef } from './object-ref.ts';
import { HANDLE_MARKER, registerReviver, type Marker } from './serialization.ts';
import { buildArgs, buildResources, returnsOf } from './task-builder.ts';

type AnyClass = abstract new (...args: never[]) => object;
type ValidatedActor = ReturnType<typeof validateActorOptions>;
type ValidatedMethod = ReturnType<typeof validateMethodOptions>;

type MethodReturn<M> = M extends (...args: never[]) => infer R ? RefsFor<R> : never;

export interface ActorMethod<M extends (...args: never[]) => unknown> {
  remote(...args: RemoteArgs<Parameters<M>>): MethodReturn<M>;
  options(opts: MethodOptions): ActorMethod<M>;
}

/** A handle to a live actor: each method of the class, as an ActorMethod. */
export type ActorHandle<T> = ActorHandleBase & {
  readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (
    ...args: never[]
  ) => unknown
    ? ActorMethod<T[K]>
    : never;
};

function methodsOf(cls: AnyClass): { methods: string[]; streaming: string[]; anyAsync: boolean } {
  const methods: string[] = [];
  const streaming: string[] = [];
  let anyAsync = false;
  let proto = cls.prototype as object | null;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || methods.includes(key)) continue;
      const d = Object.getOwnPropertyDescriptor(proto, key);
      if (!d || typeof d.value !== 'function') continue;
      methods.push(key);
      const kind = (d.value as { constructor?: { name?: string } }).constructor?.name;
      if (kind === 'GeneratorFunction' || kind === 'AsyncGeneratorFunction') streaming.push(key);
      if (kind === 'AsyncFunction' || kind === 'AsyncGeneratorFunction') anyAsync = true;
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return { methods, streaming, anyAsync };
}

export class ActorClass<C extends AnyClass = AnyClass> {
  readonly descriptor: FunctionDescriptor;
  private readonly opts: ValidatedActor;
  private readonly methods: string[];
  private readonly streaming: string[];
  private readonly anyAsync: boolean;

  constructor(descriptor: FunctionDescriptor, opts: ValidatedActor, methods: string[], streaming: string[], anyAsync: boolean) {
    this.descriptor = descriptor;
    this.opts = opts;
    this.methods = methods;
    this.streaming = streaming;
    this.anyAsync = anyAsync;
  }

  static define<C extends AnyClass>(cls: C, rawOptions: unknown): ActorClass<C> {
    const opts = validateActorOptions(rawOptions, `ray.remote(class ${cls.name || 'anonymous'})`);
    const { scope, ...rest } = opts;
    const desc = makeDescriptor(newFunctionId(), cls as never, cls.name || 'Actor', scope, rest);
    const { methods, streaming, anyAsync } = methodsOf(cls);
    return new ActorClass<C>(desc, opts, methods, streaming, anyAsync);
  }

  /** Creates the actor; its constructor runs on the node it is placed on. */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>> {
    const core = requireCore(`${this.descriptor.name}.remote()`);
    const o = this.opts;
    const replication = resolveReplication(o, `${this.descriptor.name}.remote()`);
    assertActorReplicable(replication, o, `${this.descriptor.name}.remote()`);
    if (o.getIfExists === true && o.name === undefined) {
      throw new TypeError(`${this.descriptor.name}.remote(): getIfExists needs a name (.options({ name, getIfExists: true }))`);
    }
    if (o.namespace !== undefined && o.name === undefined) {
      throw new TypeError(`${this.descriptor.name}.remote(): namespace is where a name lives: give a name too (.options({ name, namespace }))`);
    }
    if (o.name !== undefined && core.actorNameTaken(o.name, o.namespace)) {
      const existing = o.getIfExists === true ? core.actorByName(o.name, o.namespace) : undefined;
      if (existing) return handleOf(existing) as unknown as ActorHandle<InstanceType<C>>;
      const where = o.namespace !== undefined ? ` in namespace "${o.namespace}"` : '';
      throw new Error(`an actor named "${o.name}"${where} already exists; pick another name, use ray.getActor("${o.name}"), or pass getIfExists: true`);
    }
    core.registerFunction(this.descriptor);
    const taskId = core.ids.taskId();
    const actorId = core.ids.actorId();
    const spec: TaskSpec = {
      taskId,
      kind: 'actor-creation',
      name: `${this.descriptor.name}.constructor`,
      fnId: this.descriptor.fnId,
      args: buildArgs(args, `${this.descriptor.name}.constructor`),
      numReturns: 1,
      resources: buildResources(o.numCpus ?? 1, o.numGpus, o.resources),
      heldResources: buildResources(o.numCpus ?? 0, o.numGpus, o.resources),
      maxRetries: 0,
      retryExceptions: false,
      strategy: (o.schedulingStrategy ?? 'DEFAULT') as SchedulingStrategy,
      enableTaskEvents: o.enableTaskEvents ?? true,
      generatorBackpressure: 0,
      ...replicationFields(replication),
      parentTaskId: core.currentTaskId(),
      callerId: core.callerId,
      actorId,
      actor: {
        className: this.descriptor.name,
        ...(o.name !== undefined ? { actorName: o.name } : {}),
        ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
        ...(o.name !== undefined && o.getIfExists === true ? { getIfExists: true as const } : {}),
        ...(o.lifetime === 'detached' ? { detached: true as const } : {}),
        maxRestarts: o.maxRestarts ?? 0,
        maxTaskRetries: o.maxTaskRetries ?? 0,
        // A replicated actor runs its calls one at a time on each replica, in the same order.
        maxConcurrency: o.maxConcurrency ?? (this.anyAsync && replication.replicas === 1 ? 1000 : 1),
        methods: this.methods,
        streamingMethods: this.streaming,
      },
    };
    core.submitTask(spec);
    // The handle holds a ref to the creation's result: the actor lives while some handle does.
    const handleId = returnId(taskId, 0);
    return makeActorHandle(
      { actorId, className: this.descriptor.name, methods: this.methods, streamingMethods: this.streaming, handleId },
      registeredRef(handleId),
    ) as ActorHandle<InstanceType<C>>;
  }

  options(overrides: ActorOptions): ActorClass<C> {
    const checked = validateActorOptions(overrides, `${this.descriptor.name}.options()`);
    if (checked.scope) throw new TypeError(`scope can only be given to ray.remote(), not to .options()`);
    return new ActorClass<C>(this.descriptor, { ...this.opts, ...checked }, this.methods, this.streaming, this.anyAsync);
  }

  /** Travels as its source and options, as a remote function does: task code that receives it can create actors of it. */
  [HANDLE_MARKER](): Marker {
    const { scope: _scope, ...opts } = this.opts;
    return { __webray__: 'actor-class', desc: this.descriptor, opts, methods: this.methods, streaming: this.streaming, anyAsync: this.anyAsync };
  }

  toString(): string {
    return `ActorClass(${this.descriptor.name})`;
  }
}

registerReviver(
  'actor-class',
  (m) => new ActorClass(m.desc as FunctionDescriptor, m.opts as ValidatedActor, m.methods as string[], m.streaming as string[], m.anyAsync === true),
);

class ActorMethodImpl {
  constructor(
    private readonly info: ActorInfo,
    private readonly method: string,
    private readonly opts: ValidatedMethod,
  ) {}

  remote(...args: unknown[]): unknown {
    const core = requireCore(`${this.info.className}.${this.method}.remote()`);
    const taskId = core.ids.taskId();
    const name = this.opts.name ?? `${this.info.className}.${this.method}`;
    const streaming = this.info.streamingMethods.includes(this.method);
    const numReturns = this.opts.numReturns ?? (streaming ? 'streaming' : 1);
    const spec: TaskSpec = {
      taskId,
      kind: 'actor-method',
      name,
      method: this.method,
      args: buildArgs(args, name),
      numReturns,
      resources: {},
      maxRetries: 0,
      retryExceptions: retryExceptionNames(this.opts.retryExceptions),
      strategy: 'DEFAULT',
      enableTaskEvents: this.opts.enableTaskEvents ?? true,
      generatorBackpressure: this.opts.generatorBackpressureNumObjects ?? 0,
      parentTaskId: core.currentTaskId(),
      callerId: core.callerId,
      actorId: this.info.actorId,
    };
    core.submitTask(spec);
    return markActorCall(returnsOf(taskId, numReturns));
  }

  options(opts: MethodOptions): ActorMethodImpl {
    const checked = validateMethodOptions(opts, `${this.info.className}.${this.method}.options()`);
    return new ActorMethodImpl(this.info, this.method, { ...this.opts, ...checked });
  }
}

export class ActorHandleBase {
  readonly actorId: ActorId;
  readonly className: string;
  /** @internal */
  readonly info: ActorInfo;
  /** The ref that keeps the actor alive while this handle is reachable (none for a detached actor's older handles). */
  readonly #keep: ObjectRef | undefined;

  constructor(info: ActorInfo, keep?: ObjectRef) {
    this.actorId = info.actorId;
    this.className = info.className;
    this.info = info;
    this.#keep = keep;
    for (const m of info.methods) {
      if (m in this) continue;
      Object.defineProperty(this, m, { value: new ActorMethodImpl(info, m, {}), enumerable: false });
    }
  }

  /** Travels by reference; its `id` is the ref every handle holds, counted as nested in what carries it. */
  [HANDLE_MARKER](): Marker {
    return {
      __webray__: 'actor',
      actorId: this.info.actorId,
      className: this.info.className,
      methods: this.info.methods,
      streamingMethods: this.info.streamingMethods,
      ...(this.#keep ? { id: this.#keep.id } : {}),
    };
  }

  toString(): string {
    return `Actor(${this.className}, ${this.actorId})`;
  }
}

export function makeActorHandle(info: ActorInfo, keep?: ObjectRef): ActorHandleBase {
  return new ActorHandleBase(info, keep);
}

/** A handle to an actor the coordinator handed this process (`getActor`): it already counts the ref the handle holds. */
export function handleOf(info: ActorInfo): ActorHandleBase {
  return makeActorHandle(info, info.handleId ? registeredRef(info.handleId) : undefined);
}

/** Rebuilds a handle that arrived inside a value (an actor or queue marker): its ref is tracked as a nested one. */
export function revivedHandle(m: Marker): ActorHandleBase {
  const id = m.id;
  return makeActorHandle(
    {
      actorId: m.actorId as ActorId,
      className: m.className as string,
      methods: m.methods as string[],
      streamingMethods: m.streamingMethods as string[],
      ...(id ? { handleId: id } : {}),
    },
    id ? new ObjectRef(id) : undefined,
  );
}

registerReviver('actor', revivedHandle);
