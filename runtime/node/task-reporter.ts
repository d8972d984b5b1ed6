// How the end of a task reaches the coordinator: its return objects — large ones kept in this
// node's store and reported by size, small ones sent inline — or its failure. Also keeps the
// objects a generator yields and task code puts, by the same rule.

import { toWireError } from '../api/errors.ts';
import { returnId, type ObjectId, type WorkerId } from '../protocol/ids.ts';
import type { NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import { resultSha256 } from '../protocol/result-hash.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { Assignment } from './assignment.ts';
import { INLINE_OBJECT_MAX_BYTES } from './constants.ts';
import type { ObjectStore } from './object-store.ts';

export interface TaskReporterDeps {
  readonly store: ObjectStore;
  readonly send: (msg: NodeToCoordinator) => void;
  /** Releases the arguments the task pinned. */
  readonly unpin: (a: Assignment) => void;
}

export class TaskReporter {
  /** Tasks this node has finished (successfully or not), for the volunteer page. */
  finished = 0;
  private readonly deps: TaskReporterDeps;

  constructor(deps: TaskReporterDeps) {
    this.deps = deps;
  }

  /** Keeps a large result in this node's store (throws ObjectStoreFullError when it is full); small ones go inline. */
  private keepResult(id: ObjectId, obj: SerializedObject): TaskResult {
    if (obj.size <= INLINE_OBJECT_MAX_BYTES || obj.err) return { id, size: obj.size, obj };
    this.deps.store.put(id, obj);
    return obj.refs ? { id, size: obj.size, refs: obj.refs } : { id, size: obj.size };
  }

  /** keepResult, or the store's refusal as the object's value (raised by whoever gets it). */
  keepOrFail(id: ObjectId, obj: SerializedObject): TaskResult {
    try {
      return this.keepResult(id, obj);
    } catch (e) {
      const err = toWireError(e);
      return { id, size: 0, obj: { v: undefined, size: 0, err } };
    }
  }

  /** Reports a task done: its results, or `error` (a system failure is retried within maxRetries). */
  done(
    a: Assignment,
    workerId: WorkerId | null,
    startMs: number,
    endMs: number,
    results: readonly SerializedObject[] | undefined,
    error: WireError | undefined,
    systemFailure: boolean,
  ): void {
    const spec = a.spec;
    this.finished++;
    this.deps.unpin(a);
    let failure = error;
    const out: TaskResult[] = [];
    if (!failure && results && spec.numReturns !== 'streaming') {
      try {
        for (let i = 0; i < results.length; i++) out.push(this.keepResult(returnId(spec.taskId, i), results[i]!));
      } catch (e) {
        // The store is full: the task fails with ObjectStoreFullError (not retried: it would fail again).
        for (const r of out) this.deps.store.delete(r.id);
        failure = toWireError(e);
      }
    }
    if (failure) {
      this.deps.send({ type: 'task_done', taskId: spec.taskId, attempt: a.attempt, workerId, startMs, endMs, error: failure, systemFailure });
      return;
    }
    if ((spec.replicas ?? 1) > 1 && results) {
      // A verified task: each result goes with the SHA-256 of its bytes, for the coordinator to
      // compare across replicas. Hashing is asynchronous, so this report goes a little later.
      void this.withHashes(out, results).then(
        (hashed) => this.deps.send({ type: 'task_done', taskId: spec.taskId, attempt: a.attempt, workerId, startMs, endMs, results: hashed }),
        (e: unknown) => {
          for (const r of out) if (!r.obj) this.deps.store.delete(r.id);
          this.deps.send({ type: 'task_done', taskId: spec.taskId, attempt: a.attempt, workerId, startMs, endMs, error: toWireError(e), systemFailure: false });
        },
      );
      return;
    }
    this.deps.send({ type: 'task_done', taskId: spec.taskId, attempt: a.attempt, workerId, startMs, endMs, results: out });
  }

  /** The results with the SHA-256 of each (protocol/result-hash.ts), in order. */
  private async withHashes(out: readonly TaskResult[], results: readonly SerializedObject[]): Promise<TaskResult[]> {
    const hashes = await Promise.all(results.map((r) => resultSha256(r)));
    return out.map((r, i) => ({ ...r, sha256: hashes[i]! }));
  }
}
