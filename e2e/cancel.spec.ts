// Cancellation in local mode (docs/api.md "Cancellation"): a queued task never runs; a running task's
// signal is aborted and its get rejects TaskCancelledError at once; a sync body that ignores the
// signal loses its Web Worker after the grace period (or at once with force) and the pool
// replaces it; recursive cancel reaches the tasks it submitted; cancelled tasks are not retried.
// Side effects are recorded in a Tracker actor, which is placed before the CPU gets busy.
// Every test cancels once the task has reached a known point (a mark it posted, a gate it waits at,
// its row in ray.tasks()), and proves "did not happen" by a later state that would have shown it.
import { test, expect } from './fixtures.ts';
import { installStateWaits } from './state-waits.ts';

test.beforeEach(({ rayPage }) => installStateWaits(rayPage));

test.describe('cancellation', () => {
  test.use({ initOptions: { numCpus: 1 } });

  test('a queued task never runs and its get rejects TaskCancelledError', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const { taskMark: mark, taskGate: gate } = globalThis;
      // No ray.get in the body: a task blocked in get lends its CPU, and the queued one could start.
      const work = ray.remote({ scope: { mark, gate } }, async function work(key: string) {
        mark(`ran:${key}`);
        if (key === 'busy') await gate('busy');
        return key;
      });
      const busy = work.remote('busy'); // holds the only CPU until the test opens its gate
      const queued = work.remote('queued');
      await marks.wait('waiting:busy');
      ray.cancel(queued);
      // The get settles while busy still holds the CPU: it does not wait for the task's turn.
      let result: string | undefined;
      void ray.get(queued).then(
        () => (result = 'resolved'),
        (e: Error) => (result = e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      await globalThis.waitUntil('the get of the cancelled queued task to settle while busy holds the CPU', () => result);
      marks.open('busy');
      const busyValue = await ray.get(busy);
      // On the one CPU, 'queued' (submitted before 'after') would have run before it.
      const after = await ray.get(work.remote('after'));
      await marks.wait('ran:after');
      return { result, busyValue, after, ran: marks.seen.filter((m) => m.startsWith('ran:')) };
    });
    expect(out.result).toBe('TaskCancelledError');
    expect(out.busyValue).toBe('busy');
    expect(out.after).toBe('after');
    expect(out.ran).toEqual(['ran:busy', 'ran:after']); // 'queued' never ran
  });

  test('a running async task sees its signal aborted and the get rejects at once', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const mark = globalThis.taskMark;
      const nap = ray.remote({ scope: { mark } }, async function nap(ms: number) {
        const signal = ray.getRuntimeContext().signal;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            mark(`aborted:${signal.reason instanceof DOMException ? signal.reason.name : typeof signal.reason}`);
            resolve();
          });
          mark(`started on ${String(ray.getRuntimeContext().workerId)}`);
        });
        mark('finished');
        return 'slept';
      });
      const ref = nap.remote(30_000);
      const started = await globalThis.waitUntil('nap to start', () => marks.seen.find((m) => m.startsWith('started on ')));
      const t0 = performance.now();
      ray.cancel(ref);
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      const rejectMs = performance.now() - t0;
      await marks.wait('aborted:AbortError');
      await marks.wait('finished');
      // The body stopped on its own, so its worker was not terminated: the next task runs on it.
      const next = await ray.get(ray.remote(() => ray.getRuntimeContext().workerId).remote());
      return { result, rejectMs, aborted: marks.count('aborted:AbortError'), napWorker: started.slice('started on '.length), nextWorker: String(next) };
    });
    expect(out.result).toBe('TaskCancelledError');
    expect(out.rejectMs).toBeLessThan(5_000); // typically ~5 ms; the body's own timer is 30 s
    expect(out.aborted).toBe(1);
    expect(out.nextWorker).toBe(out.napWorker);
  });

  test('a running sync busy loop: get rejects at once, the worker is terminated after the grace period and replaced', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const mark = globalThis.taskMark;
      const spin = ray.remote({ scope: { mark } }, function spin(ms: number) {
        mark(`spinning on ${String(ray.getRuntimeContext().workerId)}`);
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // ignores its signal
        }
        return 'spun';
      });
      const ref = spin.remote(30_000);
      const started = await globalThis.waitUntil('spin to start', () => marks.seen.find((m) => m.startsWith('spinning on ')));
      const t0 = performance.now();
      ray.cancel(ref);
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      // "At once": the get rejected while the spinning worker still held the only CPU.
      const cpuAtReject = ray.availableResources().CPU;
      await globalThis.waitUntil('the spinning worker to be terminated and its CPU given back', () => ray.availableResources().CPU === 1);
      const cpuBackMs = performance.now() - t0;
      const next = await ray.get(ray.remote(() => ray.getRuntimeContext().workerId).remote());
      return { result, cpuAtReject, cpuBackMs, spinWorker: started.slice('spinning on '.length), nextWorker: String(next) };
    });
    expect(out.result).toBe('TaskCancelledError');
    expect(out.cpuAtReject).toBeUndefined(); // fully used: left out, as Ray's available_resources()
    // The CPU stayed busy until the grace period (1 s) ended, then a fresh worker ran the next task.
    expect(out.cpuBackMs).toBeGreaterThan(900);
    expect(out.cpuBackMs).toBeLessThan(5_000); // typically ~1.0–1.1 s
    expect(out.nextWorker).not.toBe(out.spinWorker);
  });

  test('force: true terminates a running sync task at once and the pool replaces its worker', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const mark = globalThis.taskMark;
      const spin = ray.remote({ name: 'spin', scope: { mark } }, function spin(ms: number) {
        mark(`spinning on ${String(ray.getRuntimeContext().workerId)}`);
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // busy
        }
        return 'spun';
      });
      const ref = spin.remote(30_000);
      const started = await globalThis.waitUntil('spin to start', () => marks.seen.find((m) => m.startsWith('spinning on ')));
      const t0 = performance.now();
      ray.cancel(ref, { force: true });
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      await globalThis.waitUntil('the spinning worker to be terminated and its CPU given back', () => ray.availableResources().CPU === 1);
      const cpuBackMs = performance.now() - t0;
      const next = await ray.get(ray.remote(() => ray.getRuntimeContext().workerId).remote());
      return { result, cpuBackMs, spinWorker: started.slice('spinning on '.length), nextWorker: String(next) };
    });
    expect(out.result).toBe('TaskCancelledError');
    // No grace period with force: the CPU is back long before the 1 s a cancel without force waits.
    expect(out.cpuBackMs).toBeLessThan(900); // typically ~15 ms
    expect(out.nextWorker).not.toBe(out.spinWorker);
  });

  test('cancelled tasks are not retried, whether the body stopped or its worker was terminated', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Tracker = ray.remote(
        class Tracker {
          marks: Record<string, number> = {};
          mark(k: string) {
            this.marks[k] = (this.marks[k] ?? 0) + 1;
          }
          read() {
            return this.marks;
          }
        },
      );
      type TrackerHandle = ReturnType<typeof Tracker.remote>;
      const tracker = Tracker.remote();
      await ray.get(tracker.read.remote());
      const job = ray.remote({ maxRetries: 3 }, async (t: TrackerHandle, key: string, spin: boolean) => {
        await ray.get(t.mark.remote(key));
        if (spin) {
          const end = Date.now() + 30_000;
          while (Date.now() < end) {
            // busy
          }
        } else {
          await new Promise((r) => setTimeout(r, 30_000));
        }
        return key;
      });
      const runs = async (key: string) => (await ray.get(tracker.read.remote()))[key] ?? 0;
      const cancelWhenRunning = async (key: string, spin: boolean, force: boolean) => {
        const ref = job.options({ name: key }).remote(tracker, key, spin);
        await globalThis.waitUntil(`${key} to start`, async () => (await runs(key)) > 0);
        ray.cancel(ref, { force });
        const err = await ray.get(ref).then(
          () => 'resolved',
          (e: Error) => e.name,
        );
        // Once its worker lets go (the body stopped, or the worker was terminated), the task is
        // either retried or done for good: its row says which.
        const row = await globalThis.waitUntil(`${key} to end`, async () =>
          (await ray.tasks()).find((t) => t.name === key && (t.state === 'FINISHED' || t.state === 'FAILED')),
        );
        return { err, state: row.state, attempts: row.attempts };
      };
      const ends = [
        await cancelWhenRunning('async', false, false),
        await cancelWhenRunning('forced', true, true),
        await cancelWhenRunning('grace', true, false),
      ];
      return { ends, marks: await ray.get(tracker.read.remote()) };
    });
    expect(out.ends).toEqual([
      { err: 'TaskCancelledError', state: 'FAILED', attempts: 1 },
      { err: 'TaskCancelledError', state: 'FAILED', attempts: 1 },
      { err: 'TaskCancelledError', state: 'FAILED', attempts: 1 },
    ]);
    expect(out.marks).toEqual({ async: 1, forced: 1, grace: 1 });
  });

  test('a cancelled task is FAILED in ray.tasks() with a TaskCancelledError, queued or running', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const nap = ray.remote(async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        return ms;
      });
      const running = nap.options({ name: 'running-victim' }).remote(30_000);
      const queued = nap.options({ name: 'queued-victim' }).remote(30_000);
      const find = async (name: string) => (await ray.tasks()).find((t) => t.name === name);
      await globalThis.waitUntil('running-victim to be RUNNING', async () => (await find('running-victim'))?.state === 'RUNNING');
      const queuedBefore = (await find('queued-victim'))?.state;
      ray.cancel(queued);
      ray.cancel(running);
      await Promise.allSettled([ray.get(running), ray.get(queued)]);
      // The running one is FAILED once its worker lets go (after the grace period: nap ignores its signal).
      const r = await globalThis.waitUntil('running-victim to be FAILED', async () => {
        const row = await find('running-victim');
        return row?.state === 'FAILED' && row;
      });
      const failed = await ray.tasks({ state: 'FAILED' });
      return {
        queuedBefore,
        running: { state: r.state, error: r.error },
        queued: await find('queued-victim').then((q) => q && { state: q.state, error: q.error }),
        failedNames: failed.map((t) => t.name).sort(),
      };
    });
    expect(['PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER']).toContain(out.queuedBefore);
    expect(out.running.state).toBe('FAILED');
    expect(out.running.error).toMatch(/TaskCancelledError/);
    expect(out.queued?.state).toBe('FAILED');
    expect(out.queued?.error).toMatch(/TaskCancelledError/);
    expect(out.failedNames).toEqual(['queued-victim', 'running-victim']);
  });

  test('cancelling a generator ends its stream with TaskCancelledError; cancelling a finished task changes nothing', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const ticks = ray.remote(async function* ticks() {
        const signal = ray.getRuntimeContext().signal;
        for (let i = 0; ; i++) {
          yield i;
          // Item 2 is the one the driver cancels at: wait for the cancel, then carry on yielding
          // as if nothing happened. Nothing yielded after the cancel reaches the driver.
          if (i === 2 && !signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          else await new Promise((r) => setTimeout(r, 50));
        }
      });
      const gen = ticks.remote();
      const seen: string[] = [];
      for await (const ref of gen) {
        try {
          const v = await ray.get(ref);
          seen.push(String(v));
          if (v === 2) ray.cancel(gen);
        } catch (e) {
          seen.push((e as Error).name);
        }
        if (seen.length > 10) break;
      }
      const done = ray.remote(() => 'kept').remote();
      await ray.get(done);
      ray.cancel(done);
      return { seen, kept: await ray.get(done) };
    });
    expect(out.seen).toEqual(['0', '1', '2', 'TaskCancelledError']);
    expect(out.kept).toBe('kept');
  });
});

