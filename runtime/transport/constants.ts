// Transport tunables, units in their names (docs/browser-facts.md, "Data channels").

/** Largest frame put on a data channel (Chromium's SCTP max message is 256 KiB). */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Frame payload: the frame minus its header. */
export const FRAME_HEADER_BYTES = 8;
/** Stop sending while this much is queued in the channel (it overflows near 16 MiB). */
export const HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** The coordinator pings each node this often over the control link. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** A node that has not answered pings for this long is declared dead (a frozen tab). */
export const HEARTBEAT_TIMEOUT_MS = 6000;
/** How long a peer link may take to connect before it is given up. */
export const CONNECT_TIMEOUT_MS = 15000;
/** How long a pull may wait for its object. */
export const PULL_TIMEOUT_MS = 120000;
/**
 * Pulls one peer may have waiting for an answer from this tab (looked up, not yet handed to the
 * link); past it a pull is refused and counted as a strike. An honest tab sends at most this many
 * to one peer at a time (its own pulls queue behind), so only a flood reaches it.
 */
export const MAX_QUEUED_PULLS_PER_PEER = 16;
/**
 * Bytes of pull replies one peer may have in flight from this tab (looked up and queued on the
 * link, not yet handed to the channel). A pull that arrives past it is refused as busy — not a
 * strike: an honest puller with many large pulls reaches it — and the puller tries the next holder
 * and then again after PULL_BUSY_RETRY_MS. One object larger than the cap still goes, alone.
 */
export const MAX_PULL_BYTES_PER_PEER = 256 * 1024 * 1024;
/** How long a puller waits before asking again when every holder said busy (doubling, up to 1 s). */
export const PULL_BUSY_RETRY_MS = 50;
/** Largest control-lane message (a batch of task specs, registrations, small results) a peer may send. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024 * 1024;
/**
 * A pulled object's size is taken to be the bytes of the pull reply that carried it, less at most
 * this much (the reply's envelope: type, ids, the object's size and refs fields): a holder's claim
 * is kept within [bytes − this, bytes], so it cannot make a large object count as small in the
 * puller's store, nor a small one as large.
 */
export const PULL_REPLY_ENVELOPE_BYTES = 4096;
/** Largest data-lane message (one object in a pull reply) a peer may send. */
export const MAX_DATA_MESSAGE_BYTES = 2 * 1024 * 1024 * 1024;
/** Malformed frames, undecodable or malformed messages a peer may send before its link is cut. */
export const PEER_STRIKE_LIMIT = 10;
/**
 * Budgets a message's bytes are checked against before they are decoded (decode-budget.ts); a
 * message over them is refused as a strike, never decoded. A control message (task specs,
 * registrations, reports, inline values ≤ 100 KiB each) holds at most this many containers (arrays,
 * maps, objects): a task spec holds ~25, an inline value at most ~50k; 2^18 empty maps cost Node
 * ~0.15 s and ~50 MB to decode, and the scan refuses one more in a few ms. A sender splits a
 * turn's batch to fit (control-batch.ts).
 */
export const MAX_CONTROL_DECODE_CONTAINERS = 262_144;
/** Values of any kind (numbers, strings included) one control message may hold. */
export const MAX_CONTROL_DECODE_ITEMS = 4_000_000;
/**
 * A data-lane message (one object in a pull reply) may hold this many containers (an honest
 * object may be a list of millions of small objects); both lanes allow at most one container per
 * two bytes of message plus CONTAINER_ALLOWANCE, and every value takes at least a byte.
 */
export const MAX_DATA_DECODE_CONTAINERS = 16_000_000;
/** Deepest nesting of arrays, maps and objects a message may hold (msgpackr and the validators recurse). */
export const MAX_DECODE_DEPTH = 512;
