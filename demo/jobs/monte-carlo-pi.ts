// The Monte Carlo π job of Ray Core's examples ("Monte Carlo Estimation of π"): sampling tasks
// spread over the cluster's nodes report to a progress actor while they run, and the driver polls
// it for a live estimate. DOM-free, it takes the `ray` module as an argument, so the demo page and
// a headless driver (`npm run demo`) run the same code. It imports nothing at run time (types
// only), so a driver can also transpile this one file (`ts.transpileModule`) and import it into any
// page of the origin from a Blob URL, next to `await import('/webray.js')`.
import type { Webray } from '../load-webray.ts';

export interface PiOptions {
  /** Samples over all tasks. */
  readonly totalSamples: number;
  /** Sampling tasks to split them into (spread over nodes with SPREAD scheduling). */
  readonly numTasks: number;
  /** A task reports its progress every this many samples. */
  readonly reportEvery?: number;
  /** How often the driver asks the progress actor (ms). */
  readonly pollMs?: number;
  /** Cancels the sampling tasks; the job then rejects with the runtime's TaskCancelledError. */
  readonly signal?: AbortSignal;
  /**
   * Verified results (`replicas: 2`): each sampling task runs on two nodes and its count is taken
   * only when both agree. The tasks then draw from the seed every replica shares
   * (`getRuntimeContext().seed`) instead of Math.random, so honest replicas agree.
   */
  readonly verify?: boolean;
}

export interface PiProgress {
  /** Samples done / samples asked, 0…1; never goes back, even when a task restarts elsewhere. */
  readonly fraction: number;
  readonly samplesDone: number;
  readonly totalSamples: number;
  /** 4 × inside / samples so far, or null before the first report. */
  readonly estimate: number | null;
  /** Samples computed by each node (work lost with a node that left still counts for it). */
  readonly perNode: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
}

export interface PiResult extends PiProgress {
  readonly pi: number;
  readonly numTasks: number;
  /** Sampling tasks that finished on a different attempt than the first (a node left). */
  readonly retried: number;
  /** Each count was agreed on by two nodes (`verify`). */
  readonly verified: boolean;
}

/** What one attempt of one sampling task has done so far, as the progress actor stores it. */
interface AttemptReport {
  readonly task: number;
  readonly attempt: string;
  readonly node: string;
  readonly done: number;
  readonly inside: number;
}

/** Ray's ProgressActor, extended with who did the work: keeps the latest report of each attempt. */
class PiProgressActor {
  reports = new Map<string, AttemptReport>();
  report(task: number, attempt: string, node: string, done: number, inside: number): void {
    const prev = this.reports.get(attempt);
    if (!prev || prev.done < done) this.reports.set(attempt, { task, attempt, node, done, inside });
  }
  snapshot(): AttemptReport[] {
    return [...this.reports.values()];
  }
}

/**
 * Throws darts at the unit square; runs remotely. `progress` is the actor's handle. With `seeded`
 * (verified runs) its darts come from the task's seed, the same on every replica, and its result
 * leaves out what differs between replicas (which attempt, which node), so honest ones agree.
 */
function samplingTask(
  task: number,
  numSamples: number,
  progress: { report: { remote(...a: [number, string, string, number, number]): unknown } },
  reportEvery: number,
  seeded: boolean,
): AttemptReport {
  const context = ray.getRuntimeContext();
  const attempt = `${task}:${Math.random().toString(36).slice(2, 10)}`;
  const node = String(context.nodeId);
  // mulberry32 from the task's seed: deterministic, so every replica draws the same darts.
  let state = context.seed >>> 0;
  const seededRandom = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const random = seeded ? seededRandom : Math.random;
  let inside = 0;
  let done = 0;
  while (done < numSamples) {
    const end = Math.min(numSamples, done + reportEvery);
    for (let i = done; i < end; i++) {
      const x = random();
      const y = random();
      if (x * x + y * y <= 1) inside++;
    }
    done = end;
    progress.report.remote(task, attempt, node, done, inside);
  }
  return seeded ? { task, attempt: '', node: '', done, inside } : { task, attempt, node, done, inside };
}
// `ray` inside samplingTask is the worker's global (docs/api.md, "Code shipping"); declared for the type checker.
declare const ray: Webray;

