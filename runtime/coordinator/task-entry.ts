// One row of the coordinator's task table: a submitted task, its state and where it runs.
import type { NodeId, TaskId } from '../protocol/ids.ts';
import type { TaskSpec, TaskState } from '../protocol/task-spec.ts';

export interface TaskEntry {
  readonly spec: TaskSpec;
  state: TaskState;
  nodeId: NodeId | null;
  workerId: string | null;
  /** Attempts started so far (1 on the first run). */
  attempt: number;
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
