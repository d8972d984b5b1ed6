// The receiving end of a link: frames put back together into messages, decoded, each checked
// (a peer is a cluster member, but a buggy or hostile one must not crash the tab) and handed on.
// Shared by the WebRTC link and its in-memory twin, so both refuse exactly the same input.

import type { Logger } from '../common/logger.ts';
import type { NodeId } from '../protocol/ids.ts';
import { parsePeerMessage, type PeerMessage } from '../protocol/peer-messages.ts';
import { decode } from './codec.ts';
import { CONTROL_LANE, FrameError, Reassembler } from './framing.ts';

/** Largest message a peer may send (objects bigger than this fail to transfer). */
const MAX_MESSAGE_BYTES = 2 * 1024 * 1024 * 1024;

export class Inbox {
  private readonly reassembler = new Reassembler(MAX_MESSAGE_BYTES);

  constructor(
    private readonly remote: NodeId,
    private readonly log: Logger,
    private readonly onMessage: (msg: PeerMessage) => void,
  ) {}

  /** One frame off the wire: delivers the messages it completes; drops (and logs) what is malformed. */
  push(chunk: Uint8Array): void {
    let whole: ReturnType<Reassembler['push']>;
    try {
      whole = this.reassembler.push(chunk);
    } catch (e) {
      if (e instanceof FrameError) {
        this.log.warn(`dropping a malformed frame from ${this.remote}: ${e.message}`);
        return;
      }
      throw e;
    }
    if (!whole) return;
    let decoded: unknown;
    try {
      decoded = decode(whole.bytes);
    } catch (e) {
      this.log.warn(`dropping an undecodable message from ${this.remote}: ${(e as Error).message}`);
      return;
    }
    // Control messages travel in batches (an array per frame run); a bulk message travels alone.
    const list = whole.lane === CONTROL_LANE && Array.isArray(decoded) ? decoded : [decoded];
    for (const item of list) {
      const parsed = parsePeerMessage(item);
      if (!parsed.ok) {
        this.log.warn(`dropping a malformed message from ${this.remote}: ${parsed.reason}`);
        continue;
      }
      try {
        this.onMessage(parsed.msg);
      } catch (e) {
        this.log.warn(`error handling ${parsed.msg.t} from ${this.remote}: ${(e as Error).message}`);
      }
    }
  }
}
