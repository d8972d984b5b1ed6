// Failures in local mode (docs/api.md "Errors", task options): remote errors rebuilt as RayTaskError,
// the error classes, retries of system failures (a worker that dies) and of application errors,
// and options refused before anything runs.
import type { Page } from '@playwright/test';
import type { ActorHandle } from '../runtime/index.ts';
import { expect, test } from './fixtures.ts';
import { installStateWaits } from './state-waits.ts';

/** Counts a task's attempts from inside them: an actor outlives the workers the attempts run on. */
interface Attempts {
  record(workerId: string): number;
  seen(): string[];
}

declare global {
  // Installed in the page by installAttempts(): creates a fresh attempts counter.
  var newAttempts: () => ActorHandle<Attempts>;
}

function installAttempts(page: Page): Promise<void> {
  return page.evaluate(() => {
    const Counter = globalThis.ray.remote(
      class Counter {
        workers: string[] = [];
        record(workerId: string) {
          this.workers.push(workerId);
          return this.workers.length;
        }
        seen() {
          return this.workers;
        }
      },
    );
    globalThis.newAttempts = () => Counter.remote();
  });
}

test.use({ initOptions: { numCpus: 2 } });

test.describe('task errors', () => {
  test('a task that throws a TypeError rejects get with a RayTaskError that is also a TypeError, with the remote message and stack', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const throwsTypeError = ray.remote(function throwsTypeError(x: number): number {
        throw new TypeError(`bad input: ${x}`);
      });
      try {
        await ray.get(throwsTypeError.remote(42));
        return null;
      } catch (e) {
        const err = e as InstanceType<typeof ray.RayTaskError>;
        const info = (await ray.tasks()).find((t) => t.name === 'throwsTypeError');
        return {
          isRayTaskError: err instanceof ray.RayTaskError,
          isExceptionsRayTaskError: err instanceof ray.exceptions.RayTaskError,
          isRayError: err instanceof ray.RayError,
          isTypeError: err instanceof TypeError,
          isRangeError: err instanceof RangeError,
          isError: err instanceof Error,
          message: err.message,
          taskName: err.taskName,
          causeIsTypeError: err.cause instanceof TypeError,
          causeName: err.cause?.name,
          causeMessage: err.cause?.message,
          causeStack: err.cause?.stack ?? '',
          stack: err.stack ?? '',
          state: info?.state,
          tableError: info?.error,
        };
      }
    });
    expect(out).not.toBeNull();
    expect(out).toMatchObject({
      isRayTaskError: true,
      isExceptionsRayTaskError: true,
      isRayError: true,
      isTypeError: true,
      isRangeError: false,
      isError: true,
      taskName: 'throwsTypeError',
      causeIsTypeError: true,
      causeName: 'TypeError',
      causeMessage: 'bad input: 42',
      state: 'FAILED',
    });
    expect(out!.message).toContain('throwsTypeError');
    expect(out!.message).toContain('bad input: 42');
    // The stack is the remote one: it runs through the task's function inside the worker.
    expect(out!.causeStack).toContain('bad input: 42');
    expect(out!.causeStack).toContain('throwsTypeError');
    expect(out!.stack).toContain('throwsTypeError');
    expect(out!.tableError).toContain('bad input: 42');
  });

  test('a custom error class comes back as a RayTaskError whose cause keeps the class name and message', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const quota = ray.remote(async function quota(): Promise<number> {
        class QuotaExceededError extends Error {
          constructor(message: string) {
            super(message);
            this.name = 'QuotaExceededError';
          }
        }
        await Promise.resolve();
        throw new QuotaExceededError('over quota by 3');
      });
      return ray.get(quota.remote()).then(
        () => null,
        (e: Error & { cause?: Error }) => ({
          isRayTaskError: e instanceof ray.RayTaskError,
          isTypeError: e instanceof TypeError,
          causeName: e.cause?.name,
          causeMessage: e.cause?.message,
          message: e.message,
        }),
      );
    });
    expect(out).toEqual({
      isRayTaskError: true,
      isTypeError: false,
      causeName: 'QuotaExceededError',
      causeMessage: 'over quota by 3',
      message: expect.stringContaining('QuotaExceededError: over quota by 3'),
    });
  });

  test('a custom subclass of a built-in error keeps instanceof the built-in, as RayTaskError(cls) does in Ray', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const badArg = ray.remote(function badArg(): number {
        class BadArgumentError extends RangeError {
          constructor(message: string) {
            super(message);
            this.name = 'BadArgumentError';
          }
        }
        throw new BadArgumentError('n must be positive');
      });
      return ray.get(badArg.remote()).then(
        () => null,
        (e: Error & { cause?: Error }) => ({
          isRayTaskError: e instanceof ray.RayTaskError,
          isRangeError: e instanceof RangeError,
          isTypeError: e instanceof TypeError,
          causeName: e.cause?.name,
          causeIsRangeError: e.cause instanceof RangeError,
        }),
      );
    });
    expect(out).toEqual({ isRayTaskError: true, isRangeError: true, isTypeError: false, causeName: 'BadArgumentError', causeIsRangeError: true });
  });

  test('a task that re-throws the error of a task it waited on fails with the original error, not a nested one', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const child = ray.remote(function child(): number {
        throw new TypeError('child broke');
      });
      const parent = ray.remote({ scope: { child } }, async function parent() {
        return ray.get(child.remote());
      });
      return ray.get(parent.remote()).then(
        () => null,
        (e: Error & { cause?: Error; taskName?: string }) => ({
          isRayTaskError: e instanceof ray.RayTaskError,
          isTypeError: e instanceof TypeError,
          taskName: e.taskName,
          causeName: e.cause?.name,
          causeMessage: e.cause?.message,
          message: e.message,
        }),
      );
    });
    expect(out).toEqual({
      isRayTaskError: true,
      isTypeError: true,
      taskName: 'parent',
      causeName: 'TypeError',
      causeMessage: 'child broke',
      message: 'task parent failed: TypeError: child broke',
    });
  });

  test('a cancelled child\'s TaskCancelledError and a killed actor\'s ActorDiedError, re-raised by a parent task, keep their class (test_cancel / as_instanceof_cause); a custom error keeps its class name and fields', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const sleepy = ray.remote(async function sleepy() {
        await new Promise((r) => setTimeout(r, 60_000));
        return 1;
      });
      const viaCancelled = ray.remote({ scope: { sleepy } }, async function viaCancelled() {
        const ref = sleepy.remote();
        ray.cancel(ref);
        return ray.get(ref);
      });
      const Box = ray.remote({ numCpus: 0 }, class Box { v() { return 1; } });
      const viaDeadActor = ray.remote(async function viaDeadActor(box: { v: { remote(): unknown } }) {
        return ray.get(box.v.remote() as never);
      });
      const box = Box.remote();
      await ray.get(box.v.remote());
      ray.kill(box);
      const custom = ray.remote(function custom() {
        class LimitError extends Error {
          code = 'E_LIMIT';
          limit = 3;
        }
        throw new LimitError('over the limit');
      });
      const describe = (e: Error & { cause?: Error & Record<string, unknown> }) => ({
        rayTask: e instanceof ray.RayTaskError,
        cancelled: e instanceof ray.TaskCancelledError,
        actorDied: e instanceof ray.ActorDiedError,
        cause: e.cause?.name,
        code: e.cause?.code,
        limit: e.cause?.limit,
      });
      const fail = (p: Promise<unknown>) => p.then(() => null, describe);
      return {
        cancelled: await fail(ray.get(viaCancelled.remote())),
        actorDied: await fail(ray.get(viaDeadActor.remote(box))),
        custom: await fail(ray.get(custom.remote())),
      };
    });
    expect(out.cancelled).toMatchObject({ rayTask: true, cancelled: true, actorDied: false, cause: 'TaskCancelledError' });
    expect(out.actorDied).toMatchObject({ rayTask: true, cancelled: false, actorDied: true, cause: 'ActorDiedError' });
    expect(out.custom).toEqual({ rayTask: true, cancelled: false, actorDied: false, cause: 'LimitError', code: 'E_LIMIT', limit: 3 });
  });

  test('a thrown non-Error value becomes a RayTaskError that shows the value', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const throwsString = ray.remote(function throwsString(): number {
        throw 'plain string failure';
      });
      const throwsObject = ray.remote(function throwsObject(): number {
        throw { code: 7 };
      });
      const describe = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: Error) => `${e instanceof ray.RayTaskError}|${e.message}`,
        );
      return { s: await describe(ray.get(throwsString.remote())), o: await describe(ray.get(throwsObject.remote())) };
    });
    expect(out.s).toMatch(/^true\|.*plain string failure/);
    expect(out.o).toMatch(/^true\|.*"code":7/);
  });

  test('get of a list rejects with the error of the element that failed', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const ok = ray.remote((x: number) => x);
      const bad = ray.remote(function bad(): number {
        throw new SyntaxError('unexpected token');
      });
      return ray.get([ok.remote(1), bad.remote(), ok.remote(3)]).then(
        () => 'resolved',
        (e: Error) => `${e instanceof ray.RayTaskError}|${e instanceof SyntaxError}|${e.message}`,
      );
    });
    expect(out).toMatch(/^true\|true\|.*unexpected token/);
  });

  test('get of a list rejects as soon as one element fails, without waiting for the rest, in the driver and in a task', async ({ rayPage }) => {
    await installStateWaits(rayPage);
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      // `slow` runs until the test opens its gate, which it does only after the get has rejected:
      // a get that waited for it would end in GetTimeoutError instead.
      const slow = ray.remote({ scope: { gate } }, async function slow(name: string) {
        await gate(name);
        return 'slow';
      });
      const fails = ray.remote(async function fails(): Promise<string> {
        throw new RangeError('early failure');
      });
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: Error) => `${e instanceof ray.GetTimeoutError ? 'GetTimeoutError' : e instanceof ray.RayTaskError}|${e.message}`,
        );
      const DEADLINE_MS = 30_000; // turns a get that waits for slow into a failure, not a hang
      const inDriver = await outcome(ray.get([slow.remote('driver'), fails.remote()], { timeoutMs: DEADLINE_MS }));
      marks.open('driver'); // frees its CPU for the task case (2 CPUs: inTask's child slow and fails)
      const inTask = ray.remote({ scope: { slow, fails, DEADLINE_MS } }, async function inTask() {
        try {
          await ray.get([slow.remote('task'), fails.remote()], { timeoutMs: DEADLINE_MS });
          return 'resolved';
        } catch (e) {
          return `${e instanceof ray.GetTimeoutError ? 'GetTimeoutError' : e instanceof ray.RayTaskError}|${(e as Error).message}`;
        }
      });
      const inTaskOutcome = await ray.get(inTask.remote());
      marks.open('task');
      marks.close();
      return { inDriver, inTask: inTaskOutcome };
    });
    expect(out.inDriver).toMatch(/^true\|.*early failure/);
    expect(out.inTask).toMatch(/^true\|.*early failure/);
  });

  test('every error class of docs/api.md is exported at top level and under ray.exceptions, and is a RayError', async ({ rayPage }) => {
    const out = await rayPage.evaluate(() => {
      const ray = globalThis.ray as unknown as Record<string, unknown> & { exceptions: Record<string, unknown>; RayError: ErrorConstructor };
      const names = [
        'RayError',
        'RayTaskError',
        'TaskCancelledError',
        'GetTimeoutError',
        'WorkerCrashedError',
        'TaskTimeoutError',
        'NodeDiedError',
        'ObjectLostError',
        'ObjectFreedError',
        'ObjectStoreFullError',
        'ActorDiedError',
        'TaskUnschedulableError',
      ];
      return names.map((name) => {
        const Top = ray[name] as (new (...a: unknown[]) => Error) | undefined;
        const Ex = ray.exceptions[name];
        if (typeof Top !== 'function') return { name, exported: false };
        const instance = name === 'RayTaskError' ? new Top('someTask', new Error('inner')) : new Top('message');
        return {
          name,
          exported: true,
          same: Top === Ex,
          isRayError: instance instanceof ray.RayError,
          isError: instance instanceof Error,
          isOwnClass: instance instanceof Top,
          instanceName: instance.name,
          hasMessage: instance.message.length > 0,
        };
      });
    });
    for (const row of out) {
      expect(row, row.name).toEqual({
        name: row.name,
        exported: true,
        same: true,
        isRayError: true,
        isError: true,
        isOwnClass: true,
        instanceName: row.name,
        hasMessage: true,
      });
    }
  });

  test('webray errors do not pass instanceof checks for each other', async ({ rayPage }) => {
    const out = await rayPage.evaluate(() => {
      const ray = globalThis.ray;
      const t = new ray.GetTimeoutError('x');
      return {
        timeoutIsCrash: t instanceof ray.WorkerCrashedError,
        timeoutIsTask: t instanceof ray.RayTaskError,
        plainIsRay: new Error('x') instanceof ray.RayError,
        typeErrorIsTask: new TypeError('x') instanceof ray.RayTaskError,
      };
    });
    expect(out).toEqual({ timeoutIsCrash: false, timeoutIsTask: false, plainIsRay: false, typeErrorIsTask: false });
  });
});

