// Actors in local mode (docs/api.md "Actors"): constructor arguments, state, per-caller ordering,
// maxConcurrency, named actors, kill, handles as values, constructor failure, restarts and task
// retries after a crashed actor worker, and the runtime context inside a method.
import { test, expect } from './fixtures.ts';
import { installStateWaits } from './state-waits.ts';

// Calls that must be running at the same time wait at a gate the test opens once it has seen them
// all there (state-waits.ts), instead of sleeping and hoping they overlap.
test.beforeEach(({ rayPage }) => installStateWaits(rayPage));

test.describe('actors', () => {
  test.use({ initOptions: { numCpus: 2 } });

  test('the constructor receives its arguments (values and resolved refs) and state persists across calls', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Counter = ray.remote(
        class Counter {
          n: number;
          step: number;
          label: string;
          constructor(start: number, step: number, label: string) {
            this.n = start;
            this.step = step;
            this.label = label;
          }
          incr() {
            this.n += this.step;
            return this.n;
          }
          describe() {
            return `${this.label}=${this.n}`;
          }
        },
      );
      const c = Counter.remote(10, 5, ray.put('hits'));
      const first = await ray.get(c.incr.remote());
      const rest = await ray.get([c.incr.remote(), c.incr.remote(), c.describe.remote()]);
      const other = Counter.remote(0, 1, 'other');
      const otherVal = await ray.get(other.incr.remote());
      return { first, rest, otherVal, again: await ray.get(c.describe.remote()) };
    });
    expect(out.first).toBe(15);
    expect(out.rest).toEqual([20, 25, 'hits=25']);
    expect(out.otherVal).toBe(1); // a second actor of the class has its own state
    expect(out.again).toBe('hits=25');
  });

  test('calls from one caller run in submission order even when an earlier call waits for a slow argument', async ({ rayPage }) => {
    const order = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const slow = ray.remote(async (v: string) => {
        await new Promise((r) => setTimeout(r, 300));
        return v;
      });
      const Log = ray.remote(
        class Log {
          items: string[] = [];
          add(x: string) {
            this.items.push(x);
            return this.items.length;
          }
          all() {
            return this.items;
          }
        },
      );
      const log = Log.remote();
      await ray.get(log.all.remote()); // the actor is up
      const refs = [
        log.add.remote(slow.remote('first (slow ref)')),
        log.add.remote('second (plain value)'),
        log.add.remote(ray.put('third (ready ref)')),
        log.add.remote('fourth'),
      ];
      const positions = await ray.get(refs);
      return { positions, items: await ray.get(log.all.remote()) };
    });
    expect(order.items).toEqual(['first (slow ref)', 'second (plain value)', 'third (ready ref)', 'fourth']);
    expect(order.positions).toEqual([1, 2, 3, 4]);
  });

  test('maxConcurrency 3 runs three async calls at once; maxConcurrency 1 runs them one by one', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      class Sleeper {
        active = 0;
        peak = 0;
        /** Waits at gate `wait` when given one, else sleeps `ms`. */
        async sleep(ms: number, wait?: string) {
          this.active++;
          this.peak = Math.max(this.peak, this.active);
          if (wait) await gate(wait);
          else await new Promise((r) => setTimeout(r, ms));
          this.active--;
          return ms;
        }
        getPeak() {
          return this.peak;
        }
      }
      const Remote = ray.remote({ scope: { gate } }, Sleeper);
      // maxConcurrency 3: all three calls are inside the method at once, waiting at the gate.
      const s3 = Remote.options({ maxConcurrency: 3 }).remote();
      await ray.get(s3.getPeak.remote());
      const threeRefs = [1, 2, 3].map(() => s3.sleep.remote(0, 'three'));
      await marks.wait('waiting:three', 3);
      marks.open('three');
      await ray.get(threeRefs);
      const three = { peak: await ray.get(s3.getPeak.remote()) };
      // maxConcurrency 1: three 300 ms calls, which would overlap if they were allowed to.
      const s1 = Remote.options({ maxConcurrency: 1 }).remote();
      await ray.get(s1.getPeak.remote());
      const t0 = performance.now();
      await ray.get([s1.sleep.remote(300), s1.sleep.remote(300), s1.sleep.remote(300)]);
      const ms = performance.now() - t0;
      return { three, one: { ms, peak: await ray.get(s1.getPeak.remote()) } };
    });
    expect(out.three.peak).toBe(3);
    expect(out.one.peak).toBe(1);
    expect(out.one.ms).toBeGreaterThanOrEqual(880); // one after the other
  });

  test('an async actor runs calls concurrently by default; a class without async methods runs one call at a time', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const AsyncActor = ray.remote(
        { scope: { gate } },
        class AsyncActor {
          active = 0;
          peak = 0;
          async hold() {
            this.active++;
            this.peak = Math.max(this.peak, this.active);
            await gate('async');
            this.active--;
            return this.peak;
          }
        },
      );
      // No async methods: a sync actor, maxConcurrency 1, even for a method that returns a Promise.
      const SyncActor = ray.remote(
        class SyncActor {
          active = 0;
          peak = 0;
          sleep(ms: number) {
            this.active++;
            this.peak = Math.max(this.peak, this.active);
            return new Promise((r) => setTimeout(r, ms)).then(() => {
              this.active--;
              return this.peak;
            });
          }
        },
      );
      const a = AsyncActor.remote();
      const s = SyncActor.remote();
      // All four calls are inside the method at once, waiting at the gate.
      const asyncRefs = [1, 2, 3, 4].map(() => a.hold.remote());
      await marks.wait('waiting:async', 4);
      marks.open('async');
      const asyncPeaks = await ray.get(asyncRefs);
      const syncPeaks = await ray.get([1, 2, 3].map(() => s.sleep.remote(100)));
      return { asyncPeak: Math.max(...asyncPeaks), syncPeak: Math.max(...syncPeaks) };
    });
    expect(out.asyncPeak).toBe(4);
    expect(out.syncPeak).toBe(1);
  });

  test('a named actor is found by ray.getActor, from the driver and from a task; a missing name rejects', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Counter = ray.remote(
        class Counter {
          n = 0;
          incr(by: number) {
            return (this.n += by);
          }
        },
      );
      const named = Counter.options({ name: 'hits' }).remote();
      await ray.get(named.incr.remote(1));
      const same = await ray.getActor<{ incr(by: number): number }>('hits');
      const viaLookup = await ray.get(same.incr.remote(10));
      const fromTask = ray.remote(async (name: string) => {
        const h = await ray.getActor<{ incr(by: number): number }>(name);
        return ray.get(h.incr.remote(100));
      });
      const viaTask = await ray.get(fromTask.remote('hits'));
      const missing = await ray.getActor('no-such-actor').then(
        () => 'resolved',
        (e: Error) => e.message,
      );
      const missingInTask = await ray
        .get(
          ray
            .remote(async () =>
              ray.getActor('no-such-actor').then(
                () => 'resolved',
                (e: Error) => `rejected: ${e.message}`,
              ),
            )
            .remote(),
        );
      return { viaLookup, viaTask, missing, missingInTask, sameId: same.actorId === named.actorId };
    });
    expect(out.sameId).toBe(true);
    expect(out.viaLookup).toBe(11);
    expect(out.viaTask).toBe(111);
    expect(out.missing).toContain('no-such-actor');
    expect(out.missingInTask).toMatch(/^rejected: .*no-such-actor/);
  });

  test('creating a second actor with a taken name is refused at .remote(); after kill the name is free again', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const A = ray.remote(
        class A {
          id: string;
          constructor(id: string) {
            this.id = id;
          }
          who() {
            return this.id;
          }
        },
      );
      const first = A.options({ name: 'solo' }).remote('first');
      let dupError = 'no error';
      try {
        A.options({ name: 'solo' }).remote('second');
      } catch (e) {
        dupError = (e as Error).message;
      }
      const stillFirst = await ray.get((await ray.getActor<{ who(): string }>('solo')).who.remote());
      ray.kill(first);
      const afterKill = await ray.getActor('solo').then(
        () => 'found',
        () => 'missing',
      );
      const reborn = A.options({ name: 'solo' }).remote('third');
      const third = await ray.get(reborn.who.remote());
      return { dupError, stillFirst, afterKill, third };
    });
    expect(out.dupError).toMatch(/already exists/);
    expect(out.stillFirst).toBe('first');
    expect(out.afterKill).toBe('missing');
    expect(out.third).toBe('third');
  });

  test('ray.kill fails the running call and every later call with ActorDiedError', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const mark = globalThis.taskMark;
      const Slow = ray.remote(
        { scope: { mark } },
        class Slow {
          n = 0;
          incr() {
            return ++this.n;
          }
          async nap(ms: number) {
            mark('nap started');
            await new Promise((r) => setTimeout(r, ms));
            return 'woke';
          }
        },
      );
      const s = Slow.remote();
      const before = await ray.get(s.incr.remote());
      const running = s.nap.remote(30_000);
      await marks.wait('nap started');
      const t0 = performance.now();
      ray.kill(s);
      const settle = (p: Promise<unknown>) =>
        p.then(
          (v) => ({ ok: true, v, died: false, message: '' }),
          (e: Error) => ({ ok: false, v: null, died: e instanceof ray.ActorDiedError, message: e.message }),
        );
      const runningResult = await settle(ray.get(running));
      const runningMs = performance.now() - t0;
      const later = await settle(ray.get(s.incr.remote()));
      return { before, runningResult, runningMs, later };
    });
    expect(out.before).toBe(1);
    expect(out.runningResult.ok).toBe(false);
    expect(out.runningResult.died).toBe(true);
    expect(out.runningMs).toBeLessThan(5_000); // typically ~10 ms; the call itself would take 30 s
    expect(out.later.ok).toBe(false);
    expect(out.later.died).toBe(true);
  });

  test('ray.kill with noRestart: false restarts an actor that has restarts left', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Counter = ray.remote(
        class Counter {
          n = 0;
          incr() {
            return ++this.n;
          }
        },
      );
      const name = (p: Promise<unknown>) =>
        p.then(
          (v) => v,
          (e: Error) => e.name,
        );
      const c = Counter.options({ maxRestarts: 1 }).remote();
      const before = await ray.get([c.incr.remote(), c.incr.remote()]);
      ray.kill(c, { noRestart: false });
      const afterRestart = await name(ray.get(c.incr.remote()));
      ray.kill(c); // noRestart defaults to true, as in Ray
      const afterKill = await name(ray.get(c.incr.remote()));
      return { before, afterRestart, afterKill };
    });
    expect(out).toEqual({ before: [1, 2], afterRestart: 1, afterKill: 'ActorDiedError' });
  });

  test('actor handles passed to tasks, to other actors and through ray.put are called there', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Counter = ray.remote(
        class Counter {
          n = 0;
          incr(by: number) {
            return (this.n += by);
          }
        },
      );
      type CounterHandle = ReturnType<typeof Counter.remote>;
      const c = Counter.remote();
      const direct = ray.remote(async (h: CounterHandle) => ray.get(h.incr.remote(1)));
      const nested = ray.remote(async (box: { handle: CounterHandle }) => ray.get(box.handle.incr.remote(10)));
      const Caller = ray.remote(
        class Caller {
          target: CounterHandle;
          constructor(target: CounterHandle) {
            this.target = target;
          }
          async poke(by: number) {
            return ray.get(this.target.incr.remote(by));
          }
        },
      );
      const a = await ray.get(direct.remote(c)); // 1
      const b = await ray.get(direct.remote(ray.put(c))); // top-level ref resolved to the handle: 2
      const d = await ray.get(nested.remote(ray.put({ handle: c }))); // 12
      const e = await ray.get(nested.remote({ handle: c })); // 22
      const caller = Caller.remote(c);
      const f = await ray.get(caller.poke.remote(100)); // 122
      const got = await ray.get(ray.put(c));
      const g = await ray.get(got.incr.remote(1000)); // 1122
      return [a, b, d, e, f, g];
    });
    expect(out).toEqual([1, 2, 12, 22, 122, 1122]);
  });

  test("a failing constructor makes every method call reject ActorDiedError carrying the constructor's message", async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Broken = ray.remote(
        class Broken {
          constructor(path: string) {
            throw new RangeError(`no config at ${path}`);
          }
          ping() {
            return 'pong';
          }
        },
      );
      const b = Broken.remote('/etc/webray.json');
      const settle = (p: Promise<unknown>) =>
        p.then(
          () => ({ ok: true, died: false, message: '' }),
          (e: Error) => ({ ok: false, died: e instanceof ray.ActorDiedError, message: e.message }),
        );
      const first = await settle(ray.get(b.ping.remote()));
      const second = await settle(ray.get(b.ping.remote()));
      return { first, second };
    });
    for (const r of [out.first, out.second]) {
      expect(r.ok).toBe(false);
      expect(r.died).toBe(true);
      expect(r.message).toContain('no config at /etc/webray.json');
    }
  });

  test('with maxRestarts a crashed actor worker re-runs the constructor (state reset) and later calls work', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Fragile = ray.remote(
        class Fragile {
          n = 0;
          incr() {
            return ++this.n;
          }
          worker() {
            return ray.getRuntimeContext().workerId;
          }
          crash() {
            close();
          }
        },
      );
      const f = Fragile.options({ maxRestarts: 1 }).remote();
      const before = await ray.get([f.incr.remote(), f.incr.remote()]);
      const w1 = await ray.get(f.worker.remote());
      const crashed = await ray.get(f.crash.remote()).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.ActorDiedError ? 'ActorDiedError' : e.name),
      );
      const after = await ray.get([f.incr.remote(), f.incr.remote()]);
      const w2 = await ray.get(f.worker.remote());
      // The one restart is used up: the next crash is final.
      await ray.get(f.crash.remote()).catch(() => undefined);
      const final = await ray.get(f.incr.remote()).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.ActorDiedError ? 'ActorDiedError' : e.name),
      );
      return { before, crashed, after, newWorker: w1 !== w2 && w2 !== null, final };
    });
    expect(out.before).toEqual([1, 2]);
    expect(out.crashed).toBe('ActorDiedError');
    expect(out.after).toEqual([1, 2]);
    expect(out.newWorker).toBe(true);
    expect(out.final).toBe('ActorDiedError');
  });

  test('with maxRestarts 0 a crashed actor stays dead: later calls reject ActorDiedError', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Fragile = ray.remote(
        class Fragile {
          n = 0;
          incr() {
            return ++this.n;
          }
          crash() {
            close();
          }
        },
      );
      const f = Fragile.remote();
      const before = await ray.get(f.incr.remote());
      const settle = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: Error) => (e instanceof ray.ActorDiedError ? 'ActorDiedError' : `${e.name}: ${e.message}`),
        );
      const crashed = await settle(ray.get(f.crash.remote()));
      const later = await settle(ray.get(f.incr.remote()));
      return { before, crashed, later };
    });
    expect(out).toEqual({ before: 1, crashed: 'ActorDiedError', later: 'ActorDiedError' });
  });

  test('maxTaskRetries re-runs the call that was running when the actor worker crashed', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Tally = ray.remote(
        class Tally {
          n = 0;
          next() {
            return ++this.n;
          }
        },
      );
      type TallyHandle = ReturnType<typeof Tally.remote>;
      const Flaky = ray.remote(
        class Flaky {
          tally: TallyHandle;
          constructor(tally: TallyHandle) {
            this.tally = tally;
          }
          async crashOnFirstAttempt() {
            const attempt = await ray.get(this.tally.next.remote());
            if (attempt === 1) close();
            return `succeeded on attempt ${attempt}`;
          }
        },
      );
      const settle = (p: Promise<unknown>) =>
        p.then(
          (v) => v,
          (e: Error) => (e instanceof ray.ActorDiedError ? 'ActorDiedError' : `${e.name}: ${e.message}`),
        );
      const retried = Flaky.options({ maxRestarts: 1, maxTaskRetries: 1 }).remote(Tally.remote());
      const withRetry = await settle(ray.get(retried.crashOnFirstAttempt.remote()));
      const noRetry = Flaky.options({ maxRestarts: 1 }).remote(Tally.remote());
      const withoutRetry = await settle(ray.get(noRetry.crashOnFirstAttempt.remote()));
      // The actor itself restarted, so the next call runs (attempt counter is in the other actor).
      const nextCall = await settle(ray.get(noRetry.crashOnFirstAttempt.remote()));
      return { withRetry, withoutRetry, nextCall };
    });
    expect(out.withRetry).toBe('succeeded on attempt 2');
    expect(out.withoutRetry).toBe('ActorDiedError');
    expect(out.nextCall).toBe('succeeded on attempt 2');
  });

  test('retryExceptions on a method call retries its exceptions within maxTaskRetries (Ray test_actor_retry: retry_exceptions for actor tasks)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      class Flaky {
        calls = 0;
        /** Throws `failures` times (a RangeError, or a TypeError when asked), then answers. */
        flaky(failures: number, kind: string) {
          this.calls++;
          if (this.calls <= failures) throw kind === 'type' ? new TypeError(`call ${this.calls}`) : new RangeError(`call ${this.calls}`);
          return `ok after ${this.calls} calls`;
        }
      }
      const A = ray.remote({ maxTaskRetries: 2 }, Flaky);
      const settle = (p: Promise<unknown>) => p.then((v) => v, (e: Error) => `${e.name}: ${e.message.slice(0, 60)}`);
      const all = await settle(ray.get(A.remote().flaky.options({ retryExceptions: true }).remote(2, 'range')));
      const none = await settle(ray.get(A.remote().flaky.remote(2, 'range')));
      const listed = await settle(ray.get(A.remote().flaky.options({ retryExceptions: [RangeError] }).remote(1, 'range')));
      const unlisted = await settle(ray.get(A.remote().flaky.options({ retryExceptions: ['RangeError'] }).remote(1, 'type')));
      const tooMany = await settle(ray.get(A.remote().flaky.options({ retryExceptions: true }).remote(3, 'range')));
      const noRetries = await settle(ray.get(ray.remote(Flaky).remote().flaky.options({ retryExceptions: true }).remote(1, 'range')));
      return { all, none, listed, unlisted, tooMany, noRetries };
    });
    expect(out.all).toBe('ok after 3 calls');
    expect(out.none).toMatch(/^RayTaskError: .*RangeError: call 1/);
    expect(out.listed).toBe('ok after 2 calls');
    expect(out.unlisted).toMatch(/TypeError: call 1/);
    expect(out.tooMany).toMatch(/RangeError: call 3/);
    expect(out.noRetries).toMatch(/RangeError: call 1/); // maxTaskRetries defaults to 0
  });

  test('ray.util.ActorPool: map, mapUnordered, submit/getNext, getNextUnordered, timeouts, push and popIdle (Ray test_actor_pool)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Worker = ray.remote(
        { numCpus: 0 },
        class Worker {
          async double(v: number) {
            // Later values finish first, so completion order differs from submission order.
            await new Promise((r) => setTimeout(r, (5 - (v % 5)) * 15));
            return 2 * v;
          }
          async hang() {
            await new Promise(() => {});
          }
        },
      );
      type W = ReturnType<typeof Worker.remote>;
      const actors = [Worker.remote(), Worker.remote()];
      const pool = new ray.util.ActorPool<W>(actors);
      const double = (a: W, v: number) => a.double.remote(v);

      const mapped: number[] = [];
      for await (const r of pool.map(double, [1, 2, 3, 4])) mapped.push(r);
      const unordered: number[] = [];
      for await (const r of pool.mapUnordered(double, [1, 2, 3, 4])) unordered.push(r);
      // map again on the same pool (Ray gh-23107): a fresh run.
      const again: number[] = [];
      for await (const r of pool.map(double, [5, 6])) again.push(r);

      for (const v of [10, 11, 12]) pool.submit(double, v);
      const hasFreeWhileBusy = pool.hasFree();
      const next = [await pool.getNext(), await pool.getNext(), await pool.getNext()];
      const hasNextAfter = pool.hasNext();
      const noMore = await pool.getNext().then(() => 'resolved', (e: Error) => e.message);

      pool.submit((a: W) => a.hang.remote(), 0);
      const timedOut = await pool.getNext({ timeoutMs: 50 }).then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`);
      const ignored = await pool.getNext({ timeoutMs: 50, ignoreIfTimedOut: true }).then(() => 'resolved', (e: Error) => e.name);
      const afterIgnore = pool.hasNext();

      const idle = pool.popIdle();
      let pushTwice = '';
      try {
        pool.push(actors[0]!.actorId === idle?.actorId ? actors[1]! : actors[0]!);
      } catch (e) {
        pushTwice = (e as Error).message;
      }
      pool.push(idle!);
      return { mapped, unordered, again, hasFreeWhileBusy, next, hasNextAfter, noMore, timedOut, ignored, afterIgnore, poppedSomething: idle !== undefined, pushTwice };
    });
    expect(out.mapped).toEqual([2, 4, 6, 8]);
    expect([...out.unordered].sort((a, b) => a - b)).toEqual([2, 4, 6, 8]);
    expect(out.unordered).not.toEqual([2, 4, 6, 8]); // 4 and 3 finish before 1 and 2
    expect(out.again).toEqual([10, 12]);
    expect(out.hasFreeWhileBusy).toBe(false);
    expect(out.next).toEqual([20, 22, 24]);
    expect(out.hasNextAfter).toBe(false);
    expect(out.noMore).toMatch(/no more results to get/);
    expect(out.timedOut).toMatch(/^GetTimeoutError: .*timed out after 50 ms/);
    expect(out.ignored).toBe('GetTimeoutError');
    expect(out.afterIgnore).toBe(false);
    expect(out.poppedSomething).toBe(true);
    expect(out.pushTwice).toMatch(/already belongs to this pool/);
  });

  test('ray.util.Queue: put/get in order, maxsize with Full and Empty (at once and after timeoutMs), shared with a producer task (Ray test_queue)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const q = new ray.util.Queue<number>({ maxsize: 2 });
      const name = (e: unknown) => (e instanceof ray.util.Full ? 'Full' : e instanceof ray.util.Empty ? 'Empty' : `${(e as Error).name}: ${(e as Error).message}`);
      const emptyAtStart = await q.empty();
      await q.put(1);
      await q.put(2);
      const full = await q.full();
      const putNowait = await q.putNowait(3).then(() => 'put', name);
      const t0 = performance.now();
      const timedPut = await q.put(3, { timeoutMs: 100 }).then(() => 'put', name);
      const waitedMs = performance.now() - t0;
      const first = await q.get();
      // A producer task gets the queue as an argument and fills it; a blocked put waits for room.
      const producer = ray.remote(async (queue: typeof q, n: number) => {
        for (let i = 10; i < 10 + n; i++) await queue.put(i);
        return 'produced';
      });
      const done = producer.remote(q, 5);
      const got: number[] = [];
      for (let i = 0; i < 6; i++) got.push(await q.get({ timeoutMs: 20_000 }));
      const produced = await ray.get(done);
      const getNowait = await q.getNowait().then(String, name);
      const timedGet = await q.get({ timeoutMs: 50 }).then(String, name);
      let badTimeout = '';
      try {
        await q.get({ timeoutMs: -1 });
      } catch (e) {
        badTimeout = (e as Error).message;
      }
      const size = await q.size();
      q.shutdown();
      return { emptyAtStart, full, putNowait, timedPut, waitedMs, first, got, produced, getNowait, timedGet, badTimeout, size };
    });
    expect(out.emptyAtStart).toBe(true);
    expect(out.full).toBe(true);
    expect(out.putNowait).toBe('Full');
    expect(out.timedPut).toBe('Full');
    expect(out.waitedMs).toBeGreaterThanOrEqual(90);
    expect(out.first).toBe(1);
    expect(out.got).toEqual([2, 10, 11, 12, 13, 14]);
    expect(out.produced).toBe('produced');
    expect(out.getNowait).toBe('Empty');
    expect(out.timedGet).toBe('Empty');
    expect(out.badTimeout).toMatch(/timeoutMs must be a number ≥ 0/);
    expect(out.size).toBe(0);
  });

  test('getIfExists: a second creation under a live name gives a handle to the same actor, in the driver and when two tasks race; listNamedActors lists the names (Ray test_get_or_create_actor)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Counter = ray.remote(
        class Counter {
          n = 0;
          incr() {
            return ++this.n;
          }
        },
      );
      const a = Counter.options({ name: 'shared', getIfExists: true }).remote();
      const b = Counter.options({ name: 'shared', getIfExists: true }).remote();
      const inDriver = [await ray.get(a.incr.remote()), await ray.get(b.incr.remote())];
      let noFlag = '';
      try {
        Counter.options({ name: 'shared' }).remote();
      } catch (e) {
        noFlag = (e as Error).message;
      }
      let noName = '';
      try {
        Counter.options({ getIfExists: true }).remote();
      } catch (e) {
        noName = (e as Error).message;
      }
      // Two tasks race to create one actor under a new name: both reach the same one. It is
      // detached: the tasks' handles go with them, and the driver looks it up by name afterwards.
      const racer = ray.remote({ scope: { Counter } }, async () => {
        const c = Counter.options({ name: 'raced', getIfExists: true, lifetime: 'detached' }).remote();
        return ray.get(c.incr.remote());
      });
      const raced = (await ray.get([racer.remote(), racer.remote()])).sort();
      const viaGetActor = await ray.get((await ray.getActor<{ incr(): number }>('raced')).incr.remote());
      const names = ray.listNamedActors().sort();
      return { inDriver, noFlag, noName, raced, viaGetActor, names };
    });
    expect(out.inDriver).toEqual([1, 2]);
    expect(out.noFlag).toMatch(/an actor named "shared" already exists; .*getIfExists: true/);
    expect(out.noName).toMatch(/getIfExists needs a name/);
    expect(out.raced).toEqual([1, 2]);
    expect(out.viaGetActor).toBe(3);
    expect(out.names).toEqual(['raced', 'shared']);
  });

  test('a concurrent actor runs a call whose arguments are ready before an earlier one of the same caller still waiting for its argument; a sequential actor keeps the order (Ray test_async_actor ordering)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const slowArg = ray.remote({ numCpus: 0, scope: { gate } }, async (name: string) => {
        await gate(name);
        return name;
      });
      const Log = ray.remote(
        { numCpus: 0 },
        class Log {
          order: string[] = [];
          async add(x: string) {
            this.order.push(x);
            return [...this.order];
          }
        },
      );
      const concurrent = Log.remote();
      const first = concurrent.add.remote(slowArg.remote('concurrent'));
      // The second call does not wait for the first one's argument.
      const second = await ray.get(concurrent.add.remote('second'), { timeoutMs: 20_000 });
      await marks.wait('waiting:concurrent');
      marks.open('concurrent');
      const afterFirst = await ray.get(first);

      const Seq = ray.remote(
        { numCpus: 0, maxConcurrency: 1 },
        class Seq {
          order: string[] = [];
          add(x: string) {
            this.order.push(x);
            return [...this.order];
          }
        },
      );
      const sequential = Seq.remote();
      const a = sequential.add.remote(slowArg.remote('sequential'));
      const b = sequential.add.remote('b');
      await marks.wait('waiting:sequential');
      const bEarly = await ray.get(b, { timeoutMs: 300 }).then(() => 'ran early', (e: Error) => e.name);
      marks.open('sequential');
      return { second, afterFirst, bEarly, a: await ray.get(a), b: await ray.get(b) };
    });
    expect(out.second).toEqual(['second']);
    expect(out.afterFirst).toEqual(['second', 'concurrent']);
    expect(out.bEarly).toBe('GetTimeoutError'); // in order behind the call still waiting for its argument
    expect(out.a).toEqual(['sequential']);
    expect(out.b).toEqual(['sequential', 'b']);
  });

  test("ray.getRuntimeContext() inside a method names the actor, also after an await in concurrent calls", async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const Who = ray.remote(
        { scope: { gate } },
        class Who {
          sync() {
            const ctx = ray.getRuntimeContext();
            return { actorId: ctx.actorId, taskId: ctx.taskId, nodeId: ctx.nodeId, workerId: ctx.workerId };
          }
          async later(wait: string | null) {
            if (wait) await gate(wait);
            else await new Promise((r) => setTimeout(r, 20));
            return ray.getRuntimeContext().actorId;
          }
        },
      );
      const w = Who.remote();
      const ctx = await ray.get(w.sync.remote());
      // The short call ends while the long one is still waiting at its gate.
      const longRef = w.later.remote('long');
      await marks.wait('waiting:long');
      const short = await ray.get(w.later.remote(null));
      marks.open('long');
      const long = await ray.get(longRef);
      const plainTask = await ray.get(ray.remote(() => ray.getRuntimeContext().actorId).remote());
      return { handleId: w.actorId, ctx, long, short, plainTask, driver: ray.getRuntimeContext().actorId };
    });
    expect(out.ctx.actorId).toBe(out.handleId);
    expect(out.ctx.taskId).toBeTruthy();
    expect(out.ctx.nodeId).toBeTruthy();
    expect(out.ctx.workerId).toBeTruthy();
    expect(out.long).toBe(out.handleId);
    expect(out.short).toBe(out.handleId);
    expect(out.plainTask).toBeNull();
    expect(out.driver).toBeNull();
  });

  test('actor classes ship like remote functions: in scope, as an argument and through put; an actor makes actors and returns their handles (Ray test_return_actor_handle_from_actor, supervisors)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Worker = ray.remote(
        { numCpus: 0 },
        class Worker {
          constructor(private readonly k: number) {}
          times(x: number) {
            return this.k * x;
          }
        },
      );
      // A supervisor creates its workers from the class in its scope and hands out their handles.
      const Supervisor = ray.remote(
        { numCpus: 0, scope: { Worker } },
        class Supervisor {
          workers: { times: { remote(x: number): unknown } }[] = [];
          spawn(n: number) {
            for (let i = 1; i <= n; i++) this.workers.push(Worker.remote(i));
            return this.workers;
          }
          async total(x: number) {
            const parts = (await ray.get(this.workers.map((w) => w.times.remote(x)) as never[])) as number[];
            return parts.reduce((a, b) => a + b, 0);
          }
        },
      );
      const sup = Supervisor.remote();
      const handles = await ray.get(sup.spawn.remote(3));
      const fromHandles = await ray.get(handles.map((h) => h.times.remote(10)) as never[]);
      const total = await ray.get(sup.total.remote(2));
      // The class as an argument, and through put: a task creates the actor and returns its handle.
      const make = ray.remote(async function make(cls: typeof Worker, k: number) {
        const w = cls.remote(k);
        return { handle: w, first: await ray.get(w.times.remote(5)) };
      });
      const viaArg = await ray.get(make.remote(Worker, 7));
      const classRef = ray.put(Worker);
      const viaPut = await ray.get(make.remote(classRef as never, 9));
      return {
        fromHandles,
        total,
        viaArg: { first: viaArg.first, again: await ray.get(viaArg.handle.times.remote(2)) },
        viaPut: viaPut.first,
        gotBack: String(await ray.get(classRef)),
      };
    });
    expect(out.fromHandles).toEqual([10, 20, 30]);
    expect(out.total).toBe(12);
    expect(out.viaArg).toEqual({ first: 35, again: 14 });
    expect(out.viaPut).toBe(45);
    expect(out.gotBack).toBe('ActorClass(Worker)');
  });

  test('an actor whose handles are all gone is terminated and its CPU comes back; a detached one and one still held live on (Ray test_actor_gc / actor lifetimes, real gc())', async ({ rayPage }) => {
    const ids = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Box = ray.remote({ numCpus: 1 }, class Box { v() { return 1; } });
      const dropped = Box.remote();
      const detached = Box.options({ lifetime: 'detached', numCpus: 0 }).remote();
      const kept = Box.options({ numCpus: 0 }).remote();
      (globalThis as { keptBox?: unknown }).keptBox = kept;
      await ray.get([dropped.v.remote(), detached.v.remote(), kept.v.remote()]);
      return { dropped: dropped.actorId, detached: detached.actorId, kept: kept.actorId, freeCpu: ray.availableResources().CPU ?? 0 };
    });
    expect(ids.freeCpu).toBe(1);
    // The handles of `dropped` and `detached` went out of scope with the evaluate call.
    const states = await rayPage.evaluate(async (ids) => {
      const ray = globalThis.ray;
      const t0 = performance.now();
      for (;;) {
        globalThis.gc!(); // Chromium runs with --js-flags=--expose-gc (playwright.config.ts)
        await new Promise((r) => setTimeout(r, 100));
        const list = await ray.actors();
        const stateOf = (id: string) => list.find((a) => a.actorId === id)?.state;
        if (stateOf(ids.dropped) === 'DEAD' || performance.now() - t0 > 20_000) {
          return { dropped: stateOf(ids.dropped), detached: stateOf(ids.detached), kept: stateOf(ids.kept), freeCpu: ray.availableResources().CPU ?? 0 };
        }
      }
    }, ids);
    expect(states).toEqual({ dropped: 'DEAD', detached: 'ALIVE', kept: 'ALIVE', freeCpu: 2 });
  });

  test('namespaces keep one actor name apart: getActor(name, { namespace }), listNamedActors(true), and the same name taken twice in one namespace is refused (Ray test_namespace)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Tag = ray.remote({ numCpus: 0 }, class Tag {
        constructor(private readonly t: string) {}
        tag() { return this.t; }
      });
      const a = Tag.options({ name: 'shared' }).remote('default');
      const b = Tag.options({ name: 'shared', namespace: 'other' }).remote('other');
      await ray.get([a.tag.remote(), b.tag.remote()]);
      let taken = '';
      try {
        Tag.options({ name: 'shared', namespace: 'other' }).remote('again');
      } catch (e) {
        taken = (e as Error).message;
      }
      return {
        plain: await ray.get((await ray.getActor<{ tag(): string }>('shared')).tag.remote()),
        other: await ray.get((await ray.getActor<{ tag(): string }>('shared', { namespace: 'other' })).tag.remote()),
        names: ray.listNamedActors(),
        all: ray.listNamedActors(true).map((n) => `${n.namespace}/${n.name}`).sort(),
        listed: (await ray.actors()).map((x) => x.namespace).sort(),
        taken,
      };
    });
    expect(out).toEqual({
      plain: 'default',
      other: 'other',
      names: ['shared'],
      all: ['default/shared', 'other/shared'],
      listed: ['default', 'other'],
      taken: expect.stringContaining('an actor named "shared" in namespace "other" already exists') as unknown,
    });
  });
});
