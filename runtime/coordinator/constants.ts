// Coordinator tunables, units in their names.

/** Results up to this size travel inline to the coordinator; larger ones stay on their node. */
export const INLINE_OBJECT_MAX_BYTES = 100 * 1024;
/** A function whose tasks take less than this on average may be pipelined to busy nodes. */
export const PIPELINE_MAX_TASK_MS = 2;
/** How many short tasks per CPU may wait at a node beyond its free resources. */
export const PIPELINE_TASKS_PER_CPU = 16;
/** Finished tasks kept for `ray.tasks()` and `ray.timeline()`. */
export const TASK_HISTORY_MAX = 20_000;
/** How many times one task's lost results may be recomputed from lineage. */
export const MAX_RECONSTRUCTIONS = 3;
