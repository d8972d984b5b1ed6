// ray.util.ActorPool (Ray's python/ray/util/actor_pool.py): spreads calls over a fixed set of
// actors — each actor runs one of the pool's calls at a time, the rest wait in order — and hands
// the results back in submission order (`getNext`, `map`) or as they finish (`getNextUnordered`,
// `mapUnordered`). Promises where Ray blocks, async iterables where Ray returns generators,
// milliseconds where Ray takes seconds.

import { GetTimeoutError } from './errors.ts';
import { ObjectRef } from './object-ref.ts';
import { get, wait } from './ray-api.ts';

/** What the pool runs: a call of `actor` on `value`, returning the call's ObjectRef. */
export type PoolCall<A, V, R = unknown> = (actor: A, value: V) => ObjectRef<R>;

/** `getNext` / `getNextUnordered` options (Ray's `timeout`, `ignore_if_timedout`). */
export interface PoolGetOptions {
  /** Reject with GetTimeoutError when no result is ready within this many ms (default: wait). */
  readonly timeoutMs?: number | null;
  /** On a timeout, give up that result (its actor goes back to the pool) before rejecting. */
  readonly ignoreIfTimedOut?: boolean;
}

interface InFlight<A> {
  readonly index: number;
  readonly actor: A;
}

export class ActorPool<A extends object = object> {
  private idle: A[];
  private readonly inFlight = new Map<ObjectRef<unknown>, InFlight<A>>();
  private readonly byIndex = new Map<number, ObjectRef<unknown>>();
  private nextTaskIndex = 0;
  private nextReturnIndex = 0;
  private readonly pending: [PoolCall<A, never>, unknown][] = [];

  constructor(actors: Iterable<A>) {
    if (actors === null || typeof (actors as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
      throw new TypeError('new ray.util.ActorPool(actors): actors must be an array (or iterable) of actor handles');
    }
    this.idle = [...actors];
  }

  /**
   * Runs `fn(actor, value)` on an idle actor now, or once one is free (in submission order).
   * `fn` must return the ObjectRef of one actor call.
   */
  submit<V>(fn: PoolCall<A, V>, value: V): void {
    if (typeof fn !== 'function') throw new TypeError('ActorPool.submit(fn, value): fn must be a function (actor, value) => actor.method.remote(value)');
    const actor = this.idle.pop();
    if (actor === undefined) {
      this.pending.push([fn, value]);
      return;
    }
    const ref = fn(actor, value);
    if (!(ref instanceof ObjectRef)) {
      this.idle.push(actor);
      throw new TypeError('ActorPool: fn(actor, value) must return the ObjectRef of an actor call (e.g. actor.method.remote(value))');
    }
    this.inFlight.set(ref, { index: this.nextTaskIndex, actor });
    this.byIndex.set(this.nextTaskIndex, ref);
    this.nextTaskIndex++;
  }

  /** Whether a submitted call's result has not been taken yet. */
  hasNext(): boolean {
    return this.inFlight.size > 0;
  }

  /** The next result in submission order. Rejects (StopIteration's stand-in) when none is pending. */
  async getNext<R = unknown>(options: PoolGetOptions = {}): Promise<R> {
    if (!this.hasNext()) throw new Error('ActorPool.getNext(): no more results to get (hasNext() is false)');
    if (this.nextReturnIndex >= this.nextTaskIndex) {
      throw new Error('ActorPool.getNext(): not allowed after getNextUnordered() (results are no longer in order)');
    }
    const index = this.nextReturnIndex;
    const ref = this.byIndex.get(index)!;
    if (options.timeoutMs !== undefined && options.timeoutMs !== null) {
      const [ready] = await wait([ref], { timeoutMs: options.timeoutMs });
      if (ready.length === 0) {
        if (!options.ignoreIfTimedOut) throw new GetTimeoutError(`ActorPool.getNext(): timed out after ${options.timeoutMs} ms waiting for result ${index}`);
        this.take(ref, index);
        throw new GetTimeoutError(`ActorPool.getNext(): timed out after ${options.timeoutMs} ms; result ${index} is ignored`);
      }
    }
    this.take(ref, index);
    return (await get(ref)) as R;
  }

  /** The next result to finish, whatever its order. */
  async getNextUnordered<R = unknown>(options: PoolGetOptions = {}): Promise<R> {
    if (!this.hasNext()) throw new Error('ActorPool.getNextUnordered(): no more results to get (hasNext() is false)');
    const refs = [...this.inFlight.keys()];
    const [ready] = await wait(refs, { numReturns: 1, timeoutMs: options.timeoutMs ?? null });
    const ref = ready[0] ?? (options.ignoreIfTimedOut ? refs[0]! : undefined);
    if (ref === undefined) throw new GetTimeoutError(`ActorPool.getNextUnordered(): timed out after ${options.timeoutMs} ms waiting for a result`);
    const { index } = this.inFlight.get(ref)!;
    this.take(ref, index);
    this.nextReturnIndex = Math.max(this.nextReturnIndex, index + 1);
    if (ready.length === 0) throw new GetTimeoutError(`ActorPool.getNextUnordered(): timed out after ${options.timeoutMs} ms; result ${index} is ignored`);
    return (await get(ref)) as R;
  }

  /** Runs `fn` over `values` on the pool: the results in the order of `values`. Earlier results not taken are dropped. */
  map<V, R = unknown>(fn: PoolCall<A, V, R>, values: Iterable<V>): AsyncIterableIterator<R> {
    this.dropUntaken();
    for (const v of values) this.submit(fn, v);
    return this.results<R>(() => this.getNext<R>());
  }

  /** As `map`, with the results in the order they finish. */
  mapUnordered<V, R = unknown>(fn: PoolCall<A, V, R>, values: Iterable<V>): AsyncIterableIterator<R> {
    this.dropUntaken();
    for (const v of values) this.submit(fn, v);
    return this.results<R>(() => this.getNextUnordered<R>());
  }

  /** Whether an actor is idle and no call waits for one. */
  hasFree(): boolean {
    return this.idle.length > 0 && this.pending.length === 0;
  }

  /** Takes an idle actor out of the pool (undefined when none is free). */
  popIdle(): A | undefined {
    return this.hasFree() ? this.idle.pop() : undefined;
  }

  /** Adds an actor to the pool; throws when it already belongs to it. */
  push(actor: A): void {
    const busy = [...this.inFlight.values()].some((f) => f.actor === actor);
    if (busy || this.idle.includes(actor)) throw new Error('ActorPool.push(actor): the actor already belongs to this pool');
    this.returnActor(actor);
  }

  private async *results<R>(next: () => Promise<R>): AsyncIterableIterator<R> {
    while (this.hasNext()) yield await next();
  }

  /** The result at `ref` is taken (or given up): its actor goes back to the pool. */
  private take(ref: ObjectRef<unknown>, index: number): void {
    const f = this.inFlight.get(ref)!;
    this.inFlight.delete(ref);
    this.byIndex.delete(index);
    if (index === this.nextReturnIndex) this.nextReturnIndex++;
    this.returnActor(f.actor);
  }

  private returnActor(actor: A): void {
    this.idle.push(actor);
    const next = this.pending.shift();
    if (next) this.submit(next[0], next[1] as never);
  }

  /** Drops results not taken yet (Ray's map starts from a clean pool). */
  private dropUntaken(): void {
    this.pending.length = 0;
    for (const [ref, f] of [...this.inFlight]) this.take(ref, f.index);
    this.nextReturnIndex = this.nextTaskIndex;
  }
}
