// ray.util.Queue (Ray's python/ray/util/queue.py): a first-in first-out queue kept by an actor, so
// that drivers and tasks on any tab of the cluster can share it — producer/consumer pipelines. A
// Queue can be passed to tasks and actors (it travels as its actor's handle). Promises where Ray
// blocks, milliseconds where Ray takes seconds; `Empty` and `Full` as Ray's queue.Empty / queue.Full.

import { type ActorHandleBase, revivedHandle, type ActorClass } from './actor.ts';
import { RayTaskError } from './errors.ts';
import { type ObjectRef } from './object-ref.ts';
import { get, kill, remote } from './ray-api.ts';
import { HANDLE_MARKER, registerReviver, type Marker } from './serialization.ts';

/** `get` found the queue empty (at once with `block: false`, or after `timeoutMs`). */
export class Empty extends Error {
  override readonly name = 'Empty';
}

/** `put` found the queue full (at once with `block: false`, or after `timeoutMs`). */
export class Full extends Error {
  override readonly name = 'Full';
}

/** `put` / `get` options, as Ray's `block` and `timeout`. */
export interface QueueOptions {
  /** Wait for room (put) or an item (get); false: fail at once with Full / Empty. Default true. */
  readonly block?: boolean;
  /** With `block`, give up after this many ms (Full / Empty); default: wait. */
  readonly timeoutMs?: number | null;
}

/**
 * The queue's actor (shipped as source, so self-contained): items in order, and the callers waiting
 * for an item or for room, served first come first served. Its methods are async, so a waiting
 * `get` does not hold up a `put` (an async actor runs its calls side by side).
 */
class QueueActor {
  private readonly items: unknown[] = [];
  private readonly getters: ((v: { item: unknown }) => void)[] = [];
  private readonly putters: (() => void)[] = [];

  constructor(private readonly maxsize: number) {}

  qsize(): number {
    return this.items.length;
  }

  empty(): boolean {
    return this.items.length === 0;
  }

  full(): boolean {
    return this.maxsize > 0 && this.items.length >= this.maxsize;
  }

  putNowait(item: unknown): void {
    const getter = this.getters.shift();
    if (getter) return getter({ item });
    if (this.full()) throw Object.assign(new Error(`the queue is full (maxsize ${this.maxsize})`), { name: 'Full' });
    this.items.push(item);
  }

  getNowait(): unknown {
    if (this.items.length === 0) throw Object.assign(new Error('the queue is empty'), { name: 'Empty' });
    const item = this.items.shift();
    this.putters.shift()?.();
    return item;
  }

  async put(item: unknown, timeoutMs: number | null): Promise<void> {
    while (this.full() && this.getters.length === 0) {
      if (!(await this.waitFor(this.putters, timeoutMs))) throw Object.assign(new Error(`the queue stayed full for ${timeoutMs} ms`), { name: 'Full' });
    }
    this.putNowait(item);
  }

  async get(timeoutMs: number | null): Promise<unknown> {
    if (this.items.length > 0) return this.getNowait();
    let settle!: (v: { item: unknown }) => void;
    const got = new Promise<{ item: unknown }>((r) => (settle = r));
    this.getters.push(settle);
    const timer = timeoutMs === null ? undefined : new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs));
    const v = await (timer ? Promise.race([got, timer]) : got);
    if (v) return v.item;
    const i = this.getters.indexOf(settle);
    if (i >= 0) this.getters.splice(i, 1);
    throw Object.assign(new Error(`the queue stayed empty for ${timeoutMs} ms`), { name: 'Empty' });
  }

  /** Waits until woken (true) or `timeoutMs` passes (false). */
  private waitFor(waiters: (() => void)[], timeoutMs: number | null): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = (): void => resolve(true);
      waiters.push(wake);
      if (timeoutMs !== null) {
        setTimeout(() => {
          const i = waiters.indexOf(wake);
          if (i >= 0) waiters.splice(i, 1);
          resolve(false);
        }, timeoutMs);
      }
    });
  }
}

