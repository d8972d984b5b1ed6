// How long each function's tasks take (an exponential moving average), to tell short tasks —
// which may be pipelined onto busy nodes and workers — from long ones. Used by the coordinator
// and by each node, each with its own view.

import type { FunctionId } from '../protocol/ids.ts';

/** A function whose tasks take less than this on average is "short". */
export const SHORT_TASK_MAX_MS = 2;

export class TaskDurations {
  private readonly byFn = new Map<FunctionId, { avgMs: number; n: number }>();

  record(fnId: FunctionId, ms: number): void {
    const s = this.byFn.get(fnId);
    if (!s) this.byFn.set(fnId, { avgMs: ms, n: 1 });
    else {
      s.avgMs = s.avgMs * 0.8 + ms * 0.2;
      s.n++;
    }
  }

  /** Seen at least twice, and not short on average. */
  isLong(fnId: FunctionId): boolean {
    const s = this.byFn.get(fnId);
    return s !== undefined && s.n >= 2 && s.avgMs >= SHORT_TASK_MAX_MS;
  }

  /** Seen at least twice, and short on average. */
  isShort(fnId: FunctionId): boolean {
    const s = this.byFn.get(fnId);
    return s !== undefined && s.n >= 2 && s.avgMs < SHORT_TASK_MAX_MS;
  }
}
