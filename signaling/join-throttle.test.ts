import { describe, expect, it } from 'vitest';
import { DEFAULT_JOIN_THROTTLE_LIMITS, JoinThrottle, newStrikeRecord } from './join-throttle.ts';

describe('JoinThrottle', () => {
  it('lets a socket fail three joins at once, then doubles its wait from 1 s up to 60 s', () => {
    const t = new JoinThrottle();
    const socket = newStrikeRecord();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      waits.push(t.waitMs(socket, '10.0.0.1', 0));
      t.strike(socket, '10.0.0.1', 0);
    }
    expect(waits).toEqual([0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
    expect(t.waitMs(socket, '10.0.0.1', 0)).toBe(60_000); // 64 s, capped
    expect(t.waitMs(socket, '10.0.0.1', 59_000)).toBe(1_000);
    expect(t.waitMs(socket, '10.0.0.1', 60_000)).toBe(0);
  });

  it('says disconnect at the socket’s tenth strike', () => {
    const t = new JoinThrottle();
    const socket = newStrikeRecord();
    const verdicts = Array.from({ length: 10 }, () => t.strike(socket, 'a', 0));
    expect(verdicts.lastIndexOf('refuse')).toBe(8);
    expect(verdicts[9]).toBe('disconnect');
  });

  it('makes a new socket from a guessing address wait, once the address is past its ten free strikes', () => {
    const t = new JoinThrottle();
    for (let i = 0; i < 10; i++) t.strike(newStrikeRecord(), '10.0.0.1', 0); // ten sockets, one strike each
    expect(t.waitMs(newStrikeRecord(), '10.0.0.1', 0)).toBe(1_000);
    expect(t.waitMs(newStrikeRecord(), '10.0.0.2', 0)).toBe(0); // other addresses are not affected
    t.strike(newStrikeRecord(), '10.0.0.1', 500);
    expect(t.waitMs(newStrikeRecord(), '10.0.0.1', 500)).toBe(2_000);
  });

  it('forgets an address after ten minutes without a strike', () => {
    const t = new JoinThrottle();
    for (let i = 0; i < 12; i++) t.strike(newStrikeRecord(), 'a', 0);
    expect(t.strikesOf('a', 599_999)).toBe(12);
    expect(t.strikesOf('a', 600_000)).toBe(0);
    expect(t.waitMs(newStrikeRecord(), 'a', 600_000)).toBe(0);
    expect(t.trackedAddresses).toBe(0);
  });

  it('remembers at most maxAddresses, forgetting the least recently struck', () => {
    const t = new JoinThrottle({ ...DEFAULT_JOIN_THROTTLE_LIMITS, maxAddresses: 3 });
    for (const a of ['a', 'b', 'c']) t.strike(newStrikeRecord(), a, 0);
    t.strike(newStrikeRecord(), 'a', 1); // a is now the most recent
    t.strike(newStrikeRecord(), 'd', 2);
    expect(t.trackedAddresses).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((x) => t.strikesOf(x, 3))).toEqual([2, 0, 1, 1]);
  });
});
