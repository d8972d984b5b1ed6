// Node tunables, units in their names.

/** How long a cancelled task's body may take to stop before its worker is terminated. */
export const CANCEL_GRACE_MS = 1000;
/** Short tasks a busy worker may hold queued behind the one it runs. */
export const WORKER_PIPELINE_DEPTH = 16;
/** A function whose tasks take less than this on average is "short" and may be pipelined. */
export const PIPELINE_MAX_TASK_MS = 2;
/** Workers beyond the CPU count that blocked tasks may cause to start. */
export const EXTRA_WORKERS_MAX = 256;
/** Results up to this size go inline to the coordinator; larger ones stay in this node's store. */
export const INLINE_OBJECT_MAX_BYTES = 100 * 1024;
/** How often object store figures are reported to the coordinator when they changed. */
export const STATS_INTERVAL_MS = 500;
/** How long the task-origin runner frame may take to load and say it is ready (isolated workers). */
export const RUNNER_START_TIMEOUT_MS = 15_000;
