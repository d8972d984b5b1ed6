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

/** The largest message each lane may carry, in bytes. */
export interface LaneLimits {
  readonly control: number;
  readonly data: number;
}

interface Partial {
  readonly msgNo: number;
  readonly parts: Uint8Array[];
  bytes: number;
}

/**
 * Reassembles messages from frames; a malformed frame throws FrameError (the caller drops it and
 * counts it against the sender). A sender puts out one message at a time per lane (control frames
 * may overtake a bulk message, never another control message), so each lane holds at most one
 * partial message, bounded by the lane's limit: a peer cannot make this side buffer more than
 * `control + data` bytes, however it interleaves frames.
 */
export class Reassembler {
  private readonly limits: LaneLimits;
  private readonly partial: [Partial | undefined, Partial | undefined] = [undefined, undefined];

  /** `limits`: one figure for both lanes, or one per lane. */
  constructor(limits: number | LaneLimits) {
    this.limits = typeof limits === 'number' ? { control: limits, data: limits } : limits;
  }

  /** Returns the whole message when `frame` completes one. */
  push(frame: Uint8Array): { lane: Lane; bytes: Uint8Array } | undefined {
    if (frame.length < FRAME_HEADER_BYTES) throw new FrameError(`frame of ${frame.length} bytes is shorter than its header`);
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const lane = dv.getUint8(0);
    if (lane !== CONTROL_LANE && lane !== DATA_LANE) throw new FrameError(`unknown lane ${lane}`);
    const last = (dv.getUint8(1) & LAST) !== 0;
    const msgNo = dv.getUint32(4);
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    const limit = lane === CONTROL_LANE ? this.limits.control : this.limits.data;
    const laneName = lane === CONTROL_LANE ? 'control' : 'data';
    let p = this.partial[lane];
    if (p && p.msgNo !== msgNo) {
      this.partial[lane] = undefined;
      throw new FrameError(`message ${msgNo} began on the ${laneName} lane before message ${p.msgNo} ended`);
    }
    if (!p && last) {
      if (payload.length > limit) throw new FrameError(`a ${laneName} message of ${payload.length} bytes exceeds ${limit} bytes`);
      return { lane, bytes: payload };
    }
    p ??= this.partial[lane] = { msgNo, parts: [], bytes: 0 };
    p.parts.push(payload);
    p.bytes += payload.length;
    if (p.bytes > limit) {
      this.partial[lane] = undefined;
      throw new FrameError(`a ${laneName} message grew past ${limit} bytes: partial messages exceed the limit`);
    }
    if (!last) return undefined;
    this.partial[lane] = undefined;
    const out = new Uint8Array(p.bytes);
    let o = 0;
    for (const part of p.parts) {
      out.set(part, o);
      o += part.length;
    }
    return { lane, bytes: out };
  }
}