test.describe('retries', () => {
  test.beforeEach(async ({ rayPage }) => {
    await installAttempts(rayPage);
    await installStateWaits(rayPage);
  });

  test('a task whose worker dies is retried on a new worker and succeeds within maxRetries', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const attempts = globalThis.newAttempts();
      const diesTwice = ray.remote({ maxRetries: 2 }, async function diesTwice(counter: ActorHandle<Attempts>) {
        const n = await ray.get(counter.record.remote(String(ray.getRuntimeContext().workerId)));
        if (n < 3) close();
        return n;
      });
      const value = await ray.get(diesTwice.remote(attempts), { timeoutMs: 10_000 });
      const workers = await ray.get(attempts.seen.remote());
      const info = (await ray.tasks()).find((t) => t.name === 'diesTwice');
      return { value, distinctWorkers: new Set(workers).size, attempts: info?.attempts, state: info?.state };
    });
    expect(out).toEqual({ value: 3, distinctWorkers: 3, attempts: 3, state: 'FINISHED' });
  });

  test('when retries run out the task fails with WorkerCrashedError, and the pool replaces the dead workers', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const attempts = globalThis.newAttempts();
      const alwaysDies = ray.remote({ maxRetries: 1 }, async function alwaysDies(counter: ActorHandle<Attempts>) {
        await ray.get(counter.record.remote(String(ray.getRuntimeContext().workerId)));
        close();
        return 'unreachable';
      });
      const err = await ray.get(alwaysDies.remote(attempts), { timeoutMs: 10_000 }).then(
        () => null,
        (e: Error) => ({
          name: e.name,
          isCrash: e instanceof ray.WorkerCrashedError,
          isExceptionsCrash: e instanceof ray.exceptions.WorkerCrashedError,
          isRayError: e instanceof ray.RayError,
          isTaskError: e instanceof ray.RayTaskError,
          message: e.message,
        }),
      );
      const dead = await ray.get(attempts.seen.remote());
      // Both CPUs' worth of tasks still run, on workers that are not the dead ones.
      const whoAmI = ray.remote(async () => {
        await new Promise((r) => setTimeout(r, 50));
        return String(ray.getRuntimeContext().workerId);
      });
      const later = await ray.get([whoAmI.remote(), whoAmI.remote(), whoAmI.remote()], { timeoutMs: 5_000 });
      const info = (await ray.tasks()).find((t) => t.name === 'alwaysDies');
      return {
        err,
        attempts: dead.length,
        laterOnDeadWorker: later.some((w) => dead.includes(w)),
        laterWorkers: new Set(later).size,
        state: info?.state,
        tableAttempts: info?.attempts,
        available: ray.availableResources().CPU,
      };
    });
    expect(out.err).toMatchObject({ name: 'WorkerCrashedError', isCrash: true, isExceptionsCrash: true, isRayError: true, isTaskError: false });
    expect(out.err!.message).toContain('close()');
    expect(out).toMatchObject({ attempts: 2, laterOnDeadWorker: false, state: 'FAILED', tableAttempts: 2, available: 2 });
    expect(out.laterWorkers).toBeGreaterThanOrEqual(2);
  });

  test('tasks whose workers die side by side are each retried, and every CPU comes back', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Tally = ray.remote(
        class Tally {
          counts: Record<string, number> = {};
          hit(key: string) {
            return (this.counts[key] = (this.counts[key] ?? 0) + 1);
          }
        },
      );
      const tally = Tally.remote();
      // The first attempt of each task kills its worker: at once, or a little later while it awaits.
      const flaky = ray.remote({ maxRetries: 1 }, async function flaky(t: typeof tally, i: number) {
        const n = await ray.get(t.hit.remote(String(i)));
        if (n === 1) {
          if (i % 2 === 1) close();
          setTimeout(() => close(), 5);
          await new Promise((r) => setTimeout(r, 50));
        }
        return i * 10;
      });
      const values = await ray.get(
        Array.from({ length: 8 }, (_, i) => flaky.remote(tally, i)),
        { timeoutMs: 10_000 },
      );
      const attempts = (await ray.tasks()).filter((t) => t.name === 'flaky').map((t) => t.attempts);
      return { values, attempts, available: ray.availableResources().CPU };
    });
    expect(out).toMatchObject({ values: [0, 10, 20, 30, 40, 50, 60, 70], available: 2 });
    expect(out.attempts).toHaveLength(8);
    // Each first attempt dies, and its retry succeeds. A task blocked on a worker it shares with
    // another task that dies there goes back to the queue without spending an attempt (docs/api.md,
    // "One running task per Web Worker"): it finds its count past 1 and succeeds on its first attempt.
    for (const n of out.attempts) expect([1, 2]).toContain(n);
    expect(out.attempts.filter((n) => n === 2).length).toBeGreaterThanOrEqual(1);
  });

  test('a task whose worker dies while it waits on a child is retried, and the CPU it lent comes back once', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const attempts = globalThis.newAttempts();
      const child = ray.remote(async function child() {
        await new Promise((r) => setTimeout(r, 150));
        return 'child';
      });
      const parent = ray.remote({ maxRetries: 1, scope: { child } }, async function parent(counter: ActorHandle<Attempts>) {
        const n = await ray.get(counter.record.remote('w'));
        const pending = ray.get(child.remote());
        if (n === 1) setTimeout(() => close(), 20); // dies while blocked in ray.get
        return `${await pending} after ${n}`;
      });
      const value = await ray.get(parent.remote(attempts), { timeoutMs: 10_000 });
      // The first attempt's child finishes too; then every CPU is back (waitUntil fails if never).
      const available = await globalThis.waitUntil('both CPUs back', () => ray.availableResources().CPU === 2 && 2);
      // Both CPUs really are free: two 200 ms tasks run side by side.
      const nap = ray.remote(async () => {
        const start = Date.now();
        await new Promise((r) => setTimeout(r, 200));
        return [start, Date.now()];
      });
      const [a, b] = await ray.get([nap.remote(), nap.remote()] as const);
      return { value, available, overlap: a[0]! < b[1]! && b[0]! < a[1]! };
    });
    expect(out).toEqual({ value: 'child after 2', available: 2, overlap: true });
  });

  test('system failures are retried 3 times by default, and not at all with maxRetries: 0', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const dies = ray.remote(async function dies(counter: ActorHandle<Attempts>) {
        await ray.get(counter.record.remote(String(ray.getRuntimeContext().workerId)));
        close();
      });
      const byDefault = globalThis.newAttempts();
      const never = globalThis.newAttempts();
      const crashed = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: Error) => (e instanceof ray.WorkerCrashedError ? 'WorkerCrashedError' : `${e.name}: ${e.message}`),
        );
      const r1 = await crashed(ray.get(dies.remote(byDefault), { timeoutMs: 10_000 }));
      const r2 = await crashed(ray.get(dies.options({ maxRetries: 0 }).remote(never), { timeoutMs: 10_000 }));
      return {
        r1,
        r2,
        byDefault: (await ray.get(byDefault.seen.remote())).length,
        never: (await ray.get(never.seen.remote())).length,
      };
    });
    expect(out).toEqual({ r1: 'WorkerCrashedError', r2: 'WorkerCrashedError', byDefault: 4, never: 1 });
  });

  test('maxRetries: -1 retries a dying task until it succeeds', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const attempts = globalThis.newAttempts();
      const diesFiveTimes = ray.remote({ maxRetries: -1 }, async function diesFiveTimes(counter: ActorHandle<Attempts>) {
        const n = await ray.get(counter.record.remote('w'));
        if (n <= 5) close();
        return n;
      });
      return ray.get(diesFiveTimes.remote(attempts), { timeoutMs: 10_000 });
    });
    expect(out).toBe(6);
  });

  test('timeoutMs stops a task spinning forever with TaskTimeoutError and its CPU comes back; a retry within maxRetries can succeed', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      // 2 s: the bound under test, generous for a loaded machine, where a fresh worker's first
      // actor call alone can take several hundred ms (typically a few ms).
      const spinsForever = ray.remote({ timeoutMs: 2_000, maxRetries: 0 }, async function spinsForever(counter: ActorHandle<Attempts>) {
        await ray.get(counter.record.remote('w'));
        for (;;);
      });
      const forever = globalThis.newAttempts();
      const err = await ray.get(spinsForever.remote(forever), { timeoutMs: 20_000 }).then(
        () => null,
        (e: Error) => ({
          name: e.name,
          isTimeout: e instanceof ray.TaskTimeoutError,
          isExceptionsTimeout: e instanceof ray.exceptions.TaskTimeoutError,
          isRayError: e instanceof ray.RayError,
          isGetTimeout: e instanceof ray.GetTimeoutError,
          message: e.message,
        }),
      );
      const available = await globalThis.waitUntil('both CPUs back after the timeout', () => ray.availableResources().CPU === 2 && 2);
      const spinsOnce = ray.remote({ timeoutMs: 2_000, maxRetries: 1 }, async function spinsOnce(counter: ActorHandle<Attempts>) {
        const n = await ray.get(counter.record.remote('w'));
        if (n === 1) for (;;);
        return n;
      });
      const once = globalThis.newAttempts();
      const value = await ray.get(spinsOnce.remote(once), { timeoutMs: 20_000 });
      const tasks = await ray.tasks();
      return {
        err,
        available,
        value,
        foreverAttempts: (await ray.get(forever.seen.remote())).length,
        forever: tasks.find((t) => t.name === 'spinsForever')?.state,
        onceAttempts: tasks.find((t) => t.name === 'spinsOnce')?.attempts,
      };
    });
    expect(out.err).toMatchObject({ name: 'TaskTimeoutError', isTimeout: true, isExceptionsTimeout: true, isRayError: true, isGetTimeout: false });
    expect(out.err!.message).toContain('2000 ms');
    expect(out).toMatchObject({ available: 2, value: 2, foreverAttempts: 1, forever: 'FAILED', onceAttempts: 2 });
  });

  test('application errors are not retried by default, even with maxRetries', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const attempts = globalThis.newAttempts();
      const flaky = ray.remote({ maxRetries: 5 }, async function flaky(counter: ActorHandle<Attempts>): Promise<number> {
        const n = await ray.get(counter.record.remote('w'));
        throw new TypeError(`attempt ${n} failed`);
      });
      const err = await ray.get(flaky.remote(attempts)).then(
        () => 'resolved',
        (e: Error) => `${e instanceof ray.RayTaskError}|${e.message}`,
      );
      return { err, attempts: (await ray.get(attempts.seen.remote())).length };
    });
    expect(out.err).toMatch(/^true\|.*attempt 1 failed/);
    expect(out.attempts).toBe(1);
  });

  test('retryExceptions: true retries application errors within maxRetries', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const flaky = ray.remote({ retryExceptions: true }, async function flaky(counter: ActorHandle<Attempts>, failures: number) {
        const n = await ray.get(counter.record.remote('w'));
        if (n <= failures) throw new Error(`attempt ${n} failed`);
        return n;
      });
      const succeeds = globalThis.newAttempts();
      const value = await ray.get(flaky.remote(succeeds, 2));
      const exhausted = globalThis.newAttempts();
      const err = await ray.get(flaky.options({ maxRetries: 1 }).remote(exhausted, 10)).then(
        () => 'resolved',
        (e: Error) => `${e instanceof ray.RayTaskError}|${e.message}`,
      );
      return { value, err, exhaustedAttempts: (await ray.get(exhausted.seen.remote())).length };
    });
    expect(out.value).toBe(3);
    // The error is the last attempt's.
    expect(out.err).toMatch(/^true\|.*attempt 2 failed/);
    expect(out.exhaustedAttempts).toBe(2);
  });

  test('retryExceptions as a list retries only the listed error classes (given as classes or names, subclasses included)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const flaky = ray.remote(async function flaky(counter: ActorHandle<Attempts>, kind: string) {
        const n = await ray.get(counter.record.remote('w'));
        class StaleReadError extends TypeError {
          constructor(message: string) {
            super(message);
            this.name = 'StaleReadError';
          }
        }
        if (n < 3) {
          if (kind === 'type') throw new TypeError(`attempt ${n}`);
          if (kind === 'range') throw new RangeError(`attempt ${n}`);
          if (kind === 'stale') throw new StaleReadError(`attempt ${n}`);
        }
        return n;
      });
      const run = async (retryExceptions: (string | ErrorConstructor)[], kind: string) => {
        const counter = globalThis.newAttempts();
        const result = await ray.get(flaky.options({ retryExceptions }).remote(counter, kind)).then(
          (v) => `value ${v}`,
          (e: Error & { cause?: Error }) => `failed ${e.cause?.name}`,
        );
        return `${result} after ${(await ray.get(counter.seen.remote())).length}`;
      };
      return {
        typeByClass: await run([TypeError], 'type'),
        typeByName: await run(['TypeError'], 'type'),
        rangeNotListed: await run([TypeError], 'range'),
        subclass: await run([TypeError], 'stale'),
        subclassByName: await run(['StaleReadError'], 'stale'),
        several: await run(['SyntaxError', RangeError], 'range'),
      };
    });
    expect(out).toEqual({
      typeByClass: 'value 3 after 3',
      typeByName: 'value 3 after 3',
      rangeNotListed: 'failed RangeError after 1',
      subclass: 'value 3 after 3',
      subclassByName: 'value 3 after 3',
      several: 'value 3 after 3',
    });
  });
});

