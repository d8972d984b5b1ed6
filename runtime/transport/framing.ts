// Frames: messages of any size cut into data-channel-sized pieces and put back together.
// Header (8 bytes): u8 lane, u8 flags (1 = last frame), u16 reserved, u32 message number.
// Frames of different messages may interleave (control frames overtake bulk transfers).

import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from './constants.ts';

export type Lane = 0 | 1;
export const CONTROL_LANE: Lane = 0;
export const DATA_LANE: Lane = 1;

const LAST = 1;
const MAX_PAYLOAD = MAX_FRAME_BYTES - FRAME_HEADER_BYTES;

/**
 * Cuts a message into frames. With `scratch` (at least MAX_FRAME_BYTES long) every frame is
 * written into it and yielded as a view of it, valid only until the next frame is asked for: a
 * sender that hands each frame to RTCDataChannel.send (which copies it) before asking for the
 * next saves allocating 256 KiB per frame, most of the sender's CPU time for a large object.
 */
export function* frames(lane: Lane, msgNo: number, bytes: Uint8Array, scratch?: Uint8Array): Generator<Uint8Array> {
  if (scratch && scratch.length < MAX_FRAME_BYTES) throw new RangeError(`a frame scratch buffer needs ${MAX_FRAME_BYTES} bytes`);
  let offset = 0;
  do {
    const n = Math.min(MAX_PAYLOAD, bytes.length - offset);
    const f = scratch ? scratch.subarray(0, FRAME_HEADER_BYTES + n) : new Uint8Array(FRAME_HEADER_BYTES + n);
    const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
    dv.setUint8(0, lane);
    dv.setUint8(1, offset + n >= bytes.length ? LAST : 0);
    dv.setUint16(2, 0);
    dv.setUint32(4, msgNo >>> 0);
    f.set(bytes.subarray(offset, offset + n), FRAME_HEADER_BYTES);
    offset += n;
    yield f;
  } while (offset < bytes.length);
}

export class FrameError extends Error {}

/** Reassembles messages from frames; a malformed frame throws FrameError (the caller drops it). */
export class Reassembler {
  private readonly partial = new Map<string, Uint8Array[]>();
  private partialBytes = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Returns the whole message when `frame` completes one. */
  push(frame: Uint8Array): { lane: Lane; bytes: Uint8Array } | undefined {
    if (frame.length < FRAME_HEADER_BYTES) throw new FrameError(`frame of ${frame.length} bytes is shorter than its header`);
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const lane = dv.getUint8(0);
    if (lane !== CONTROL_LANE && lane !== DATA_LANE) throw new FrameError(`unknown lane ${lane}`);
    const last = (dv.getUint8(1) & LAST) !== 0;
    const key = `${lane}:${dv.getUint32(4)}`;
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    const parts = this.partial.get(key);
    if (!parts && last) return { lane, bytes: payload };
    const list = parts ?? [];
    list.push(payload);
    this.partialBytes += payload.length;
    if (this.partialBytes > this.maxMessageBytes) {
      this.partial.clear();
      this.partialBytes = 0;
      throw new FrameError(`partial messages exceed ${this.maxMessageBytes} bytes`);
    }
    if (!last) {
      if (!parts) this.partial.set(key, list);
      return undefined;
    }
    this.partial.delete(key);
    let total = 0;
    for (const p of list) total += p.length;
    this.partialBytes -= total;
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of list) {
      out.set(p, o);
      o += p.length;
    }
    return { lane, bytes: out };
  }
}
