// The receiving end of a worker's batches (the worker-side twin of transport/inbox.ts): each batch
// checked to be a bounded list, each message in it checked field by field
// (protocol/worker-message-schemas.ts) and handed on, or refused: not acted on, logged with what
// was wrong, and counted against the worker, which is retired as failed at WORKER_STRIKE_LIMIT.
// A worker runs shipped code — on a volunteer's node a stranger's — so nothing it posts may throw
// here or reach the node unchecked.

import type { Logger } from '../common/logger.ts';
import { MAX_WORKER_BATCH, parseFromWorker } from '../protocol/worker-message-schemas.ts';
import type { FromWorker } from '../protocol/worker-messages.ts';
import type { WorkerSlot } from './assignment.ts';
import { WORKER_STRIKE_LIMIT } from './constants.ts';

/** Longest account of what was wrong kept in a log line or a retirement reason. */
const MAX_REASON_CHARS = 300;

export interface WorkerInboxDeps {
  readonly log: Logger;
  /** The well-formed messages of one batch, in order (never empty). */
  readonly onMessages: (w: WorkerSlot, batch: readonly FromWorker[]) => void;
  /** The worker reached WORKER_STRIKE_LIMIT: retire it as failed, for `reason`. */
  readonly onCutOff: (w: WorkerSlot, reason: string) => void;
}

export class WorkerInbox {
  private readonly deps: WorkerInboxDeps;
  /** Malformed messages and batches each worker posted so far. */
  private readonly strikes = new WeakMap<WorkerSlot, number>();

  constructor(deps: WorkerInboxDeps) {
    this.deps = deps;
  }

  /** One `postMessage` from the worker: delivers what is well formed, then cuts the worker off if it reached the limit. */
  push(w: WorkerSlot, batch: unknown): void {
    if (w.dead) return;
    if (!Array.isArray(batch)) return this.cutOffIfDone(w, this.strike(w, `a batch that is not a list (${batch === null ? 'null' : typeof batch})`));
    if (batch.length > MAX_WORKER_BATCH) return this.cutOffIfDone(w, this.strike(w, `a batch of ${batch.length} messages (at most ${MAX_WORKER_BATCH})`));
    const msgs: FromWorker[] = [];
    let last: string | undefined;
    for (const item of batch as unknown[]) {
      const parsed = parseFromWorker(item);
      if (parsed.ok) msgs.push(parsed.msg);
      else last = this.strike(w, `a malformed message: ${parsed.reason}`);
    }
    if (msgs.length > 0) this.deps.onMessages(w, msgs);
    if (last !== undefined) this.cutOffIfDone(w, last);
  }

  /** Malformed messages and batches `w` posted so far. */
  strikesOf(w: WorkerSlot): number {
    return this.strikes.get(w) ?? 0;
  }

  private strike(w: WorkerSlot, what: string): string {
    const n = this.strikesOf(w) + 1;
    this.strikes.set(w, n);
    const said = what.length > MAX_REASON_CHARS ? `${what.slice(0, MAX_REASON_CHARS)}…` : what;
    this.deps.log.warn(`refusing ${said} from worker ${w.id} (strike ${n} of ${WORKER_STRIKE_LIMIT})`);
    return said;
  }

  private cutOffIfDone(w: WorkerSlot, last: string): void {
    const n = this.strikesOf(w);
    if (n < WORKER_STRIKE_LIMIT || w.dead) return;
    this.deps.onCutOff(w, `sent ${n} malformed messages (the last: ${last}) and was retired`);
  }
}
