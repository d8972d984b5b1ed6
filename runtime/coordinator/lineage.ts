// Lineage (Ray's object reconstruction): the specs of finished tasks whose results live only in
// node stores, so that a result whose every copy is lost with its nodes is made again by running
// its task again (at most MAX_RECONSTRUCTIONS times); an object that cannot be recomputed (a
// `put`, or a task no longer known) becomes an ObjectLostError. Which entries are kept, and for
// how long, is decided by `object-lifetimes.ts` (a lineage entry lives while one of its results does).

import { wireError } from '../api/errors.ts';
import { returnId, taskIdOf, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { TaskSpec } from '../protocol/task-spec.ts';
import { MAX_RECONSTRUCTIONS } from './constants.ts';
import type { ObjectDirectory } from './object-directory.ts';

/** A finished task kept to recompute its results: its spec, and the volunteer node whose task submitted it. */
export interface LineageEntry {
  readonly spec: TaskSpec;
  /** Kept so a recomputation stays off the coordinator's own node as the first run did (cluster-scheduler.ts). */
  readonly submittedBy: NodeId | undefined;
}

export interface LineageDeps {
  readonly objects: ObjectDirectory;
  /** Whether the task is in the task table (still running, or already being recomputed). */
  readonly isPending: (taskId: TaskId) => boolean;
  /** Whether the session is over. */
  readonly stopped: () => boolean;
  /** Submits the task again, with no caller holding its returns, on behalf of its first submitter. */
  readonly resubmit: (spec: TaskSpec, submittedBy: NodeId | undefined) => void;
  /** The coordinator's debug log. */
  readonly log: (msg: string) => void;
}

export class Lineage {
  /** Finished tasks whose results live only on nodes, to recompute them if lost. */
  readonly specs = new Map<TaskId, LineageEntry>();
  /** How many times each task has been re-run to recompute lost results. */
  readonly reconstructions = new Map<TaskId, number>();

  constructor(private readonly d: LineageDeps) {}

  /**
   * Every copy of an object is gone. A task's return is recomputed from lineage by running the
   * task again (Ray's object reconstruction); a `put` object cannot be: ObjectLostError.
   */
  objectLost(id: ObjectId): void {
    const taskId = taskIdOf(id);
    const entry = taskId ? this.specs.get(taskId) : undefined;
    const spec = entry?.spec;
    if (spec && !this.d.isPending(spec.taskId) && (this.reconstructions.get(spec.taskId) ?? 0) < MAX_RECONSTRUCTIONS && !this.d.stopped()) {
      this.reconstructions.set(spec.taskId, (this.reconstructions.get(spec.taskId) ?? 0) + 1);
      this.d.log(`reconstructing ${id} by re-running ${spec.name}`);
      for (let i = 0; i < (spec.numReturns as number); i++) {
        const rid = returnId(spec.taskId, i);
        if (!this.d.objects.get(rid)?.obj) this.d.objects.setPending(rid);
      }
      this.d.resubmit(spec, entry.submittedBy);
      return;
    }
    if (spec && this.d.isPending(spec.taskId)) return; // already being recomputed
    const why = spec ? 'it was recomputed too often' : taskId ? 'the task that made it is no longer known' : 'it was made by ray.put, which cannot be recomputed';
    this.d.objects.setReady(id, 0, { v: undefined, size: 0, err: wireError('ObjectLostError', `object ${id} was lost: every copy was on a node that left, and ${why}`) }, undefined);
  }
}
