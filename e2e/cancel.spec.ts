// Cancellation in local mode (API.md "Cancellation"): a queued task never runs; a running task's
// signal is aborted and its get rejects TaskCancelledError at once; a sync body that ignores the
// signal loses its Web Worker after the grace period (or at once with force) and the pool
// replaces it; recursive cancel reaches the tasks it submitted; cancelled tasks are not retried.
// Side effects are recorded in a Tracker actor, which is placed before the CPU gets busy.
import { test, expect } from './fixtures.ts';

test.describe('cancellation', () => {
  test.use({ initOptions: { numCpus: 1 } });

  test('a queued task never runs and its get rejects TaskCancelledError', async ({ rayPage }) => {
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
      const work = ray.remote(async (t: TrackerHandle, key: string, ms: number) => {
        t.mark.remote(key);
        await new Promise((r) => setTimeout(r, ms));
        return key;
      });
      const busy = work.remote(tracker, 'busy', 400); // holds the only CPU
      const queued = work.remote(tracker, 'queued', 0);
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      ray.cancel(queued);
      const result = await ray.get(queued).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      const rejectMs = performance.now() - t0;
      const busyValue = await ray.get(busy);
      const after = await ray.get(work.remote(tracker, 'after', 0)); // the CPU is free again
      await new Promise((r) => setTimeout(r, 100));
      return { result, rejectMs, busyValue, after, marks: await ray.get(tracker.read.remote()) };
    });
    expect(out.result).toBe('TaskCancelledError');
    expect(out.rejectMs).toBeLessThan(200);
    expect(out.busyValue).toBe('busy');
    expect(out.after).toBe('after');
    expect(out.marks).toEqual({ busy: 1, after: 1 }); // 'queued' never ran
  });

  test('a running async task sees its signal aborted and the get rejects at once', async ({ rayPage }) => {
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
      const nap = ray.remote(async (t: TrackerHandle, ms: number) => {
        const signal = ray.getRuntimeContext().signal;
        t.mark.remote('started');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            t.mark.remote(`aborted:${signal.reason instanceof DOMException ? signal.reason.name : typeof signal.reason}`);
            resolve();
          });
        });
        t.mark.remote('finished');
        return 'slept';
      });
      const ref = nap.remote(tracker, 5000);
      const waitFor = async (key: string) => {
        for (let i = 0; i < 100; i++) {
          if ((await ray.get(tracker.read.remote()))[key]) return true;
          await new Promise((r) => setTimeout(r, 20));
        }
        return false;
      };
      const started = await waitFor('started');
      const t0 = performance.now();
      ray.cancel(ref);
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      const rejectMs = performance.now() - t0;
      await waitFor('finished');
      const marks = await ray.get(tracker.read.remote());
      // The worker was not terminated: the next task runs right away.
      const t1 = performance.now();
      await ray.get(ray.remote(() => 1).remote());
      return { started, result, rejectMs, marks, nextMs: performance.now() - t1 };
    });
    expect(out.started).toBe(true);
    expect(out.result).toBe('TaskCancelledError');
    expect(out.rejectMs).toBeLessThan(300);
    expect(out.marks['aborted:AbortError']).toBe(1);
    expect(out.nextMs).toBeLessThan(700);
  });

  test('a running sync busy loop: get rejects at once, the worker is terminated after the grace period and replaced', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Tracker = ray.remote(
        class Tracker {
          marks: Record<string, string> = {};
          mark(k: string, v: string) {
            this.marks[k] = v;
          }
          read() {
            return this.marks;
          }
        },
      );
      type TrackerHandle = ReturnType<typeof Tracker.remote>;
      const tracker = Tracker.remote();
      await ray.get(tracker.read.remote());
      const spin = ray.remote(async (t: TrackerHandle, ms: number) => {
        await ray.get(t.mark.remote('started', String(ray.getRuntimeContext().workerId)));
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // ignores its signal
        }
        t.mark.remote('finished', 'yes');
        return 'spun';
      });
      const ref = spin.remote(tracker, 8000);
      let marks: Record<string, string> = {};
      for (let i = 0; i < 100 && !marks.started; i++) {
        await new Promise((r) => setTimeout(r, 20));
        marks = await ray.get(tracker.read.remote());
      }
      const t0 = performance.now();
      ray.cancel(ref);
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      const rejectMs = performance.now() - t0;
      const next = await ray.get(ray.remote(() => ray.getRuntimeContext().workerId).remote());
      const nextMs = performance.now() - t0;
      return { result, rejectMs, nextMs, spinWorker: marks.started, nextWorker: next, marks: await ray.get(tracker.read.remote()) };
    });
    expect(out.spinWorker).toBeTruthy();
    expect(out.result).toBe('TaskCancelledError');
    expect(out.rejectMs).toBeLessThan(300);
    // The only CPU stayed busy until the grace period (1 s) ended, then a fresh worker ran the next task.
    expect(out.nextMs).toBeGreaterThan(800);
    expect(out.nextMs).toBeLessThan(4000);
    expect(out.nextWorker).not.toBe(out.spinWorker);
    expect(out.marks.finished).toBeUndefined();
  });

  test('force: true terminates a running sync task at once and the pool replaces its worker', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const spin = ray.remote({ name: 'spin' }, async (ms: number) => {
        await new Promise((r) => setTimeout(r, 0));
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // busy
        }
        return 'spun';
      });
      const ref = spin.remote(8000);
      // Wait until it is running.
      let seenRunning = false;
      for (let i = 0; i < 100 && !seenRunning; i++) {
        seenRunning = (await ray.tasks({ state: 'RUNNING' })).some((t) => t.name === 'spin');
        if (!seenRunning) await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      ray.cancel(ref, { force: true });
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.TaskCancelledError ? 'TaskCancelledError' : `${e.name}: ${e.message}`),
      );
      const rejectMs = performance.now() - t0;
      const next = await ray.get(ray.remote(() => 'next ran').remote());
      return { seenRunning, result, rejectMs, next, nextMs: performance.now() - t0 };
    });
    expect(out.seenRunning).toBe(true);
    expect(out.result).toBe('TaskCancelledError');
    expect(out.rejectMs).toBeLessThan(300);
    expect(out.next).toBe('next ran');
    expect(out.nextMs).toBeLessThan(700); // no grace period with force
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
          const end = Date.now() + 8000;
          while (Date.now() < end) {
            // busy
          }
        } else {
          await new Promise((r) => setTimeout(r, 8000));
        }
        return key;
      });
      const runs = async (key: string) => (await ray.get(tracker.read.remote()))[key] ?? 0;
      const cancelWhenRunning = async (key: string, spin: boolean, force: boolean) => {
        const ref = job.remote(tracker, key, spin);
        for (let i = 0; i < 100 && (await runs(key)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
        ray.cancel(ref, { force });
        const err = await ray.get(ref).then(
          () => 'resolved',
          (e: Error) => e.name,
        );
        return err;
      };
      const errs = [
        await cancelWhenRunning('async', false, false),
        await cancelWhenRunning('forced', true, true),
        await cancelWhenRunning('grace', true, false),
      ];
      // Long enough for the grace period to end and for any retry to have started.
      await new Promise((r) => setTimeout(r, 1600));
      return { errs, marks: await ray.get(tracker.read.remote()) };
    });
    expect(out.errs).toEqual(['TaskCancelledError', 'TaskCancelledError', 'TaskCancelledError']);
    expect(out.marks).toEqual({ async: 1, forced: 1, grace: 1 });
  });

  test('a cancelled task is FAILED in ray.tasks() with a TaskCancelledError, queued or running', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const nap = ray.remote(async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        return ms;
      });
      const running = nap.options({ name: 'running-victim' }).remote(3000);
      const queued = nap.options({ name: 'queued-victim' }).remote(3000);
      await new Promise((r) => setTimeout(r, 100));
      ray.cancel(queued);
      ray.cancel(running);
      await Promise.allSettled([ray.get(running), ray.get(queued)]);
      const find = async (name: string) => (await ray.tasks()).find((t) => t.name === name);
      let r = await find('running-victim');
      for (let i = 0; i < 50 && r?.state !== 'FAILED'; i++) {
        await new Promise((res) => setTimeout(res, 20));
        r = await find('running-victim');
      }
      const failed = await ray.tasks({ state: 'FAILED' });
      return {
        running: r && { state: r.state, error: r.error },
        queued: await find('queued-victim').then((q) => q && { state: q.state, error: q.error }),
        failedNames: failed.map((t) => t.name).sort(),
      };
    });
    expect(out.running?.state).toBe('FAILED');
    expect(out.running?.error).toMatch(/TaskCancelledError/);
    expect(out.queued?.state).toBe('FAILED');
    expect(out.queued?.error).toMatch(/TaskCancelledError/);
    expect(out.failedNames).toEqual(['queued-victim', 'running-victim']);
  });

  test('cancelling a generator ends its stream with TaskCancelledError; cancelling a finished task changes nothing', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const ticks = ray.remote(async function* ticks() {
        for (let i = 0; ; i++) {
          yield i;
          await new Promise((r) => setTimeout(r, 50));
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
    expect(out.seen.slice(0, 3)).toEqual(['0', '1', '2']);
    expect(out.seen.at(-1)).toBe('TaskCancelledError');
    expect(out.seen.length).toBeLessThanOrEqual(5);
    expect(out.kept).toBe('kept');
  });
});

