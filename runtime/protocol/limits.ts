// Bounds on what one message from another tab may hold, checked field by field on arrival
// (message-schemas.ts). A webray tab never comes near them; they keep a buggy or hostile member
// from making the receiver allocate or loop without bound. Raising one is safe as long as the
// peer link's message caps (transport/constants.ts) still bound the whole message.

/** Longest id (task, object, actor, node, worker, function) accepted: ours are ~20 characters. */
export const MAX_ID_CHARS = 128;
/** Longest function, method, class, actor or resource name. */
export const MAX_NAME_CHARS = 1024;
/** Longest shipped source text of one function or class. */
export const MAX_SOURCE_CHARS = 16 * 1024 * 1024;
/** Longest error message or stack carried across a boundary. */
export const MAX_ERROR_TEXT_CHARS = 1024 * 1024;
/** How deep an error's `cause` chain may go. */
export const MAX_ERROR_CAUSE_DEPTH = 8;
/** Most return values one task may declare (`numReturns`); Ray has no cap, ours keeps a tiny
 *  message from making the coordinator create millions of objects. */
export const MAX_NUM_RETURNS = 10_000;
/** Most entries in any list inside a message (ids in get/wait/refs, args, results, methods). */
export const MAX_LIST_ITEMS = 1_000_000;
/** Most entries in a small map or list (resources, error props, class chains, retryExceptions). */
export const MAX_SMALL_ITEMS = 256;
/** Most calls `maxCalls` may allow a worker before it is retired (0 means no limit). */
export const MAX_CALLS = 1_000_000_000;

/** Most replicas a verified task may ask for (`replicas`): each runs on its own node, so more than a
 *  handful only multiplies the work. */
export const MAX_REPLICAS = 16;
/** Most replicas a verified task may run in all (`maxReplicas`, default 2·replicas + 1). */
export const MAX_TOTAL_REPLICAS = 2 * MAX_REPLICAS + 1;
