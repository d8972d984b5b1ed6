// Scale by simulation (issue 12): the real Coordinator — task table, cluster scheduler, object
// directory and lifetimes, lineage, actor manager — driven by simulated nodes in this process. A
// simulated node answers each `run_task` with a `task_done` on the next turn (no browser, no worker:
// what is measured is the coordinator's own cost), and the driver's part is played here too:
// submitting tasks and dropping their refs once their results are in.
//
// Churn: every `churnEveryMs` of wall time, `churnFraction` of the nodes leave (their running
// tasks are retried elsewhere: the specs have maxRetries -1) and as many new ones join.
import { returnId, type FunctionId, type NodeId, type TaskId, DRIVER_HOLDER } from '../../runtime/protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../../runtime/protocol/node-messages.ts';
import type { FunctionDescriptor, NormalTaskSpec } from '../../runtime/protocol/task-spec.ts';
import { Coordinator, type NodeLink } from '../../runtime/coordinator/coordinator.ts';

export interface SimOptions {
  readonly nodes: number;
  /** Trivial tasks to run in all. */
  readonly tasks: number;
  /** Tasks kept in flight by the driver at once (it submits more as results come in). */
  readonly inFlight?: number;
  readonly cpusPerNode?: number;
  /** Fraction of the nodes that leave (and as many that join) every `churnEveryMs`; 0: none. */
  readonly churnFraction?: number;
  readonly churnEveryMs?: number;
}

export interface SimResult {
  readonly nodes: number;
  readonly tasks: number;
  readonly finished: number;
  /** Tasks whose result was wrong or missing at the end (must be 0). */
  readonly lost: number;
  readonly wallMs: number;
  /** Finished tasks per second of wall time (one thread: coordinator and simulated nodes). */
  readonly tasksPerSec: number;
  /** Wall time per finished task, µs. */
  readonly usPerTask: number;
  /** From submit to `run_task` reaching its node, ms. */
  readonly dispatchP50Ms: number;
  readonly dispatchP99Ms: number;
  /** Heap per node added, and per finished task once the driver dropped its refs (bytes; needs --expose-gc). */
  readonly heapPerNodeBytes: number | null;
  readonly heapPerTaskBytes: number | null;
  readonly nodesLeft: number;
  readonly retries: number;
}

const FN = 'sim-fn' as FunctionId;
const desc: FunctionDescriptor = { fnId: FN, kind: 'function', name: 'trivial', source: '(x) => x', scope: [], options: {} };