/** Sums the reports: the furthest attempt of each task counts for the estimate, all attempts for the nodes. */
function summarize(reports: readonly AttemptReport[], numTasks: number): { done: number; inside: number; perNode: Record<string, number> } {
  const best = new Map<number, AttemptReport>();
  const perNode: Record<string, number> = {};
  for (const r of reports) {
    const b = best.get(r.task);
    if (!b || r.done > b.done) best.set(r.task, r);
    perNode[r.node] = (perNode[r.node] ?? 0) + r.done;
  }
  let done = 0;
  let inside = 0;
  for (let t = 0; t < numTasks; t++) {
    const b = best.get(t);
    if (b) {
      done += b.done;
      inside += b.inside;
    }
  }
  return { done, inside, perNode };
}

/**
 * Estimates π on the running cluster (or local mode). `onProgress` is called after each poll of
 * the progress actor and once more with the final figures.
 */
export async function runMonteCarloPi(ray: Webray, options: PiOptions, onProgress?: (p: PiProgress) => void): Promise<PiResult> {
  const numTasks = Math.max(1, Math.floor(options.numTasks));
  const totalSamples = Math.max(numTasks, Math.floor(options.totalSamples));
  // Task t gets the base share, plus one sample while the remainder lasts, so they add up exactly.
  const base = Math.floor(totalSamples / numTasks);
  const samplesOf = (t: number): number => base + (t < totalSamples % numTasks ? 1 : 0);
  const reportEvery = Math.max(1, Math.min(base, options.reportEvery ?? 250_000));
  const pollMs = options.pollMs ?? 200;
  const started = performance.now();

  // The progress actor stays on the coordinator's node when it can: volunteers may leave mid-job.
  const head = ray.nodes().find((n) => n.isCoordinator && n.alive);
  const Progress = ray.remote(
    { numCpus: 0, ...(head ? { schedulingStrategy: { nodeId: head.nodeId, soft: true } } : {}) },
    PiProgressActor,
  );
  const progress = Progress.remote();
  const verify = options.verify === true;
  const sample = ray.remote({ schedulingStrategy: 'SPREAD', maxRetries: 10, ...(verify ? { replicas: 2 } : {}) }, samplingTask);
  const refs = Array.from({ length: numTasks }, (_, t) => sample.remote(t, samplesOf(t), progress as never, reportEvery, verify));
  const onAbort = (): void => refs.forEach((r) => ray.cancel(r));
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let fraction = 0;
  const report = (reports: readonly AttemptReport[]): PiProgress => {
    const s = summarize(reports, numTasks);
    fraction = Math.max(fraction, s.done / totalSamples);
    const p: PiProgress = {
      fraction,
      samplesDone: s.done,
      totalSamples,
      estimate: s.done > 0 ? (4 * s.inside) / s.done : null,
      perNode: s.perNode,
      elapsedMs: performance.now() - started,
    };
    onProgress?.(p);
    return p;
  };

  try {
    let pending = refs;
    while (pending.length > 0) {
      [, pending] = await ray.wait(pending, { numReturns: pending.length, timeoutMs: pollMs });
      if (pending.length > 0) report(await ray.get(progress.snapshot.remote()));
    }
    const results = await ray.get(refs);
    // The final figures come from the results themselves; the actor adds work lost with nodes that left.
    const reports = new Map<string, AttemptReport>();
    for (const r of await ray.get(progress.snapshot.remote())) reports.set(r.attempt, r);
    // (A verified result names no attempt: the replicas' own reports are in the actor's.)
    for (const r of results) if (r.attempt !== '') reports.set(r.attempt, r);
    const last = report([...reports.values()]);
    const inside = results.reduce((sum, r) => sum + r.inside, 0);
    const pi = (4 * inside) / totalSamples;
    const retried = verify ? 0 : results.filter((r) => [...reports.values()].some((o) => o.task === r.task && o.attempt !== r.attempt)).length;
    return { ...last, fraction: 1, samplesDone: totalSamples, estimate: pi, pi, numTasks, retried, verified: verify };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    ray.kill(progress);
  }
}
