// Strikes for failed joins (wrong token, cluster nobody runs, wrong coordinator secret), per socket
// and per client address, with exponential backoff: a tab that keeps guessing is refused unexamined,
// then disconnected. No I/O and no timers: the caller passes the time.

import {
  JOIN_BACKOFF_BASE_MS,
  JOIN_BACKOFF_MAX_MS,
  JOIN_FREE_STRIKES_PER_ADDRESS,
  JOIN_FREE_STRIKES_PER_SOCKET,
  JOIN_STRIKE_MEMORY_MS,
  JOIN_STRIKES_PER_SOCKET,
  MAX_TRACKED_ADDRESSES,
} from './constants.ts';

export interface JoinThrottleLimits {
  readonly freeStrikesPerSocket: number;
  readonly freeStrikesPerAddress: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly strikesPerSocket: number;
  readonly strikeMemoryMs: number;
  readonly maxAddresses: number;
}

export const DEFAULT_JOIN_THROTTLE_LIMITS: JoinThrottleLimits = {
  freeStrikesPerSocket: JOIN_FREE_STRIKES_PER_SOCKET,
  freeStrikesPerAddress: JOIN_FREE_STRIKES_PER_ADDRESS,
  backoffBaseMs: JOIN_BACKOFF_BASE_MS,
  backoffMaxMs: JOIN_BACKOFF_MAX_MS,
  strikesPerSocket: JOIN_STRIKES_PER_SOCKET,
  strikeMemoryMs: JOIN_STRIKE_MEMORY_MS,
  maxAddresses: MAX_TRACKED_ADDRESSES,
};

/** Strikes of one socket or address, and when the last one was. */
export interface StrikeRecord {
  strikes: number;
  last: number;
}

/** A socket's own strikes; the connection handler keeps one per socket. */
export function newStrikeRecord(): StrikeRecord {
  return { strikes: 0, last: 0 };
}

export class JoinThrottle {
  /** Insertion order is recency of the last strike: the first entry is the one to forget first. */
  private readonly addresses = new Map<string, StrikeRecord>();

  constructor(readonly limits: JoinThrottleLimits = DEFAULT_JOIN_THROTTLE_LIMITS) {}

  /** Milliseconds `socket` (at `address`) must still wait before a join is examined; 0 when it may try now. */
  waitMs(socket: StrikeRecord, address: string, now: number): number {
    const bySocket = this.allowedAt(socket, this.limits.freeStrikesPerSocket);
    const a = this.address(address, now);
    const byAddress = a === undefined ? 0 : this.allowedAt(a, this.limits.freeStrikesPerAddress);
    return Math.max(0, bySocket - now, byAddress - now);
  }

  /** Counts a failed join against both; 'disconnect' when the socket has used up its strikes. */
  strike(socket: StrikeRecord, address: string, now: number): 'refuse' | 'disconnect' {
    socket.strikes++;
    socket.last = now;
    const a = this.address(address, now) ?? { strikes: 0, last: now };
    a.strikes++;
    a.last = now;
    this.addresses.delete(address);
    this.addresses.set(address, a);
    if (this.addresses.size > this.limits.maxAddresses) {
      const oldest = this.addresses.keys().next();
      if (!oldest.done) this.addresses.delete(oldest.value);
    }
    return socket.strikes >= this.limits.strikesPerSocket ? 'disconnect' : 'refuse';
  }

  /** Strikes remembered for `address` (0 once forgotten). */
  strikesOf(address: string, now: number): number {
    return this.address(address, now)?.strikes ?? 0;
  }

  /** How many addresses have strikes remembered. */
  get trackedAddresses(): number {
    return this.addresses.size;
  }

  private address(address: string, now: number): StrikeRecord | undefined {
    const a = this.addresses.get(address);
    if (a !== undefined && now - a.last >= this.limits.strikeMemoryMs) {
      this.addresses.delete(address);
      return undefined;
    }
    return a;
  }

  /** When the next join may be examined: the free strikes cost nothing, then the wait doubles. */
  private allowedAt(r: StrikeRecord, free: number): number {
    if (r.strikes < free) return 0;
    const delay = Math.min(this.limits.backoffMaxMs, this.limits.backoffBaseMs * 2 ** (r.strikes - free));
    return r.last + delay;
  }
}
