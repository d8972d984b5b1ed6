// One row of the coordinator's task table: a submitted task, its state and where it runs.
import type { NodeId, TaskId } from '../protocol/ids.ts';
import type { TaskSpec, TaskState } from '../protocol/task-spec.ts';

export interface TaskEntry {
  readonly spec: TaskSpec;
  state: TaskState;
  nodeId: NodeId | null;
  workerId: string | null;
  /**
   * The number of its current attempt (1 on the first run). Attempts are numbered across the task's
   * straggler copies too, so each run a node is sent has its own.
   */
  attempt: number;
  /** Runs sent so far, its straggler copies included (the last attempt number given out). */
  dispatches: number;
  /** Times it was retried (after a system failure, or an error `retryExceptions` names), against maxRetries. */
  retries: number;
  /** Copies of this task running on other nodes while it straggles (stragglers.ts); each is an entry of its own. */
  copies?: TaskEntry[] | undefined;
  /** On a copy: the task it copies (the table's entry). */
  copyOf?: TaskEntry | undefined;
  /** When the coordinator sent its current attempt to its node (the coordinator's clock). */
  dispatchedAtMs?: number | undefined;
  depsPending: number;
  pendingReason: string | null;
  readonly submittedAtMs: number;
  startedAtMs: number | null;
  endedAtMs: number | null;
  error: string | null;
  /** Holds `spec.resources` on its node (false when pipelined). */
  reserved: boolean;
  /** Pipelined and waiting on its node without a worker (`tasks_waiting`), in the scheduler's queue for that node. */
  waitingForWorker?: boolean;
  blocked: boolean;
  cancelled: boolean;
  children: TaskId[] | undefined;
  /** Its scheduling class while it holds a place on a node (set at dispatch). */
  schedClass?: string | undefined;
  /** The volunteer node whose task submitted it (undefined: the driver or the coordinator's own node). */
  submittedBy?: NodeId | undefined;
  /** The `timeoutMs` timer of the attempt on a node (armed at dispatch, re-armed when it starts). */
  deadline?: ReturnType<typeof setTimeout> | undefined;
  /** It keeps its ObjectRef arguments alive (until it ends, or its lineage entry takes over). */
  argsHeld?: boolean;
}
