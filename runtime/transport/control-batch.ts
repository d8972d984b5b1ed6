// Encoding a turn's control messages for the wire within the receiver's decode budget: the
// receiving Inbox refuses (as a strike) a control message over CONTROL_DECODE_BUDGET without
// decoding it, so an honest sender never puts one on the wire. A batch over it is split in halves
// until each part fits; a single message that alone is over it (a value nested deeper than
// MAX_DECODE_DEPTH, or with more than MAX_CONTROL_DECODE_CONTAINERS objects inline) is not sent.

import type { PeerMessage } from '../protocol/peer-messages.ts';
import { encode } from './codec.ts';
import { MAX_CONTROL_DECODE_CONTAINERS, MAX_CONTROL_DECODE_ITEMS, MAX_DATA_DECODE_CONTAINERS, MAX_DATA_MESSAGE_BYTES, MAX_DECODE_DEPTH } from './constants.ts';
import { checkDecodeBudget, type DecodeBudget } from './decode-budget.ts';

/** What one control-lane message (a batch) may hold, checked by the receiver before decoding. */
export const CONTROL_DECODE_BUDGET: DecodeBudget = { maxItems: MAX_CONTROL_DECODE_ITEMS, maxContainers: MAX_CONTROL_DECODE_CONTAINERS, maxDepth: MAX_DECODE_DEPTH };
/** What one data-lane message may hold: every value takes at least a byte, so its size bounds its values. */
export const DATA_DECODE_BUDGET: DecodeBudget = { maxItems: MAX_DATA_MESSAGE_BYTES, maxContainers: MAX_DATA_DECODE_CONTAINERS, maxDepth: MAX_DECODE_DEPTH };

/**
 * The encodings to send for `batch`, in order, each within CONTROL_DECODE_BUDGET. `onRefused` is
 * told of each message that cannot be sent at all, and why.
 */
export function encodeControlBatch(batch: readonly PeerMessage[], onRefused: (msg: PeerMessage, reason: string) => void): Uint8Array[] {
  const out: Uint8Array[] = [];
  const put = (part: readonly PeerMessage[]): void => {
    const bytes = encode(part);
    const over = checkDecodeBudget(bytes, CONTROL_DECODE_BUDGET);
    if (over === undefined) {
      out.push(bytes);
    } else if (part.length > 1) {
      const half = part.length >> 1;
      put(part.slice(0, half));
      put(part.slice(half));
    } else {
      onRefused(part[0]!, `it is over the receiver's decode budget: ${over}`);
    }
  };
  put(batch);
  return out;
}