test.describe('cancellation with two CPUs', () => {
  test.use({ initOptions: { numCpus: 2 } });

  test('recursive cancel (the default) cancels the tasks the task submitted; recursive: false leaves them running', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const Tracker = ray.remote(
        class Tracker {
          marks: Record<string, number> = {};
          mark(k: string) {
            this.marks[k] = (this.marks[k] ?? 0) + 1;
          }
          read() {
            return this.marks;
          }
        },
      );
      type TrackerHandle = ReturnType<typeof Tracker.remote>;
      // A child runs until the test opens its gate, or until it is cancelled, whichever comes first.
      const child = ray.remote({ scope: { gate } }, async function child(t: TrackerHandle, prefix: string) {
        const signal = ray.getRuntimeContext().signal;
        await ray.get(t.mark.remote(`${prefix}:child-started`));
        const aborted = signal.aborted ? Promise.resolve() : new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        await Promise.race([gate(prefix), aborted]);
        await ray.get(t.mark.remote(signal.aborted ? `${prefix}:child-aborted` : `${prefix}:child-finished`));
      });
      const parent = ray.remote({ scope: { child } }, async function parent(t: TrackerHandle, prefix: string) {
        const refs = [0, 1, 2].map(() => child.options({ name: `${prefix}:child` }).remote(t, prefix));
        t.mark.remote(`${prefix}:parent-started`);
        await ray.get(refs);
        return 'parent done';
      });
      const run = async (prefix: string, recursive: boolean) => {
        const tracker = Tracker.remote();
        await ray.get(tracker.read.remote());
        const ref = parent.remote(tracker, prefix);
        await globalThis.waitUntil(`a ${prefix} child to start`, async () => (await ray.get(tracker.read.remote()))[`${prefix}:child-started`]);
        ray.cancel(ref, { recursive });
        const err = await ray.get(ref).then(
          () => 'resolved',
          (e: Error) => e.name,
        );
        // Children that were not cancelled may finish now; then every child is done one way or the other.
        marks.open(prefix);
        const children = await globalThis.waitUntil(`every ${prefix} child to end`, async () => {
          const rows = (await ray.tasks()).filter((t) => t.name === `${prefix}:child`);
          return rows.length === 3 && rows.every((t) => t.state === 'FINISHED' || t.state === 'FAILED') && rows.map((t) => t.state).sort();
        });
        // A cancelled task is FAILED at once (its get rejects), while its code goes on to its
        // last line: wait until every child that started has recorded how it ended.
        const recorded = await globalThis.waitUntil(`every started ${prefix} child to record how it ended`, async () => {
          const m = await ray.get(tracker.read.remote());
          const ended = (m[`${prefix}:child-aborted`] ?? 0) + (m[`${prefix}:child-finished`] ?? 0);
          return ended === m[`${prefix}:child-started`] && m;
        });
        return { err, children, marks: recorded };
      };
      return { recursive: await run('r', true), flat: await run('f', false) };
    });
    expect(out.recursive.err).toBe('TaskCancelledError');
    expect(out.recursive.children).toEqual(['FAILED', 'FAILED', 'FAILED']);
    expect(out.recursive.marks['r:child-finished']).toBeUndefined();
    expect(out.recursive.marks['r:child-aborted']).toBeGreaterThanOrEqual(1);
    // Started children were aborted, the rest never ran.
    expect(out.recursive.marks['r:child-aborted']).toBe(out.recursive.marks['r:child-started']);
    expect(out.flat.err).toBe('TaskCancelledError');
    expect(out.flat.children).toEqual(['FINISHED', 'FINISHED', 'FINISHED']);
    expect(out.flat.marks['f:child-finished']).toBe(3);
    expect(out.flat.marks['f:child-aborted']).toBeUndefined();
  });

  test('a task waiting for its arguments and a queued actor call, once cancelled, never run', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const Log = ray.remote(
        { scope: { gate } },
        class Log {
          items: string[] = [];
          async add(x: string, gated: boolean) {
            this.items.push(x);
            if (gated) await gate(x);
            return x;
          }
          read() {
            return this.items;
          }
        },
      );
      type LogHandle = ReturnType<typeof Log.remote>;
      const log = Log.options({ maxConcurrency: 1 }).remote();
      await ray.get(log.read.remote());
      const slow = ray.remote({ scope: { gate } }, async function slow() {
        await gate('dep');
        return 'dep';
      });
      const record = ray.remote((l: LogHandle, dep: string, who: string) => ray.get(l.add.remote(`${who} got ${dep}`, false)));
      const dep = slow.remote(); // held until the test opens gate 'dep'
      const waiting = record.options({ name: 'waiting' }).remote(log, dep, 'task');
      // Not cancelled, with the same dependency: once it has run, the cancelled one would have run too.
      const witness = record.options({ name: 'witness' }).remote(log, dep, 'witness');
      const first = log.add.remote('call 1', true); // held until the test opens gate 'call 1'
      const second = log.add.remote('call 2', false);
      const third = log.add.remote('call 3', false);
      await marks.wait('waiting:dep');
      await marks.wait('waiting:call 1');
      const waitingState = (await ray.tasks()).find((t) => t.name === 'waiting')?.state;
      ray.cancel(waiting);
      ray.cancel(second);
      const name = (p: Promise<unknown>) =>
        p.then(
          (v) => `value ${String(v)}`,
          (e: Error) => e.name,
        );
      // Both gets settle while the dependency and call 1 are still held.
      const cancelled = [await name(ray.get(waiting)), await name(ray.get(second))];
      marks.open('dep');
      marks.open('call 1');
      // 'call 3' comes after 'call 2' from the same caller, so 'call 2' would have run before it.
      const results = [await name(ray.get(first)), await name(ray.get(third)), await name(ray.get(witness))];
      return { waitingState, cancelled, results, items: await ray.get(log.read.remote()) };
    });
    expect(out.waitingState).toBe('PENDING_ARGS_AVAIL');
    expect(out.cancelled).toEqual(['TaskCancelledError', 'TaskCancelledError']);
    expect(out.results).toEqual(['value call 1', 'value call 3', 'value witness got dep']);
    expect(out.items.filter((x) => x.startsWith('call '))).toEqual(['call 1', 'call 3']);
    expect([...out.items].sort()).toEqual(['call 1', 'call 3', 'witness got dep']); // no 'task got dep'
  });

  test('cancelling a running async actor method aborts its signal and rejects its get; the actor keeps serving', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Worker = ray.remote(
        class Worker {
          log: string[] = [];
          async wait(ms: number) {
            const signal = ray.getRuntimeContext().signal;
            this.log.push('wait started');
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, ms);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                this.log.push('wait aborted');
                resolve();
              });
            });
            return 'waited';
          }
          async read() {
            return this.log;
          }
        },
      );
      const w = Worker.remote();
      await ray.get(w.read.remote());
      const ref = w.wait.remote(30_000);
      // Async methods run side by side (maxConcurrency 1000), so read() answers while wait() runs.
      await globalThis.waitUntil('wait() to start', async () => (await ray.get(w.read.remote())).includes('wait started'));
      const t0 = performance.now();
      ray.cancel(ref);
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => e.name,
      );
      const ms = performance.now() - t0;
      await globalThis.waitUntil('wait() to see its abort', async () => (await ray.get(w.read.remote())).includes('wait aborted'));
      return { result, ms, log: await ray.get(w.read.remote()), again: await ray.get(w.wait.remote(1)) };
    });
    expect(out.result).toBe('TaskCancelledError');
    expect(out.ms).toBeLessThan(5_000); // typically ~2–10 ms; the method's own timer is 30 s
    expect(out.log).toEqual(['wait started', 'wait aborted']);
    expect(out.again).toBe('waited');
  });
  test('ray.cancel(actorCallRef, { force: true }) is refused at once, as in Ray (test_cancel: force is not supported for actor tasks); the call and the actor go on', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Counter = ray.remote(
        class Counter {
          n = 0;
          async inc() {
            await new Promise((r) => setTimeout(r, 50));
            return ++this.n;
          }
        },
      );
      const c = Counter.remote();
      const ref = c.inc.remote();
      let refused = '';
      try {
        ray.cancel(ref, { force: true });
      } catch (e) {
        refused = `${(e as Error).name}: ${(e as Error).message}`;
      }
      // A task's ref with force: true is still accepted (nothing thrown).
      const task = ray.remote(async () => 'done').remote();
      ray.cancel(task, { force: true });
      return { refused, first: await ray.get(ref), second: await ray.get(c.inc.remote()) };
    });
    expect(out.refused).toMatch(/^TypeError: ray\.cancel: force: true is not supported for actor calls/);
    expect(out.first).toBe(1);
    expect(out.second).toBe(2);
  });
});
