// Signaling server tunables, units in their names (docs/browser-facts.md, "Noticing a dead tab").

/** Largest socket.io message the server reads; a bigger one closes that client's connection. */
export const MAX_HTTP_BUFFER_BYTES = 1_000_000;
/** socket.io pings each client this often... */
export const PING_INTERVAL_MS = 5_000;
/** ...and drops it when a pong is this late: a frozen tab is noticed within ~10 s, not 45 s. */
export const PING_TIMEOUT_MS = 5_000;
/** Invalid messages (bad payloads, unknown events) forgiven per socket; the next one disconnects it. */
export const GARBAGE_ALLOWANCE = 3;
/**
 * Events of one socket waiting for their turn (the registry may answer asynchronously); past it,
 * an event is dropped as garbage. A tab sends a join and a burst of ICE candidates at most.
 */
export const MAX_QUEUED_EVENTS = 256;
/**
 * Bytes of one socket's signals waiting for their route (a shared registry answers over the
 * network); past it a signal is dropped, not counted as garbage. ~5,000 ICE candidates, or 64
 * signals of the largest size (MAX_SIGNAL_BYTES).
 */
export const MAX_SIGNAL_BYTES_IN_FLIGHT = 1024 * 1024;
/** Server-assigned node ids: `n-` and this many random base36 characters (~52 bits). */
export const NODE_ID_RANDOM_CHARS = 10;

/**
 * How long a cluster's name stays held after its coordinator leaves (closes, reloads, crashes or
 * shuts down), for that coordinator to reclaim with its coordinator secret: a page reload comes
 * back well within it. Meanwhile nobody else can create a cluster of that name, so a volunteer
 * holding the join token cannot take the seat and receive the old invite link's volunteers.
 */
export const COORDINATOR_HOLD_MS = 60_000;
/**
 * With a shared registry (REDIS_URL): a server process renews its heartbeat this often, and is
 * taken for gone 3 heartbeats after its last one (or at once when it shuts down); signals for its
 * tabs are kept for their resume from then on...
 */
export const SERVER_HEARTBEAT_MS = 1_000;
/**
 * ...after which the memberships its sockets held wait this long for their tabs to `resume` them
 * through another process (or the same one restarted), and are then ended as departures. A tab's
 * socket.io client tries again within ~5 s of losing its connection.
 */
export const RESUME_GRACE_MS = 30_000;
/**
 * Signals, and bytes of them, kept for one member whose server process is gone, to be handed over
 * when it resumes (an offer and its ICE candidates from a volunteer that joined meanwhile). The
 * first ones are kept — an offer comes before its candidates — and later ones dropped.
 */
export const MAX_HELD_SIGNALS = 64;
export const MAX_HELD_BYTES = 256 * 1024;
/**
 * A departure the registry failed to record (its Redis away) is tried again, backing off from
 * DEPARTURE_RETRY_MS to DEPARTURE_RETRY_MAX_MS, up to DEPARTURE_ATTEMPTS times (~2 minutes).
 */
export const DEPARTURE_RETRY_MS = 250;
export const DEPARTURE_RETRY_MAX_MS = 8_000;
export const DEPARTURE_ATTEMPTS = 20;
/** Coordinator secrets: this many random bytes, sent as base64url (32 characters, 192 bits). */
export const COORDINATOR_SECRET_BYTES = 24;

/**
 * Failed joins (a wrong token or a cluster nobody runs, a wrong coordinator secret) are strikes,
 * counted per socket and per client address. Past the free ones, each further join must wait
 * JOIN_BACKOFF_BASE_MS × 2^(strikes − free), capped at JOIN_BACKOFF_MAX_MS, after the last strike;
 * a join sent sooner is refused unexamined (`too_many_attempts`) and is a strike too.
 * A person mistyping gets 3 tries at once; an address is allowed more (several people behind one
 * NAT); a guesser gets ~1 try a minute once the backoff is saturated.
 */
export const JOIN_FREE_STRIKES_PER_SOCKET = 3;
export const JOIN_FREE_STRIKES_PER_ADDRESS = 10;
export const JOIN_BACKOFF_BASE_MS = 1_000;
export const JOIN_BACKOFF_MAX_MS = 60_000;
/** A socket is disconnected at this many strikes (refused joins it sent while waiting included). */
export const JOIN_STRIKES_PER_SOCKET = 10;
/** An address with no strike for this long starts clean. */
export const JOIN_STRIKE_MEMORY_MS = 10 * 60_000;
/** Addresses whose strikes are remembered at most; the least recently struck is forgotten first. */
export const MAX_TRACKED_ADDRESSES = 10_000;
