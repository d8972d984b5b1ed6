import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from './constants.ts';
import { CONTROL_LANE, DATA_LANE, FrameError, frames, Reassembler } from './framing.ts';

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Byte equality without the matcher's per-element diffing (slow on half a megabyte). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

describe('framing', () => {
  it('cuts a message into frames no larger than the data channel allows', () => {
    const msg = bytes(3 * MAX_FRAME_BYTES + 17);
    const fs = [...frames(DATA_LANE, 7, msg)];
    expect(fs).toHaveLength(4);
    for (const f of fs) expect(f.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('sends an empty message as one frame', () => {
    const fs = [...frames(CONTROL_LANE, 1, new Uint8Array(0))];
    expect(fs).toHaveLength(1);
    const r = new Reassembler(1 << 20);
    expect(r.push(fs[0]!)).toEqual({ lane: CONTROL_LANE, bytes: new Uint8Array(0) });
  });

  it('puts interleaved messages of two lanes back together, byte for byte', () => {
    const big = bytes(2 * MAX_FRAME_BYTES + 5, 3);
    const small = bytes(100, 9);
    const bigFrames = [...frames(DATA_LANE, 1, big)];
    const smallFrames = [...frames(CONTROL_LANE, 2, small)];
    const r = new Reassembler(1 << 24);
    const out: { lane: number; bytes: Uint8Array }[] = [];
    // A control message overtakes the bulk transfer between two of its frames.
    for (const f of [bigFrames[0]!, smallFrames[0]!, bigFrames[1]!, bigFrames[2]!]) {
      const whole = r.push(f);
      if (whole) out.push(whole);
    }
    expect(out.map((o) => o.lane)).toEqual([CONTROL_LANE, DATA_LANE]);
    expect(same(out[0]!.bytes, small)).toBe(true);
    expect(same(out[1]!.bytes, big)).toBe(true);
  });

  it('builds frames in a scratch buffer when given one, each sent (copied) before the next', () => {
    const big = bytes(2 * MAX_FRAME_BYTES + 5, 4);
    const small = bytes(100, 8);
    const scratch = new Uint8Array(MAX_FRAME_BYTES).fill(0xee);
    const bigIt = frames(DATA_LANE, 1, big, scratch);
    const smallIt = frames(CONTROL_LANE, 2, small, scratch);
    // As a sender pumps two lanes: take a frame from either, "send" it (a copy), take the next.
    const sent: Uint8Array[] = [];
    const take = (it: Iterator<Uint8Array>): void => {
      const f = it.next().value as Uint8Array;
      expect(f.buffer).toBe(scratch.buffer);
      sent.push(f.slice());
    };
    take(bigIt);
    take(smallIt);
    take(bigIt);
    take(bigIt);
    expect(bigIt.next().done).toBe(true);
    expect(same(sent[1]!, [...frames(CONTROL_LANE, 2, small)][0]!)).toBe(true);
    const r = new Reassembler(1 << 24);
    const out = sent.map((f) => r.push(f)).filter((x) => x !== undefined);
    expect(out.map((o) => o.lane)).toEqual([CONTROL_LANE, DATA_LANE]);
    expect(same(out[0]!.bytes, small)).toBe(true);
    expect(same(out[1]!.bytes, big)).toBe(true);
    expect(() => frames(DATA_LANE, 3, small, new Uint8Array(10)).next()).toThrow(RangeError);
  });

  it('refuses a frame shorter than its header or on an unknown lane', () => {
    const r = new Reassembler(1 << 20);
    expect(() => r.push(new Uint8Array(FRAME_HEADER_BYTES - 1))).toThrow(FrameError);
    const f = [...frames(CONTROL_LANE, 1, bytes(10))][0]!;
    f[0] = 9;
    expect(() => r.push(f)).toThrow(/unknown lane 9/);
  });

  it('drops partial messages that grow past the limit instead of buffering without bound', () => {
    const r = new Reassembler(MAX_FRAME_BYTES);
    const fs = [...frames(DATA_LANE, 1, bytes(3 * MAX_FRAME_BYTES))];
    expect(r.push(fs[0]!)).toBeUndefined();
    expect(() => r.push(fs[1]!)).toThrow(/exceed/);
    // The reassembler still works for the next message.
    const ok = [...frames(CONTROL_LANE, 2, bytes(5))][0]!;
    expect(r.push(ok)?.bytes).toEqual(bytes(5));
  });

  it('holds at most one partial message per lane: a second message starting before the first ends is refused', () => {
    const r = new Reassembler(1 << 24);
    const first = [...frames(DATA_LANE, 1, bytes(2 * MAX_FRAME_BYTES))];
    const second = [...frames(DATA_LANE, 2, bytes(2 * MAX_FRAME_BYTES))];
    expect(r.push(first[0]!)).toBeUndefined();
    expect(() => r.push(second[0]!)).toThrow(/message 2 began on the data lane before message 1 ended/);
    // The refused pair is dropped whole; a control message of its own passes, then a fresh data message.
    expect(r.push([...frames(CONTROL_LANE, 3, bytes(5))][0]!)?.bytes).toEqual(bytes(5));
    const third = [...frames(DATA_LANE, 4, bytes(MAX_FRAME_BYTES + 1, 6))];
    expect(r.push(third[0]!)).toBeUndefined();
    expect(same(r.push(third[1]!)!.bytes, bytes(MAX_FRAME_BYTES + 1, 6))).toBe(true);
  });

  it('applies each lane its own limit, to single-frame messages too', () => {
    const r = new Reassembler({ control: 100, data: 2 * MAX_FRAME_BYTES });
    expect(() => r.push([...frames(CONTROL_LANE, 1, bytes(101))][0]!)).toThrow(/control message of 101 bytes exceeds 100 bytes/);
    expect(r.push([...frames(CONTROL_LANE, 2, bytes(100))][0]!)?.bytes).toEqual(bytes(100));
    const twoFrames = 2 * (MAX_FRAME_BYTES - FRAME_HEADER_BYTES);
    const data = [...frames(DATA_LANE, 3, bytes(twoFrames))];
    expect(r.push(data[0]!)).toBeUndefined();
    expect(r.push(data[1]!)?.bytes.length).toBe(twoFrames);
    const tooBig = [...frames(DATA_LANE, 4, bytes(3 * MAX_FRAME_BYTES))];
    expect(r.push(tooBig[0]!)).toBeUndefined();
    expect(r.push(tooBig[1]!)).toBeUndefined();
    expect(() => r.push(tooBig[2]!)).toThrow(/data message grew past/);
  });
});
