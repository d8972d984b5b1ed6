// Signaling server tunables, units in their names (docs/browser-facts.md, "Noticing a dead tab").

/** Largest socket.io message the server reads; a bigger one closes that client's connection. */
export const MAX_HTTP_BUFFER_BYTES = 1_000_000;
/** socket.io pings each client this often... */
export const PING_INTERVAL_MS = 5_000;
/** ...and drops it when a pong is this late: a frozen tab is noticed within ~10 s, not 45 s. */
export const PING_TIMEOUT_MS = 5_000;
/** Invalid messages (bad payloads, unknown events) forgiven per socket; the next one disconnects it. */
export const GARBAGE_ALLOWANCE = 3;
/** Server-assigned node ids: `n-` and this many random base36 characters (~52 bits). */
export const NODE_ID_RANDOM_CHARS = 10;