test.describe('cancellation with two CPUs', () => {
  test.use({ initOptions: { numCpus: 2 } });

    test('recursive cancel (the default) cancels the tasks the task submitted; recursive: false leaves them running', async ({ rayPage }) => {
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
        const child = ray.remote(async (t: TrackerHandle, prefix: string) => {
          const signal = ray.getRuntimeContext().signal;
          t.mark.remote(`${prefix}:child-started`);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 400);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              t.mark.remote(`${prefix}:child-aborted`);
              resolve();
            });
          });
          if (!signal.aborted) t.mark.remote(`${prefix}:child-finished`);
        });
        const parent = ray.remote({ scope: { child } }, async function parent(t: TrackerHandle, prefix: string) {
          const refs = [0, 1, 2].map(() => child.remote(t, prefix));
          t.mark.remote(`${prefix}:parent-started`);
          await ray.get(refs);
          return 'parent done';
        });
        const run = async (prefix: string, recursive: boolean) => {
          const tracker = Tracker.remote();
          await ray.get(tracker.read.remote());
          const ref = parent.remote(tracker, prefix);
          for (let i = 0; i < 100; i++) {
            const m = await ray.get(tracker.read.remote());
            if (m[`${prefix}:child-started`]) break;
            await new Promise((r) => setTimeout(r, 20));
          }
          ray.cancel(ref, { recursive });
          const err = await ray.get(ref).then(
            () => 'resolved',
            (e: Error) => e.name,
          );
          await new Promise((r) => setTimeout(r, 1500)); // every child would have finished by now
          return { err, marks: await ray.get(tracker.read.remote()) };
        };
        return { recursive: await run('r', true), flat: await run('f', false) };
      });
      expect(out.recursive.err).toBe('TaskCancelledError');
      expect(out.recursive.marks['r:child-finished']).toBeUndefined();
      expect(out.recursive.marks['r:child-aborted']).toBeGreaterThanOrEqual(1);
      // Started children were aborted, the rest never ran.
      expect(out.recursive.marks['r:child-aborted']).toBe(out.recursive.marks['r:child-started']);
      expect(out.flat.err).toBe('TaskCancelledError');
      expect(out.flat.marks['f:child-finished']).toBe(3);
      expect(out.flat.marks['f:child-aborted']).toBeUndefined();
    });

  test('a task waiting for its arguments and a queued actor call, once cancelled, never run', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Log = ray.remote(
        class Log {
          items: string[] = [];
          async add(x: string, ms: number) {
            this.items.push(x);
            await new Promise((r) => setTimeout(r, ms));
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
      const slow = ray.remote(async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        return 'dep';
      });
      const record = ray.remote((l: LogHandle, dep: string) => ray.get(l.add.remote(`task got ${dep}`, 0)));
      const waiting = record.remote(log, slow.remote(300));
      const first = log.add.remote('call 1', 300);
      const second = log.add.remote('call 2', 0);
      const third = log.add.remote('call 3', 0);
      await new Promise((r) => setTimeout(r, 50));
      ray.cancel(waiting);
      ray.cancel(second);
      const name = (p: Promise<unknown>) =>
        p.then(
          (v) => `value ${String(v)}`,
          (e: Error) => e.name,
        );
      const results = [await name(ray.get(waiting)), await name(ray.get(first)), await name(ray.get(second)), await name(ray.get(third))];
      await new Promise((r) => setTimeout(r, 500)); // the dependency is ready by now
      return { results, items: await ray.get(log.read.remote()) };
    });
    expect(out.results).toEqual(['TaskCancelledError', 'value call 1', 'TaskCancelledError', 'value call 3']);
    expect(out.items).toEqual(['call 1', 'call 3']);
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
      const ref = w.wait.remote(5000);
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      ray.cancel(ref);
      const result = await ray.get(ref).then(
        () => 'resolved',
        (e: Error) => e.name,
      );
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
      return { result, ms, log: await ray.get(w.read.remote()), again: await ray.get(w.wait.remote(1)) };
    });
    expect(out.result).toBe('TaskCancelledError');
    expect(out.ms).toBeLessThan(300);
    expect(out.log).toEqual(['wait started', 'wait aborted']);
    expect(out.again).toBe('waited');
  });
});
