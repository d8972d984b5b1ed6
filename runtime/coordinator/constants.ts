// Coordinator tunables, units in their names.

/** How many short tasks per CPU may wait at a node beyond its free resources. */
export const PIPELINE_TASKS_PER_CPU = 16;
/** Finished tasks kept for `ray.tasks()` and `ray.timeline()` by default (Ray's task_events_max_num_task_in_gcs; `init({ maxTaskEvents })`). */
export const TASK_HISTORY_MAX = 100_000;
/** How many times one task's lost results may be recomputed from lineage. */
export const MAX_RECONSTRUCTIONS = 3;
/**
 * Refused messages (forged reports, requests beyond a volunteer's powers) after which a volunteer
 * node is dropped as if it had left. An honest node sends none; a few leave room for a race the
 * checks misjudge.
 */
export const VOLUNTEER_STRIKE_LIMIT = 10;
/** Objects a volunteer was told to pull and has not reported yet, remembered per node (oldest forgotten first). */
export const EXPECTED_OBJECTS_MAX = 65_536;
/**
 * Requests (`client_request`: task code's submit, get, wait, put …) a volunteer node may make: a
 * token bucket per node holding REQUEST_BURST, refilled at REQUESTS_PER_S. A request past it is
 * refused with a RateLimitError to the task code that made it — not a strike: an honest fan-out can
 * get there. Refused requests run the bucket into debt; once it owes REQUEST_FLOOD_DEBT (the node
 * kept sending that many more than it was allowed, without pause), each further request is also a
 * strike, so a flood is cut off after VOLUNTEER_STRIKE_LIMIT more. The driver and the coordinator's
 * own node are not limited.
 */
export const REQUESTS_PER_S = 5_000;
export const REQUEST_BURST = 20_000;
export const REQUEST_FLOOD_DEBT = 20_000;
/**
 * Straggler copies (stragglers.ts). A task on a volunteer node gets a copy on another node with
 * room once it has run there STRAGGLER_FACTOR times as long as its function's tasks take on other
 * nodes, and at least STRAGGLER_MIN_MS; with no such record yet, after STRAGGLER_UNKNOWN_MS. The
 * floor keeps copies for stalls, not for the spread of honest machines (a phone beside a desktop).
 */
export const STRAGGLER_FACTOR = 4;
export const STRAGGLER_MIN_MS = 10_000;
export const STRAGGLER_UNKNOWN_MS = 30_000;
/** How often the coordinator looks for stragglers while volunteers run tasks. */
export const STRAGGLER_SWEEP_MS = 1_000;
/** Durations remembered per function (the most recent), to judge its stragglers by. */
export const STRAGGLER_SAMPLES = 32;
/**
 * Results of a node that disagreed with the accepted majority of a verified task's replicas
 * (replicas.ts) before it is quarantined: dropped from the cluster, the driver told. Two, as one
 * mismatch can be a broken GPU driver's bad day.
 */
export const QUARANTINE_MISMATCHES = 2;
/**
 * How long replicas of a verified task still running when a majority agreed may go on, to be
 * judged against the accepted result (replicas.ts); then they are stopped.
 */
export const LATE_REPLICA_GRACE_MS = 10_000;
/**
 * Spot checks (`init({ verification: { spotCheck } })`, BOINC's adaptive replication): a volunteer
 * node with fewer than SPOT_CHECK_RECORD verified replicas has every task it is sent checked (run
 * on a second node too); past that, a fraction `spotCheck` of them.
 */
export const SPOT_CHECK_RECORD = 5;
