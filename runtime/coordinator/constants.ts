// Coordinator tunables, units in their names.

/** How many short tasks per CPU may wait at a node beyond its free resources. */
export const PIPELINE_TASKS_PER_CPU = 16;
/** Finished tasks kept for `ray.tasks()` and `ray.timeline()`. */
export const TASK_HISTORY_MAX = 20_000;
/** How many times one task's lost results may be recomputed from lineage. */
export const MAX_RECONSTRUCTIONS = 3;
