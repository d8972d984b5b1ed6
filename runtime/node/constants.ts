// Node tunables, units in their names.

/** How long a cancelled task's body may take to stop before its worker is terminated. */
export const CANCEL_GRACE_MS = 1000;
/**
 * How long a cancelled task blocked in get/wait may stay so before its worker is terminated: it
 * runs no code and holds no CPU, it waits on the cluster — often for the calls its own cleanup
 * makes after the abort — so a loaded cluster's slow answer does not cost it its worker.
 */
export const CANCEL_BLOCKED_GRACE_MAX_MS = 30_000;
/** Short tasks a busy worker may hold queued behind the one it runs. */
export const WORKER_PIPELINE_DEPTH = 16;
/**
 * Tasks one pooled worker may hold while all but one are blocked in get/wait (they take turns:
 * one runs at a time). Beyond it, a blocked task's CPU goes to a new worker.
 */
export const WORKER_SHARED_TASKS_MAX = 64;
/** Workers beyond the CPU count that blocked tasks may cause to start. */
export const EXTRA_WORKERS_MAX = 256;
/** Results up to this size go inline to the coordinator; larger ones stay in this node's store. */
export const INLINE_OBJECT_MAX_BYTES = 100 * 1024;
/** Default `objectStoreMemory`: this share of `navigator.deviceMemory`, within the bounds below. */
export const OBJECT_STORE_MEMORY_SHARE = 0.25;
export const OBJECT_STORE_MEMORY_MIN_BYTES = 256 * 1024 * 1024;
export const OBJECT_STORE_MEMORY_MAX_BYTES = 2 * 1024 * 1024 * 1024;
/** `navigator.deviceMemory` (GiB) assumed where the browser does not tell it (Firefox, Safari). */
export const DEVICE_MEMORY_DEFAULT_GIB = 4;
/** Spilled objects are written and read in records of at most this size. */
export const SPILL_CHUNK_BYTES = 8 * 1024 * 1024;
/** Bytes written per IndexedDB transaction: smaller objects are batched up to it, larger ones span several. */
export const SPILL_TRANSACTION_MAX_BYTES = 64 * 1024 * 1024;
/** Chunks read at a time when restoring an object larger than the budget (memory: the object plus these). */
export const SPILL_READ_AHEAD_CHUNKS = 3;
/** Buffers at least this large inside a value are spilled as raw bytes, not through msgpackr. */
export const SPILL_OUT_OF_BAND_MIN_BYTES = 64 * 1024;
/** After IndexedDB refused data (quota), how long before spilling is tried again. */
export const SPILL_RETRY_MS = 2000;
/** Spill databases are named with this prefix (and locked under the same name while alive). */
export const SPILL_DB_PREFIX = 'webray-spill-';
/** Ids of freed objects remembered, so a late copy (a pull that raced the free) is not kept. */
export const FREED_IDS_REMEMBERED = 100_000;
/**
 * A `get` from task code whose pull failed (the holder left mid-transfer) asks the coordinator
 * again this many times, waiting this long times the attempt first, while the object is recomputed.
 */
export const GET_REFETCH_MAX = 3;
export const GET_REFETCH_DELAY_MS = 100;
/** How often object store figures are reported to the coordinator when they changed. */
export const STATS_INTERVAL_MS = 500;
/** How long the task-origin runner frame may take to load and say it is ready (isolated workers). */
export const RUNNER_START_TIMEOUT_MS = 15_000;
/** Arguments at least this large go to a worker as a transferred copy (memcpy), not a structured clone. */
export const TRANSFER_ARG_MIN_BYTES = 1024 * 1024;
/**
 * A pull that arrives before the coordinator's `expect_pulls` for it (the puller heard first, by
 * another path) waits this long for the grant before it is refused.
 */
export const PULL_GRANT_WAIT_MS = 5000;
/**
 * Malformed messages (or batches) a worker may post before it is retired as failed: an honest
 * worker sends none, so a few mean its code is broken or hostile (node/worker-inbox.ts).
 */
export const WORKER_STRIKE_LIMIT = 3;