test.describe('options validation', () => {
  test('an unknown option is refused with a suggestion for the near miss', async ({ rayPage }) => {
    const out = await rayPage.evaluate(() => {
      const ray = globalThis.ray;
      const attempt = (f: () => unknown) => {
        try {
          f();
          return 'accepted';
        } catch (e) {
          return `${e instanceof TypeError}|${(e as Error).message}`;
        }
      };
      const f = ray.remote((x: number) => x);
      const remote = ray.remote as unknown as (o: unknown, fn: unknown) => unknown;
      const options = f.options as unknown as (o: unknown) => unknown;
      return {
        atRemote: attempt(() => remote({ numCPUs: 2 }, (x: number) => x)),
        atOptions: attempt(() => options.call(f, { numCPUs: 2 })),
        snake: attempt(() => remote({ max_retries: 2 }, (x: number) => x)),
        typo: attempt(() => remote({ numReturn: 2 }, (x: number) => x)),
        unrelated: attempt(() => remote({ colour: 'blue' }, (x: number) => x)),
      };
    });
    expect(out.atRemote).toMatch(/^true\|.*numCPUs.*did you mean numCpus/);
    expect(out.atOptions).toMatch(/^true\|.*numCPUs.*did you mean numCpus/);
    expect(out.snake).toMatch(/^true\|.*did you mean maxRetries/);
    expect(out.typo).toMatch(/^true\|.*did you mean numReturns/);
    expect(out.unrelated).toMatch(/^true\|.*colour.*numCpus/); // lists the valid options
  });

  test('invalid option values are refused naming the option, and nothing is submitted', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const attempt = (f: () => unknown) => {
        try {
          f();
          return 'accepted';
        } catch (e) {
          return `${e instanceof TypeError}|${(e as Error).message}`;
        }
      };
      const remote = ray.remote as unknown as (o: unknown, fn: unknown) => unknown;
      const fn = (x: number) => x;
      const f = ray.remote(fn);
      const options = (o: unknown) => (f.options as unknown as (o: unknown) => unknown).call(f, o);
      const result = {
        negativeCpus: attempt(() => remote({ numCpus: -1 }, fn)),
        negativeReturns: attempt(() => remote({ numReturns: -1 }, fn)),
        fractionalReturns: attempt(() => options({ numReturns: 1.5 })),
        maxRetries: attempt(() => remote({ maxRetries: -2 }, fn)),
        retryExceptions: attempt(() => remote({ retryExceptions: 'yes' }, fn)),
        strategy: attempt(() => options({ schedulingStrategy: 'FASTEST' })),
        resources: attempt(() => remote({ resources: { TPU: -1 } }, fn)),
        cpuAsResource: attempt(() => (ray.remote({ resources: { CPU: 2 } }, fn) as { remote(x: number): unknown }).remote(1)),
        streamingNotGenerator: attempt(() => remote({ numReturns: 'streaming' }, fn)),
        notAnObject: attempt(() => options(5)),
        tasks: (await ray.tasks()).length,
      };
      return result;
    });
    expect(out.negativeCpus).toMatch(/^true\|.*numCpus/);
    expect(out.negativeReturns).toMatch(/^true\|.*numReturns/);
    expect(out.fractionalReturns).toMatch(/^true\|.*numReturns/);
    expect(out.maxRetries).toMatch(/^true\|.*maxRetries/);
    expect(out.retryExceptions).toMatch(/^true\|.*retryExceptions/);
    expect(out.strategy).toMatch(/^true\|.*schedulingStrategy/);
    expect(out.resources).toMatch(/^true\|.*resources\.TPU/);
    expect(out.cpuAsResource).toMatch(/^true\|.*numCpus/);
    expect(out.streamingNotGenerator).toMatch(/^true\|.*streaming/);
    expect(out.notAnObject).toMatch(/^true\|.*options/);
    expect(out.tasks).toBe(0);
  });

  test('ray.remote refuses what is neither a function nor a class, and functions without source', async ({ rayPage }) => {
    const out = await rayPage.evaluate(() => {
      const remote = globalThis.ray.remote as unknown as (a: unknown, b?: unknown) => unknown;
      const attempt = (f: () => unknown) => {
        try {
          f();
          return 'accepted';
        } catch (e) {
          return `${e instanceof TypeError}|${(e as Error).message}`;
        }
      };
      const bound = function add(a: number, b: number) {
        return a + b;
      }.bind(null, 1);
      return {
        number: attempt(() => remote(5)),
        object: attempt(() => remote({ numCpus: 1 }, 'x')),
        native: attempt(() => remote(Math.max)),
        bound: attempt(() => remote(bound)),
      };
    });
    expect(out.number).toMatch(/^true\|.*function or a class/);
    expect(out.object).toMatch(/^true\|.*function or a class/);
    // A function with no source to ship is refused with the way out.
    expect(out.native).toMatch(/^true\|.*no source.*wrap it/);
    expect(out.bound).toMatch(/^true\|.*no source.*wrap it/);
  });
});
