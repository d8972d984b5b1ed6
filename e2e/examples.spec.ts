// Ray Core's examples and patterns, written as a webray user would write them (docs.ray.io,
// "Ray Core" examples): Monte Carlo π with a progress actor, batching fine-grained tasks, multiple
// returns, generators, cancel, processing results in completion order with `wait`, and the
// distributed quicksort with `partition` shipped through `scope`.
import type { ObjectRef } from '../runtime/index.ts';
import { test, expect } from './fixtures.ts';
import { installStateWaits } from './state-waits.ts';

test.beforeEach(({ rayPage }) => installStateWaits(rayPage));

declare global {
  // A ref a test keeps in the page between evaluate calls.
  var e2eRef: ObjectRef<unknown>;
}

test.describe('Ray Core examples', () => {
  test.use({ initOptions: { numCpus: 4 } });

  test('Monte Carlo π: sampling tasks report to a progress actor while they run; π within 0.05, progress reaches 100%', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const NUM_SAMPLING_TASKS = 4;
      const NUM_SAMPLES_PER_TASK = 3_000_000;
      const REPORT_EVERY = 250_000;
      const TOTAL_NUM_SAMPLES = NUM_SAMPLING_TASKS * NUM_SAMPLES_PER_TASK;

      const ProgressActor = ray.remote(
        class ProgressActor {
          totalNumSamples: number;
          numSamplesCompletedPerTask = new Map<number, number>();
          constructor(totalNumSamples: number) {
            this.totalNumSamples = totalNumSamples;
          }
          reportProgress(taskId: number, numSamplesCompleted: number) {
            this.numSamplesCompletedPerTask.set(taskId, numSamplesCompleted);
          }
          getProgress() {
            let done = 0;
            for (const n of this.numSamplesCompletedPerTask.values()) done += n;
            return done / this.totalNumSamples;
          }
        },
      );
      type Progress = ReturnType<typeof ProgressActor.remote>;

      // Task 0 pauses at a gate after its first report until the page has seen progress part way:
      // so "reports arrive while the tasks run" is a state the test waits for, not a race it hopes
      // to win (a sync loop's reports otherwise leave together when the loop yields).
      const gate = globalThis.taskGate;
      const samplingTask = ray.remote({ scope: { gate } }, async function samplingTask(numSamples: number, taskId: number, progressActor: Progress, reportEvery: number) {
        let numInside = 0;
        for (let i = 0; i < numSamples; i++) {
          const x = Math.random() * 2 - 1;
          const y = Math.random() * 2 - 1;
          if (x * x + y * y <= 1) numInside++;
          // Report progress every so often.
          if ((i + 1) % reportEvery === 0) {
            progressActor.reportProgress.remote(taskId, i + 1);
            if (taskId === 0 && i + 1 === reportEvery) await gate('seen part way');
          }
        }
        progressActor.reportProgress.remote(taskId, numSamples);
        return numInside;
      });

      const progressActor = ProgressActor.remote(TOTAL_NUM_SAMPLES);
      const results = Array.from({ length: NUM_SAMPLING_TASKS }, (_, i) =>
        samplingTask.remote(NUM_SAMPLES_PER_TASK, i, progressActor, REPORT_EVERY),
      );
      // Query progress periodically, as the example does.
      const marks = globalThis.listenMarks();
      const partWay = (p: number) => p > 0 && p < 1 && Math.abs(p * 4 - Math.round(p * 4)) > 1e-9;
      const seen: number[] = [];
      const t0 = performance.now();
      for (;;) {
        const progress = await ray.get(progressActor.getProgress.remote());
        seen.push(progress);
        if (partWay(progress)) marks.open('seen part way');
        else if (!seen.some(partWay) && performance.now() - t0 > 20_000) throw new Error(`no report arrived while the tasks ran; progress seen: ${seen.join(', ')}`);
        if (progress >= 1) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      marks.close();
      const totalNumInside = (await ray.get(results)).reduce((a, b) => a + b, 0);
      const pi = (totalNumInside * 4) / TOTAL_NUM_SAMPLES;
      return { pi, seen };
    });
    expect(Math.abs(out.pi - Math.PI)).toBeLessThan(0.05);
    expect(out.seen.at(-1)).toBe(1);
    // Progress never goes back.
    for (let i = 1; i < out.seen.length; i++) expect(out.seen[i]!).toBeGreaterThanOrEqual(out.seen[i - 1]!);
    // Some reading caught a task part way: reports arrive while the tasks run, not only when they end.
    expect(out.seen.some((p) => p > 0 && p < 1 && Math.abs(p * 4 - Math.round(p * 4)) > 1e-9)).toBe(true);
  });

  test('batching: many fine-grained tasks and the same work in batches give the same results', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const double = ray.remote((n: number) => n * 2);
      const doubleBatch = ray.remote((numbers: number[]) => numbers.map((n) => n * 2));
      const numbers = Array.from({ length: 2000 }, (_, i) => i);

      const fine = await ray.get(numbers.map((n) => double.remote(n)));

      const BATCH_SIZE = 100;
      const batchRefs = [];
      for (let i = 0; i < numbers.length; i += BATCH_SIZE) batchRefs.push(doubleBatch.remote(numbers.slice(i, i + BATCH_SIZE)));
      const batched = (await ray.get(batchRefs)).flat();
      return { fine, batched, batches: batchRefs.length };
    });
    const expected = Array.from({ length: 2000 }, (_, i) => i * 2);
    expect(out.fine).toEqual(expected);
    expect(out.batched).toEqual(expected);
    expect(out.batches).toBe(20);
  });

  test('multiple returns: numReturns gives one ref per value, and each can be passed on alone', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      type Three = [ObjectRef<number>, ObjectRef<number>, ObjectRef<number>];
      const returnMultiple = ray.remote({ numReturns: 3 }, function returnMultiple() {
        return [0, 1, 2];
      });
      // numReturns is an option, so the static type is one ref; at run time it is a tuple of refs.
      const [a, b, c] = returnMultiple.remote() as unknown as Three;
      const values = await ray.get([a, b, c] as const);
      // The same function with a per-call override, and a value passed on to another task.
      const stats = ray.remote(function stats(xs: number[]) {
        const sum = xs.reduce((s, x) => s + x, 0);
        return [Math.min(...xs), Math.max(...xs), sum / xs.length];
      });
      const [min, max, mean] = stats.options({ numReturns: 3 }).remote([4, 8, 15, 16, 23, 42]) as unknown as Three;
      const span = ray.remote((lo: number, hi: number) => hi - lo).remote(min, max);
      return { values, mean: await ray.get(mean), span: await ray.get(span) };
    });
    expect(out.values).toEqual([0, 1, 2]);
    expect(out.mean).toBe(18);
    expect(out.span).toBe(38);
  });

  test('generators: a task yields results one by one and the caller uses each as it arrives', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      // The task goes on past item 0 only once the caller has item 0 in hand: the stream delivers
      // items while the task still runs, or this never finishes (no clock is read).
      const Gate = ray.remote(
        class Gate {
          opened = false;
          waiting: (() => void)[] = [];
          open() {
            this.opened = true;
            for (const w of this.waiting) w();
          }
          async wait() {
            if (!this.opened) await new Promise<void>((r) => this.waiting.push(r));
          }
        },
      );
      const gate = Gate.remote();
      const task = ray.remote(async function* task(n: number, g: typeof gate) {
        for (let i = 0; i < n; i++) {
          if (i === 1) await ray.get(g.wait.remote());
          yield i;
        }
      });
      const seen: number[] = [];
      const consume = (async () => {
        for await (const ref of task.remote(5, gate)) {
          const value = await ray.get<number>(ref as never);
          seen.push(value);
          if (value === 0) gate.open.remote();
        }
        return seen;
      })();
      return Promise.race([consume, new Promise<string>((r) => setTimeout(() => r(`stuck after ${JSON.stringify(seen)}`), 20_000))]);
    });
    expect(out).toEqual([0, 1, 2, 3, 4]);
  });

  test('cancel: a blocking operation is cancelled and ray.get raises TaskCancelledError', async ({ rayPage }) => {
    await rayPage.evaluate(() => {
      const ray = globalThis.ray;
      const blockingOperation = ray.remote(async function blockingOperation() {
        await new Promise((r) => setTimeout(r, 10_000_000));
      });
      globalThis.e2eRef = blockingOperation.remote();
    });
    // Cancelled while it runs, as in the example.
    await expect
      .poll(() => rayPage.evaluate(async () => (await globalThis.ray.tasks({ state: 'RUNNING' })).map((t) => t.name)), { message: 'running tasks' })
      .toEqual(['blockingOperation']);
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const objRef = globalThis.e2eRef;
      ray.cancel(objRef);
      try {
        await ray.get(objRef);
        return 'finished';
      } catch (e) {
        if (e instanceof ray.TaskCancelledError) return 'Object reference was cancelled.';
        throw e;
      }
    });
    expect(out).toBe('Object reference was cancelled.');
  });

  test('wait: results are processed in completion order, not submission order', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      // The example's tasks of different lengths, with the lengths made certain: each task ends
      // when the page tells it to (local mode's workers share the page's origin, so a
      // BroadcastChannel reaches them), 3 first, then 1, 2 and 0, the next one only once the
      // page has processed the one before.
      const channel = new BroadcastChannel('e2e-wait-order');
      const started = new Set<number>();
      const allStarted = new Promise<void>((resolve) => {
        channel.onmessage = (e: MessageEvent<{ started: number }>) => {
          started.add(e.data.started);
          if (started.size === 4) resolve();
        };
      });
      const work = ray.remote(async (id: number) => {
        const ch = new BroadcastChannel('e2e-wait-order');
        await new Promise<void>((resolve) => {
          ch.onmessage = (e: MessageEvent<{ end: number }>) => e.data.end === id && resolve();
          ch.postMessage({ started: id });
        });
        ch.close();
        return id;
      });
      const completionOrder = [3, 1, 2, 0];
      let refs = [0, 1, 2, 3].map((id) => work.remote(id));
      await allStarted;
      channel.postMessage({ end: completionOrder[0] });
      const processed: number[] = [];
      while (refs.length > 0) {
        const [ready, notReady] = await ray.wait(refs, { numReturns: 1 });
        processed.push(await ray.get(ready[0]!));
        refs = notReady;
        const next = completionOrder[processed.length];
        if (next !== undefined) channel.postMessage({ end: next });
      }
      channel.close();
      return processed;
    });
    expect(out).toEqual([3, 1, 2, 0]);
  });

  test('quicksort: a recursive remote function sorts with partition shipped through scope', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      function partition(collection: number[]): [number[], number, number[]] {
        const rest = [...collection];
        const pivot = rest.pop()!;
        const greater: number[] = [];
        const lesser: number[] = [];
        for (const element of rest) {
          if (element > pivot) greater.push(element);
          else lesser.push(element);
        }
        return [lesser, pivot, greater];
      }
      const quickSortDistributed = ray.remote({ scope: { partition } }, async function quickSortDistributed(collection: number[]): Promise<number[]> {
        if (collection.length <= 500) return [...collection].sort((a, b) => a - b);
        const [lesser, pivot, greater] = partition(collection);
        // In the worker the function's own name is its remote handle.
        const self = quickSortDistributed as unknown as { remote(c: number[]): ObjectRef<number[]> };
        const [l, g] = await ray.get([self.remote(lesser), self.remote(greater)] as const);
        return [...l, pivot, ...g];
      });
      const unsorted = Array.from({ length: 20_000 }, () => Math.floor(Math.random() * 1_000_000));
      const sorted = await ray.get(quickSortDistributed.remote(unsorted));
      const expected = [...unsorted].sort((a, b) => a - b);
      const tasks = await ray.tasks({ state: 'FINISHED' });
      return {
        same: sorted.length === expected.length && sorted.every((x, i) => x === expected[i]),
        length: sorted.length,
        recursiveTasks: tasks.filter((t) => t.name === 'quickSortDistributed').length,
      };
    });
    expect(out.length).toBe(20_000);
    expect(out.same).toBe(true);
    expect(out.recursiveTasks).toBeGreaterThan(3);
  });
});

test.describe('Ray Core patterns on one CPU', () => {
  test.use({ initOptions: { numCpus: 1 } });

  test('nested tasks: a task that submits a child mid-body and waits for it later finishes on a single CPU', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const busy = (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // CPU-bound work
        }
      };
      const leaf = ray.remote(function leaf(x: number) {
        return x + 1;
      });
      // Warm up: leaf is now known to be a short task.
      await ray.get([0, 1, 2, 3].map((i) => leaf.remote(i)));
      const parent = ray.remote({ scope: { leaf, busy } }, async function parent() {
        busy(20);
        const child = leaf.remote(41); // submitted while this task still holds the only CPU
        busy(40);
        return ray.get(child); // blocking here lends the CPU to the child
      });
      // Without the lent CPU the children would wait forever: the cap makes that a GetTimeoutError.
      // Typically done in ~200 ms.
      const t0 = performance.now();
      const results = await ray.get([parent.remote(), parent.remote()], { timeoutMs: 30_000 });
      return { results, ms: performance.now() - t0 };
    });
    test.info().annotations.push({ type: 'nested tasks on one CPU took', description: `${out.ms.toFixed(0)} ms` });
    expect(out.results).toEqual([42, 42]);
  });
});
