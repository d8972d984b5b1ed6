// Stragglers (MapReduce's speculative execution; BOINC re-issues a work unit whose host misses its
// deadline). A volunteer can answer heartbeats and never finish what it holds — on purpose, or a
// tab in the background, a sleeping laptop. A task that has run on a volunteer node far longer than
// its function's tasks take elsewhere gets a copy on another node with room; whichever attempt
// ends first is the task's, and the other is stopped (task-manager.ts). The original keeps running
// meanwhile, so an honest slow machine loses nothing but the race.
//
// Durations are the coordinator's own clock, from dispatch to the report (a node's clock and its
// claimed start/end times are not believed), and a node is judged only by other nodes' records.

import type { FunctionId, NodeId } from '../protocol/ids.ts';
import { STRAGGLER_FACTOR, STRAGGLER_MIN_MS, STRAGGLER_SAMPLES, STRAGGLER_SWEEP_MS, STRAGGLER_UNKNOWN_MS } from './constants.ts';
import type { NodeManager } from './node-manager.ts';
import type { TaskEntry } from './task-entry.ts';
import { nowMs, type TaskTable } from './task-table.ts';

export interface StragglersDeps {
  readonly nodes: NodeManager;
  readonly tasks: TaskTable;
  /** A verified task's replica (`a`) straggles: it is stopped and runs again elsewhere (its replicas are its copies already). */
  readonly replicaStalled: (a: TaskEntry) => void;
  /** Sends a copy of the task to another node with room now: that node, or undefined when none has room. */
  readonly placeCopy: (t: TaskEntry) => NodeId | undefined;
  readonly log: (msg: string) => void;
}

interface Sample {
  readonly nodeId: NodeId;
  readonly ms: number;
}

export class Stragglers {
  private readonly byFn = new Map<FunctionId, Sample[]>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly d: StragglersDeps) {}

  /** A task was sent to a volunteer node: look for stragglers until none runs on one. */
  watch(): void {
    if (this.timer === undefined && !this.d.tasks.stopped) this.timer = setInterval(() => this.sweep(), STRAGGLER_SWEEP_MS);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Tasks run on volunteer nodes now (the sweep is on): durations are worth recording. */
  get watching(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Gives each straggling task on a volunteer node a copy elsewhere (one per task), while some
   * node has room. The coordinator's own node is trusted and never straggles by this rule.
   */
  sweep(now = nowMs()): void {
    let watched = 0;
    for (const node of this.d.nodes.all()) {
      if (!node.alive || !node.grants) continue;
      for (const taskId of [...node.running]) {
        const t = this.d.tasks.get(taskId);
        if (!t || t.spec.kind !== 'normal' || t.spec.numReturns === 'streaming') continue;
        if (t.verification) {
          // A replica that straggles runs again elsewhere, for the vote waits on it.
          const a = this.d.tasks.attemptOn(taskId, node.nodeId);
          if (!a || a.dispatchedAtMs === undefined || t.cancelled) continue;
          watched++;
          if (this.isStraggling(t.spec.fnId, node.nodeId, now - a.dispatchedAtMs)) this.d.replicaStalled(a);
          continue;
        }
        // Its own attempt on this node (not a copy sent here), not yet copied.
        if (t.nodeId !== node.nodeId) continue;
        watched++;
        if (t.copies || t.cancelled || t.dispatchedAtMs === undefined) continue;
        if (!this.isStraggling(t.spec.fnId, node.nodeId, now - t.dispatchedAtMs)) continue;
        const copyOn = this.d.placeCopy(t);
        if (copyOn) this.d.log(`task ${t.spec.name} has run ${Math.round(now - t.dispatchedAtMs)} ms on node ${node.nodeId}: a copy runs on node ${copyOn}, the first to finish counts`);
      }
    }
    if (watched === 0) this.close();
  }

  /** A task of `fnId` took `ms` on `nodeId`, dispatch to result. */
  record(fnId: FunctionId, nodeId: NodeId, ms: number): void {
    let s = this.byFn.get(fnId);
    if (!s) this.byFn.set(fnId, (s = []));
    if (s.length >= STRAGGLER_SAMPLES) s.shift();
    s.push({ nodeId, ms });
  }

  /** How long a task of `fnId` may run on `nodeId` before it is a straggler. */
  patienceMs(fnId: FunctionId, nodeId: NodeId): number {
    const elsewhere: number[] = [];
    for (const s of this.byFn.get(fnId) ?? []) if (s.nodeId !== nodeId) elsewhere.push(s.ms);
    if (elsewhere.length === 0) return STRAGGLER_UNKNOWN_MS;
    elsewhere.sort((a, b) => a - b);
    const median = elsewhere[elsewhere.length >> 1]!;
    return Math.max(STRAGGLER_MIN_MS, STRAGGLER_FACTOR * median);
  }

  /** The task has run `ranMs` on `nodeId`: time for a copy elsewhere. */
  isStraggling(fnId: FunctionId, nodeId: NodeId, ranMs: number): boolean {
    return ranMs > this.patienceMs(fnId, nodeId);
  }
}
