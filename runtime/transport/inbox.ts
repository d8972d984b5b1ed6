// The receiving end of a link: frames put back together into messages, decoded, each checked
// (a peer is a cluster member, but a buggy or hostile one must not crash the tab) and handed on.
// Shared by the WebRTC link and its in-memory twin, so both refuse exactly the same input.

import type { Logger } from '../common/logger.ts';
import type { NodeId } from '../protocol/ids.ts';
import { withMeasuredSizes } from '../protocol/claimed-sizes.ts';
import { parsePeerMessage, type PeerMessage } from '../protocol/peer-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { decode, encode } from './codec.ts';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_DATA_MESSAGE_BYTES, PEER_STRIKE_LIMIT, PULL_REPLY_ENVELOPE_BYTES } from './constants.ts';
import { CONTROL_DECODE_BUDGET, DATA_DECODE_BUDGET } from './control-batch.ts';
import { checkDecodeBudget } from './decode-budget.ts';
import { CONTROL_LANE, FrameError, Reassembler } from './framing.ts';

/** An inline object's size on the wire: its value encoded by the codec that carried it. */
function measureInline(obj: SerializedObject): number {
  return encode(obj.v).byteLength;
}

export class Inbox {
  private readonly reassembler = new Reassembler({ control: MAX_CONTROL_MESSAGE_BYTES, data: MAX_DATA_MESSAGE_BYTES });
  /** Malformed frames and messages received so far: the peer is cut off at PEER_STRIKE_LIMIT. */
  private strikes = 0;
  private cut = false;

  /** `onCutOff` is called once, when the peer has sent PEER_STRIKE_LIMIT malformed things. */
  constructor(
    private readonly remote: NodeId,
    private readonly log: Logger,
    private readonly onMessage: (msg: PeerMessage) => void,
    private readonly onCutOff: (reason: string) => void,
  ) {}

  /** One frame off the wire: delivers the messages it completes; drops (and counts) what is malformed. */
  push(chunk: Uint8Array): void {
    if (this.cut) return;
    let whole: ReturnType<Reassembler['push']>;
    try {
      whole = this.reassembler.push(chunk);
    } catch (e) {
      if (e instanceof FrameError) return this.strike(`a malformed frame: ${e.message}`);
      throw e;
    }
    if (!whole) return;
    // Checked before decoding: a message over its budget is never decoded (decode-budget.ts).
    const over = checkDecodeBudget(whole.bytes, whole.lane === CONTROL_LANE ? CONTROL_DECODE_BUDGET : DATA_DECODE_BUDGET);
    if (over !== undefined) return this.strike(`a message over its decode budget (${whole.bytes.length} bytes): ${over}`);
    let decoded: unknown;
    try {
      decoded = decode(whole.bytes);
    } catch (e) {
      return this.strike(`an undecodable message: ${(e as Error).message}`);
    }
    // Control messages travel in batches (an array per frame run); a bulk message travels alone.
    const list = whole.lane === CONTROL_LANE && Array.isArray(decoded) ? decoded : [decoded];
    for (const item of list) {
      if (this.cut) return;
      const parsed = parsePeerMessage(item);
      if (!parsed.ok) {
        this.strike(`a malformed message: ${parsed.reason}`);
        continue;
      }
      const msg = this.measured(parsed.msg, whole.lane, whole.bytes.length);
      if (typeof msg === 'string') {
        this.strike(msg);
        continue;
      }
      try {
        this.onMessage(msg);
      } catch (e) {
        this.log.warn(`error handling ${parsed.msg.type} from ${this.remote}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Sizes are claims; this makes them what arrived (protocol/claimed-sizes.ts): a pull reply's
   * object is as large as the data-lane message that carried it, less at most its envelope (an
   * honest holder sends pull replies only there, and its claim stays as it is), an inline object
   * in a report to the coordinator as large as its value encodes to. A string: why the message
   * is refused.
   */
  private measured(msg: PeerMessage, lane: number, bytes: number): PeerMessage | string {
    switch (msg.type) {
      case 'pull_ok': {
        if (lane === CONTROL_LANE) return 'a pull reply on the control lane';
        // The object took the message's bytes less its envelope (type, reqId, size, refs …).
        const size = Math.min(bytes, Math.max(msg.obj.size, bytes - PULL_REPLY_ENVELOPE_BYTES));
        return size === msg.obj.size ? msg : { ...msg, obj: { ...msg.obj, size } };
      }
      case 'to_coordinator':
        try {
          return { type: 'to_coordinator', msg: withMeasuredSizes(msg.msg, measureInline, MAX_DATA_MESSAGE_BYTES) };
        } catch (e) {
          return `a message with an inline object that cannot be measured: ${(e as Error).message}`;
        }
      default:
        return msg;
    }
  }

  /**
   * Counts something the peer should never have sent (an honest webray tab sends no malformed
   * frame or message, nor a request the mesh refuses, which it counts here) and drops it; at
   * PEER_STRIKE_LIMIT the peer is cut off: the link closes, which the session treats as the member
   * leaving, and the mesh opens no new link to it.
   */
  strike(what: string): void {
    if (this.cut) return;
    this.strikes++;
    this.log.warn(`dropping ${what} from ${this.remote} (strike ${this.strikes} of ${PEER_STRIKE_LIMIT})`);
    if (this.strikes < PEER_STRIKE_LIMIT) return;
    this.cut = true;
    this.onCutOff(`${this.remote} sent ${this.strikes} malformed frames or messages (the last: ${what}); cut off`);
  }
}
