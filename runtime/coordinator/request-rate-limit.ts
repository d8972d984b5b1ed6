// How many requests each volunteer node may make of the coordinator (constants.ts: REQUESTS_PER_S,
// REQUEST_BURST, REQUEST_FLOOD_DEBT): a token bucket per node, judged before a request is handled.

import { REQUEST_BURST, REQUEST_FLOOD_DEBT, REQUESTS_PER_S } from './constants.ts';

/** What to do with one request: handle it, refuse it, or refuse it and count a strike. */
export type RateVerdict = 'ok' | 'limited' | 'flood';

export interface RateLimits {
  readonly perSecond: number;
  readonly burst: number;
  readonly floodDebt: number;
}

export const REQUEST_RATE_LIMITS: RateLimits = { perSecond: REQUESTS_PER_S, burst: REQUEST_BURST, floodDebt: REQUEST_FLOOD_DEBT };

interface Bucket {
  /** Requests the node may still make now; negative: refused requests it owes. */
  tokens: number;
  atMs: number;
  /** Requests refused since the last one handled. */
  refused: number;
}

export class RequestRateLimit<K extends object> {
  /** Per node (its state object: a node that leaves takes its bucket with it). */
  private readonly buckets = new WeakMap<K, Bucket>();

  constructor(
    readonly limits: RateLimits = REQUEST_RATE_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one request of `node`'s allowance. */
  take(node: K): RateVerdict {
    const now = this.now();
    let b = this.buckets.get(node);
    if (!b) this.buckets.set(node, (b = { tokens: this.limits.burst, atMs: now, refused: 0 }));
    b.tokens = Math.min(this.limits.burst, b.tokens + ((now - b.atMs) * this.limits.perSecond) / 1000);
    b.atMs = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.refused = 0;
      return 'ok';
    }
    b.refused++;
    b.tokens = Math.max(b.tokens - 1, -this.limits.floodDebt);
    return b.tokens <= -this.limits.floodDebt ? 'flood' : 'limited';
  }

  /** Requests of `node` refused since the last one handled (to log the first of a run, not each). */
  refusedInARow(node: K): number {
    return this.buckets.get(node)?.refused ?? 0;
  }

  /** Why a request was refused, for the task code that made it. */
  describe(verdict: Exclude<RateVerdict, 'ok'>): string {
    const { perSecond, burst } = this.limits;
    const base = `too many requests from this node: at most ${perSecond} a second (bursts of ${burst}) are handled`;
    return verdict === 'flood' ? `${base}, and it kept sending far past that (a flood)` : `${base}; retry later`;
  }
}
