// One row of the coordinator's task table: a submitted task, its state and where it runs.
import type { ReplicaReport } from '../api/errors.ts';
import type { NodeId, TaskId } from '../protocol/ids.ts';
import type { TaskResult } from '../protocol/node-messages.ts';
import type { WireError } from '../protocol/wire-error.ts';
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
  /** A verified task (`replicas > 1`): its replicas' vote, from its first replica's dispatch (replicas.ts). */
  verification?: Verification | undefined;
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

/** Takes a copy (a straggler copy or a replica) off its task's list of copies. */
export function detachCopy(copy: TaskEntry): void {
  const t = copy.copyOf;
  if (!t?.copies) return;
  t.copies = t.copies.filter((c) => c !== copy);
  if (t.copies.length === 0) t.copies = undefined;
}

/** What one replica reported: its results (each with its SHA-256), or the error its code threw. */
export interface ReplicaOutcome {
  readonly nodeId: NodeId;
  readonly results?: readonly TaskResult[];
  readonly error?: WireError;
  /** Its inline results' bytes do not match the SHA-256 it reported with them. */
  readonly forged?: true;
}

/** The vote of one verified task, on its entry while it runs. */
export interface Verification {
  /** Replicas first asked for, and most in all (the task's options; 2 and 3 for a spot check, 1 when a spot check finds no second node). */
  replicas: number;
  maxReplicas: number;
  /** A spot check of a task run without `replicas` (`init({ verification: { spotCheck } })`). */
  readonly spotCheck: boolean;
  readonly outcomes: ReplicaOutcome[];
  readonly reports: ReplicaReport[];
  /** Nodes that ran or run one of its replicas (a node runs at most one). */
  readonly tried: Set<NodeId>;
  /** Replicas asked for and not placed yet (no node that has not run it has room). */
  wanted: number;
  /** Replicas lost to system failures (worker died, node left), within the task's maxRetries. */
  lost: number;
  /** Reports whose inline results the coordinator is hashing (they count as running in the vote). */
  hashing: number;
  /** The driver was told that too few nodes are in the cluster for its replicas. */
  warned?: boolean;
  /**
   * The outcome a majority agreed on (`key`: its hash, or its error, as quorum.ts compares them;
   * `failed`: an error), and the node it was taken from; replicas still out are judged against it.
   */
  accepted?: { readonly key: string; readonly nodeId: NodeId; readonly failed?: true };
  /** Stops the replicas still out after the result was accepted (LATE_REPLICA_GRACE_MS). */
  lateTimer?: ReturnType<typeof setTimeout> | undefined;
}