function heap(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A simulated node: answers every task it is sent with its argument, on the next turn. */
class SimNode implements NodeLink {
  alive = true;
  private queued: NodeToCoordinator[] = [];
  private flushing = false;

  constructor(
    readonly nodeId: NodeId,
    private readonly sim: Simulation,
  ) {}

  send(msg: CoordinatorToNode): void {
    if (!this.alive) return;
    if (msg.type === 'run_task') {
      this.sim.dispatched(msg.spec.taskId);
      const arg = msg.args[0];
      const v = arg?.kind === 'inline' ? arg.obj.v : null;
      this.queued.push({
        type: 'task_done',
        taskId: msg.spec.taskId,
        attempt: msg.attempt,
        workerId: null,
        startMs: 0,
        endMs: 0,
        results: [{ id: returnId(msg.spec.taskId, 0), size: 8, obj: { v, size: 8 } }],
      });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    }
  }

  private flush(): void {
    this.flushing = false;
    const batch = this.queued;
    this.queued = [];
    if (!this.alive) return;
    for (const m of batch) this.sim.coordinator.handleNodeMessage(this.nodeId, m);
  }
}

class Simulation {
  readonly coordinator: Coordinator;
  private readonly submittedAt = new Map<TaskId, number>();
  readonly dispatchMs: number[] = [];
  private next = 0;

  constructor() {
    this.coordinator = new Coordinator('sim-head' as NodeId);
    this.coordinator.registerFunction(desc);
  }

  dispatched(taskId: TaskId): void {
    const t0 = this.submittedAt.get(taskId);
    if (t0 === undefined) return; // a retry: timed from its first submission already
    this.submittedAt.delete(taskId);
    this.dispatchMs.push(performance.now() - t0);
  }

  /** Submits task number `i` (its argument is `i`, its result must be `i`). */
  submit(i: number): TaskId {
    const taskId = `sim-t${(this.next++).toString(36)}` as TaskId;
    const spec: NormalTaskSpec = {
      taskId,
      kind: 'normal',
      name: 'trivial',
      fnId: FN,
      args: [{ kind: 'value', obj: { v: i, size: 8 } }],
      numReturns: 1,
      resources: { CPU: 1 },
      maxRetries: -1,
      retryExceptions: false,
      strategy: 'DEFAULT',
      enableTaskEvents: true,
      generatorBackpressure: 0,
      callerId: DRIVER_HOLDER,
    };
    this.submittedAt.set(taskId, performance.now());
    this.coordinator.submitTask(spec);
    return taskId;
  }
}

/** Runs one simulated job and measures it. */
export async function simulate(opts: SimOptions): Promise<SimResult> {
  const cpus = opts.cpusPerNode ?? 4;
  const inFlight = opts.inFlight ?? Math.min(opts.tasks, Math.max(1_000, opts.nodes * cpus * 2));
  const sim = new Simulation();
  const c = sim.coordinator;
  const nodes: SimNode[] = [];
  let nodeSeq = 0;
  const join = (): void => {
    const n = new SimNode(`sim-n${nodeSeq++}` as NodeId, sim);
    nodes.push(n);
    c.addNode(n.nodeId, { CPU: cpus }, n, { isCoordinator: false, gpuFallback: false });
  };
  const heap0 = heap();
  for (let i = 0; i < opts.nodes; i++) join();
  const heap1 = heap();

  let finished = 0;
  let lost = 0;
  let nodesLeft = 0;
  let submitted = 0;
  const t0 = performance.now();
  let lastChurn = t0;
  const churn = opts.churnFraction ?? 0;
  const churnEvery = opts.churnEveryMs ?? 1_000;

  await new Promise<void>((resolve) => {
    const pending = new Map<TaskId, number>();
    const submitOne = (): void => {
      const i = submitted++;
      const id = sim.submit(i);
      pending.set(id, i);
      const ref = returnId(id, 0);
      void c.waitObjects([ref], 1, null).then(() => {
        const v = c.locate(ref)?.obj?.v;
        if (v !== i) lost++;
        pending.delete(id);
        finished++;
        // The driver drops its ref: the result (and the task's lineage, if any) may go.
        c.updateRefs(DRIVER_HOLDER, undefined, { release: [ref] });
        if (submitted < opts.tasks) submitOne();
        else if (pending.size === 0) resolve();
        const now = performance.now();
        if (churn > 0 && now - lastChurn >= churnEvery) {
          lastChurn = now;
          const k = Math.max(1, Math.round(nodes.length * churn));
          for (let j = 0; j < k; j++) {
            const idx = Math.floor(Math.random() * nodes.length);
            const gone = nodes.splice(idx, 1)[0]!;
            gone.alive = false;
            c.removeNode(gone.nodeId, 'simulated churn');
            nodesLeft++;
            join();
          }
        }
      });
    };
    for (let i = 0; i < Math.min(inFlight, opts.tasks); i++) submitOne();
  });
  const wallMs = performance.now() - t0;
  const heap2 = heap();
  const retries = c.taskInfos().reduce((n, t) => n + Math.max(0, t.attempts - 1), 0);
  c.stop();
  const sorted = [...sim.dispatchMs].sort((a, b) => a - b);
  return {
    nodes: opts.nodes,
    tasks: opts.tasks,
    finished,
    lost,
    wallMs,
    tasksPerSec: (finished / wallMs) * 1000,
    usPerTask: (wallMs * 1000) / Math.max(1, finished),
    dispatchP50Ms: percentile(sorted, 50),
    dispatchP99Ms: percentile(sorted, 99),
    heapPerNodeBytes: heap0 !== null && heap1 !== null ? (heap1 - heap0) / opts.nodes : null,
    heapPerTaskBytes: heap1 !== null && heap2 !== null ? (heap2 - heap1) / Math.max(1, finished) : null,
    nodesLeft,
    retries,
  };
}