type QueueActorHandle = ActorHandleBase & {
  [K in 'qsize' | 'empty' | 'full' | 'putNowait' | 'getNowait' | 'put' | 'get']: { remote(...args: unknown[]): ObjectRef<unknown> };
};

let queueActorClass: ActorClass<typeof QueueActor> | undefined;

export class Queue<T = unknown> {
  readonly maxsize: number;
  /** @internal The actor that keeps the items. */
  readonly actor: QueueActorHandle;

  /** `maxsize`: most items held (0, the default: no limit). `actorOptions`: options of the queue's actor (e.g. its node). */
  constructor(opts: { maxsize?: number; actorOptions?: Record<string, unknown> } = {}, actor?: QueueActorHandle) {
    const maxsize = opts.maxsize ?? 0;
    if (!Number.isInteger(maxsize) || maxsize < 0) throw new TypeError(`new ray.util.Queue({ maxsize }): maxsize must be a whole number ≥ 0 (0: no limit), got ${String(maxsize)}`);
    this.maxsize = maxsize;
    if (actor) {
      this.actor = actor;
      return;
    }
    queueActorClass ??= remote({ numCpus: 0 }, QueueActor);
    const cls = opts.actorOptions ? queueActorClass.options(opts.actorOptions) : queueActorClass;
    this.actor = cls.remote(maxsize);
  }

  /** Items in the queue now. */
  size(): Promise<number> {
    return get(this.actor.qsize.remote()) as Promise<number>;
  }

  empty(): Promise<boolean> {
    return get(this.actor.empty.remote()) as Promise<boolean>;
  }

  full(): Promise<boolean> {
    return get(this.actor.full.remote()) as Promise<boolean>;
  }

  /** Adds an item, waiting for room unless `block: false`; rejects with `Full` when there is none in time. */
  put(item: T, opts: QueueOptions = {}): Promise<void> {
    const timeoutMs = checkTimeout(opts, 'put');
    const ref = opts.block === false ? this.actor.putNowait.remote(item) : this.actor.put.remote(item, timeoutMs);
    return unwrap(get(ref)) as Promise<void>;
  }

  /** Takes the oldest item, waiting for one unless `block: false`; rejects with `Empty` when none comes in time. */
  get(opts: QueueOptions = {}): Promise<T> {
    const timeoutMs = checkTimeout(opts, 'get');
    const ref = opts.block === false ? this.actor.getNowait.remote() : this.actor.get.remote(timeoutMs);
    return unwrap(get(ref)) as Promise<T>;
  }

  putNowait(item: T): Promise<void> {
    return this.put(item, { block: false });
  }

  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /** Ends the queue's actor (Ray's `shutdown`): its items are gone, later calls reject with ActorDiedError. */
  shutdown(): void {
    kill(this.actor);
  }

  /** A Queue travels to tasks and actors as its actor's handle. */
  [HANDLE_MARKER](): Marker {
    const m = this.actor[HANDLE_MARKER]();
    return { ...m, __webray__: 'queue', maxsize: this.maxsize };
  }
}

registerReviver('queue', (m) =>
  new Queue(
    { maxsize: m.maxsize as number },
    revivedHandle(m) as QueueActorHandle,
  ),
);

function checkTimeout(opts: QueueOptions, op: string): number | null {
  const t = opts.timeoutMs ?? null;
  if (t !== null && (typeof t !== 'number' || !(t >= 0))) throw new TypeError(`Queue.${op}: timeoutMs must be a number ≥ 0 (or null to wait), got ${String(t)}`);
  return t;
}

/** The queue actor's Full / Empty come back inside a RayTaskError: they are raised as Ray's queue.Full / queue.Empty. */
function unwrap<V>(p: Promise<V>): Promise<V> {
  return p.catch((e: unknown) => {
    const cause = e instanceof RayTaskError ? e.cause : undefined;
    if (cause?.name === 'Empty') throw new Empty(cause.message);
    if (cause?.name === 'Full') throw new Full(cause.message);
    throw e;
  });
}
