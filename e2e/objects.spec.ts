// Objects in local mode (docs/api.md "Objects", "Remote functions"): `get` with timeouts, `wait`,
// `put`, what values may be sent, and how they come back.
import type { ObjectRef } from '../runtime/index.ts';
import { expect, test } from './fixtures.ts';
import { installStateWaits } from './state-waits.ts';

// Enough CPUs that a handful of waiting tasks run side by side.
test.use({ initOptions: { numCpus: 6 } });
// A task the test needs pending waits at a gate the test opens (state-waits.ts), not on a timer
// the test would race against.
test.beforeEach(({ rayPage }) => installStateWaits(rayPage));

test.describe('get', () => {
  test('get with timeoutMs rejects GetTimeoutError while the task keeps running, and a later get succeeds', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const slow = ray.remote({ scope: { gate } }, async function slow() {
        await gate('slow');
        return 'done';
      });
      const ref = slow.remote(); // runs until the test opens its gate
      const t0 = performance.now();
      let err: unknown;
      try {
        await ray.get(ref, { timeoutMs: 100 });
      } catch (e) {
        err = e;
      }
      const waitedMs = performance.now() - t0;
      const state = (await ray.tasks()).find((t) => t.name === 'slow')?.state;
      marks.open('slow');
      const later = await ray.get(ref);
      const e = err as Error;
      return {
        name: e?.name,
        isGetTimeout: e instanceof ray.GetTimeoutError,
        isExceptionsGetTimeout: e instanceof ray.exceptions.GetTimeoutError,
        isRayError: e instanceof ray.RayError,
        waitedMs,
        state,
        later,
      };
    });
    expect(out).toMatchObject({
      name: 'GetTimeoutError',
      isGetTimeout: true,
      isExceptionsGetTimeout: true,
      isRayError: true,
      later: 'done',
    });
    expect(out.waitedMs).toBeGreaterThanOrEqual(90);
    expect(out.waitedMs).toBeLessThan(3_000); // typically ~105 ms: it gives up at its timeout, while the task is held until the gate opens
    // Still pending or running, not failed: the timeout belongs to this get, not to the task.
    expect(['PENDING_NODE_ASSIGNMENT', 'SUBMITTED_TO_WORKER', 'RUNNING']).toContain(out.state);
  });

  test('get of a list with a timeout rejects GetTimeoutError when any ref is not ready', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const task = ray.remote({ scope: { gate } }, async (name: string) => {
        if (name === 'held') await gate('held');
        return name;
      });
      const refs = [task.remote('free'), task.remote('held')] as const;
      const first = await ray.get(refs, { timeoutMs: 100 }).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.GetTimeoutError ? 'GetTimeoutError' : `${e.name}: ${e.message}`),
      );
      marks.open('held');
      return { first, later: await ray.get(refs) };
    });
    expect(out).toEqual({ first: 'GetTimeoutError', later: ['free', 'held'] });
  });

  test('get with timeoutMs 0 returns a ready value and times out at once on a pending one', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const ready = ray.put('here');
      const pending = ray.remote({ scope: { gate } }, () => gate('pending')).remote();
      const value = await ray.get(ready, { timeoutMs: 0 });
      const t0 = performance.now();
      const timedOut = await ray.get(pending, { timeoutMs: 0 }).then(
        () => false,
        (e: Error) => e instanceof ray.GetTimeoutError,
      );
      const ms = performance.now() - t0;
      marks.open('pending');
      await ray.get(pending);
      return { value, timedOut, ms };
    });
    expect(out.value).toBe('here');
    expect(out.timedOut).toBe(true);
    expect(out.ms).toBeLessThan(1_000); // typically ~2 ms
  });

  test('get of a list may name the same ref twice, pending or ready', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const later = ray.remote(async (x: string) => {
        await new Promise((r) => setTimeout(r, 100));
        return x;
      });
      const ref = later.remote('v');
      // A timeout that never fires here (the task takes ~100 ms): get with a timer, duplicates and all.
      const pending = await ray.get([ref, ref, ray.put(1), ref], { timeoutMs: 30_000 });
      const ready = await ray.get([ref, ref]);
      return { pending, ready };
    });
    expect(out).toEqual({ pending: ['v', 'v', 1, 'v'], ready: ['v', 'v'] });
  });

  test('get refuses what is not an ObjectRef with a TypeError', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const describe = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: Error) => `${e instanceof TypeError}|${e.message}`,
        );
      const get = ray.get as unknown as (x: unknown, o?: unknown) => Promise<unknown>;
      return {
        number: await describe(get(3)),
        list: await describe(get([ray.put(1), 'x'])),
        badTimeout: await describe(get(ray.put(1), { timeoutMs: -5 })),
        badOption: await describe(get(ray.put(1), { timeout: 5 })),
      };
    });
    expect(out.number).toMatch(/^true\|/);
    expect(out.number).toContain('ObjectRef');
    expect(out.list).toMatch(/^true\|.*element 1/);
    expect(out.badTimeout).toMatch(/^true\|.*timeoutMs/);
    expect(out.badOption).toMatch(/^true\|.*did you mean timeoutMs/);
  });

  test('the value get returns is a copy: mutating it does not change the stored object', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const make = ray.remote(() => ({ list: [1, 2, 3] }));
      const ref = make.remote();
      const first = await ray.get(ref);
      first.list.push(4);
      const putRef = ray.put({ list: [1] });
      (await ray.get(putRef)).list.push(2);
      return { task: (await ray.get(ref)).list, put: (await ray.get(putRef)).list };
    });
    expect(out).toEqual({ task: [1, 2, 3], put: [1] });
  });
});

test.describe('wait', () => {
  test('wait returns numReturns ready refs and the rest, both in input order, as the same ObjectRef objects', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const sleep = ray.remote({ scope: { gate } }, async (ms: number | 'held') => {
        if (ms === 'held') await gate('held');
        else await new Promise((r) => setTimeout(r, ms));
        return ms;
      });
      const refs = [sleep.remote('held'), sleep.remote(20), sleep.remote('held'), sleep.remote(0)];
      const [ready, notReady] = await ray.wait(refs, { numReturns: 2 });
      const idx = (xs: ObjectRef<number | 'held'>[]) => xs.map((r) => refs.indexOf(r));
      const [one] = await ray.wait(refs, { numReturns: 1 });
      marks.open('held');
      const [all, none] = await ray.wait(refs, { numReturns: 4, timeoutMs: 30_000 });
      return { ready: idx(ready), notReady: idx(notReady), one: one.length, all: idx(all), none: none.length };
    });
    expect(out).toEqual({ ready: [1, 3], notReady: [0, 2], one: 1, all: [0, 1, 2, 3], none: 0 });
  });

  test('wait with timeoutMs returns what is ready when the time is up', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const task = ray.remote({ scope: { gate } }, async (name: string) => {
        if (name === 'held') await gate('held');
        return name;
      });
      const refs = [task.remote('held'), task.remote('free'), task.remote('held')];
      await ray.get(refs[1]!); // one is ready, two never will be while the gate is shut
      const t0 = performance.now();
      const [ready, notReady] = await ray.wait(refs, { numReturns: 3, timeoutMs: 300 });
      const ms = performance.now() - t0;
      const [readyNow] = await ray.wait(refs, { numReturns: 3, timeoutMs: 0 });
      marks.open('held');
      await ray.get(refs);
      return { ready: ready.map((r) => refs.indexOf(r)), notReady: notReady.map((r) => refs.indexOf(r)), ms, readyNow: readyNow.length };
    });
    expect(out.ready).toEqual([1]);
    expect(out.notReady).toEqual([0, 2]);
    expect(out.ms).toBeGreaterThanOrEqual(290);
    expect(out.ms).toBeLessThan(3_000); // typically ~300 ms: it returns when the time is up, not when the rest are ready
  });

  test('wait counts a failed task as ready', async ({ rayPage }) => {
    const n = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const boom = ray.remote(function boom(): number {
        throw new Error('boom');
      });
      // Generous: a failed task not counted as ready would come back empty after the timeout.
      const [ready] = await ray.wait([boom.remote()], { numReturns: 1, timeoutMs: 30_000 });
      return ready.length;
    });
    expect(n).toBe(1);
  });

  test('wait refuses duplicates, numReturns larger than the list and non-refs; wait([]) gives [[], []]', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const wait = ray.wait as unknown as (refs: unknown, o?: unknown) => Promise<unknown>;
      const describe = (f: () => Promise<unknown>) =>
        Promise.resolve()
          .then(f)
          .then(
            (v) => JSON.stringify(v),
            (e: Error) => `${e instanceof TypeError}|${e.message}`,
          );
      const a = ray.put(1);
      const b = ray.put(2);
      return {
        duplicates: await describe(() => wait([a, b, a])),
        tooMany: await describe(() => wait([a, b], { numReturns: 3 })),
        zero: await describe(() => wait([a, b], { numReturns: 0 })),
        emptyZero: await describe(() => wait([], { numReturns: 0 })),
        nonRef: await describe(() => wait([a, 42])),
        notArray: await describe(() => wait(a)),
        empty: await describe(() => wait([])),
        emptyArray: JSON.stringify(await ray.wait([])),
      };
    });
    expect(out.duplicates).toMatch(/^true\|.*more than once/);
    expect(out.tooMany).toMatch(/^true\|.*numReturns \(3\).*2/);
    expect(out.zero).toMatch(/^true\|.*numReturns must be a whole number ≥ 1/);
    expect(out.emptyZero).toBe('[[],[]]');
    expect(out.nonRef).toMatch(/^true\|.*element 1/);
    expect(out.notArray).toMatch(/^true\|/);
    expect(out.empty).toBe('[[],[]]');
    expect(out.emptyArray).toBe('[[],[]]');
  });

  test('waiting with numReturns 1 in a loop yields results in completion order', async ({ rayPage }) => {
    const order = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      // Six tasks run side by side (six CPUs), each until the test opens its gate: the test decides
      // the order they complete in, one at a time, in an order other than the submission order.
      const held = ray.remote({ scope: { gate } }, async (n: number) => {
        await gate(`n${n}`);
        return n;
      });
      const submitted = [750, 150, 600, 0, 300, 450];
      let pending = submitted.map((n) => held.remote(n));
      const seen: number[] = [];
      for (const n of [...submitted].sort((a, b) => a - b)) {
        marks.open(`n${n}`);
        const [ready, rest] = await ray.wait(pending, { numReturns: 1 });
        seen.push(await ray.get(ready[0]!));
        pending = rest;
      }
      return seen;
    });
    expect(order).toEqual([0, 150, 300, 450, 600, 750]);
  });
});

test.describe('refs across sessions', () => {
  test('a pending get rejects when ray.shutdown() is called, and a ref kept past shutdown is refused at once after init', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const sleep = ray.remote(async (ms: number) => new Promise((r) => setTimeout(r, ms)));
      const pending = sleep.remote(5_000);
      const done = ray.put('kept');
      const whenShutDown = ray.get(pending).then(
        () => 'resolved',
        (e: Error) => `${e instanceof ray.RayError}|${e.message}`,
      );
      await ray.shutdown();
      // Deadlines only turn a hang into a failure that says so: each settles within ~70 ms.
      const afterShutdown = await Promise.race([whenShutDown, new Promise((r) => setTimeout(() => r('still pending'), 5_000))]);
      await ray.init({ numCpus: 2 });
      const refused = (f: () => Promise<unknown> | unknown) =>
        Promise.race([
          Promise.resolve()
            .then(f)
            .then(
              () => 'resolved',
              (e: Error) => `${e instanceof ray.ObjectLostError}|${e.message}`,
            ),
          new Promise((r) => setTimeout(() => r('hangs'), 5_000)),
        ]);
      const echo = ray.remote((x: unknown) => x);
      return {
        afterShutdown,
        getPending: await refused(() => ray.get(pending)),
        getDone: await refused(() => ray.get(done)),
        wait: await refused(() => ray.wait([done])),
        asArgument: await refused(() => echo.remote(done)),
        stillWorks: await ray.get(echo.remote('fresh')),
      };
    });
    expect(out.afterShutdown).toMatch(/^true\|.*shutdown/);
    for (const k of ['getPending', 'getDone', 'wait', 'asArgument'] as const) {
      expect(out[k], k).toMatch(/^true\|.*does not belong to this session/);
    }
    expect(out.stillWorks).toBe('fresh');
  });
});

test.describe('put', () => {
  test('put returns an ObjectRef synchronously and get returns the value', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const ref = ray.put({ a: 1, b: ['x'] });
      const isRef = ref instanceof ray.ObjectRef;
      const thenable = typeof (ref as unknown as { then?: unknown }).then === 'function';
      const refs = [ray.put(1), ray.put('two'), ray.put(null), ray.put(undefined)];
      return { isRef, thenable, value: await ray.get(ref), list: await ray.get(refs), distinct: new Set(refs.map((r) => r.hex())).size };
    });
    expect(out).toEqual({ isRef: true, thenable: false, value: { a: 1, b: ['x'] }, list: [1, 'two', null, undefined], distinct: 4 });
  });

  test('put stores a snapshot: changing the original afterwards does not change the stored value', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const obj = { n: 1, list: [1, 2] };
      const arr = new Float64Array([1, 2, 3]);
      const big = new Uint8Array(200 * 1024).fill(7);
      const refs = [ray.put(obj), ray.put(arr), ray.put(big)] as const;
      obj.n = 99;
      obj.list.push(3);
      arr[0] = 42;
      big[0] = 0;
      const echo = ray.remote((x: unknown) => x);
      const [o, a, b] = await ray.get(refs);
      const viaTask = (await ray.get(echo.remote(refs[0]))) as typeof obj;
      return { o, a: Array.from(a), b0: b[0], bLen: b.length, viaTask };
    });
    expect(out).toEqual({ o: { n: 1, list: [1, 2] }, a: [1, 2, 3], b0: 7, bLen: 200 * 1024, viaTask: { n: 1, list: [1, 2] } });
  });

  test('put of an ObjectRef is refused with a TypeError, as is put of an ObjectRefGenerator', async ({ rayPage }) => {
    const out = await rayPage.evaluate(() => {
      const ray = globalThis.ray;
      const tryPut = (x: unknown) => {
        try {
          ray.put(x);
          return 'stored';
        } catch (e) {
          return `${e instanceof TypeError}|${(e as Error).message}`;
        }
      };
      const gen = ray.remote(function* gen() {
        yield 1;
      });
      return { ref: tryPut(ray.put(1)), generator: tryPut(gen.remote()) };
    });
    expect(out.ref).toMatch(/^true\|.*ObjectRef/);
    expect(out.generator).toMatch(/^true\|.*ObjectRefGenerator/);
  });

  test('a ref inside a put object stays a ref and keeps its value reachable', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const inner = ray.put('inner value');
      const outer = ray.put({ inner, list: [inner] });
      const got = await ray.get(outer);
      return {
        isRef: got.inner instanceof ray.ObjectRef,
        same: got.inner.hex() === inner.hex() && got.list[0]!.hex() === inner.hex(),
        value: await ray.get(got.inner),
      };
    });
    expect(out).toEqual({ isRef: true, same: true, value: 'inner value' });
  });
});

test.describe('free', () => {
  test('ray.free drops put objects and task results at once: later gets and tasks fail with ObjectFreedError; task code may not free (Ray internal_api.free)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const small = ray.put({ a: 1 });
      const big = ray.put(new Float64Array(200_000).fill(3));
      const made = ray.remote((n: number) => new Uint8Array(n).fill(7)).remote(300_000);
      const before = [await ray.get(small), (await ray.get(big)).length, (await ray.get(made)).length];
      ray.free([small, big, made]);
      const name = (e: unknown) => `${(e as Error).name} ${e instanceof ray.ObjectFreedError} ${e instanceof ray.RayError}`;
      const refs: ObjectRef<unknown>[] = [small, big, made];
      const after = await Promise.all(refs.map((r) => ray.get(r).then(() => 'read', name)));
      const asArg = await ray.get(ray.remote((x: unknown) => String(x)).remote(small)).then(() => 'ran', name);
      const inTask = await ray.get(ray.remote((r: unknown) => { ray.free(r as never); return 'freed'; }).remote([small])).then(String, (e: Error) => e.message);
      let notARef = '';
      try {
        ray.free([{}] as never);
      } catch (e) {
        notARef = (e as Error).message;
      }
      return { before, after, asArg, inTask, notARef };
    });
    expect(out.before).toEqual([{ a: 1 }, 200_000, 300_000]);
    expect(out.after).toEqual(['ObjectFreedError true true', 'ObjectFreedError true true', 'ObjectFreedError true true']);
    expect(out.asArg).toBe('ObjectFreedError true true');
    expect(out.inTask).toMatch(/ray\.free\(\) is the driver's/);
    expect(out.notARef).toMatch(/ray\.free: element 0 is .*not an ObjectRef/);
  });
});

test.describe('what values may be sent', () => {
  test('a function, a class instance or a Symbol is refused at .remote() and put, naming the argument', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      class Point {
        constructor(
          public x: number,
          public y: number,
        ) {}
      }
      const echo = ray.remote(function echo(...xs: unknown[]) {
        return xs;
      });
      const attempt = (f: () => unknown) => {
        try {
          f();
          return 'accepted';
        } catch (e) {
          return `${e instanceof TypeError}|${(e as Error).message}`;
        }
      };
      const tasksBefore = (await ray.tasks()).length;
      const result = {
        fnArg: attempt(() => echo.remote(1, () => 2)),
        instanceArg: attempt(() => echo.remote(1, new Point(1, 2))),
        symbolArg: attempt(() => echo.remote(1, Symbol('s'))),
        nestedFnArg: attempt(() => echo.remote({ cb: [() => 1] })),
        fnPut: attempt(() => ray.put(() => 1)),
        instancePut: attempt(() => ray.put({ p: new Point(1, 2) })),
        symbolPut: attempt(() => ray.put(Symbol('s'))),
        tasksSubmitted: (await ray.tasks()).length - tasksBefore,
        // The runtime is still fine after refusing.
        after: await ray.get(echo.remote(1, 2)),
      };
      return result;
    });
    for (const k of ['fnArg', 'instanceArg', 'symbolArg'] as const) {
      expect(out[k], k).toMatch(/^true\|/);
      expect(out[k], k).toContain('argument 1');
    }
    expect(out.fnArg).toContain('function');
    expect(out.instanceArg).toContain('Point');
    expect(out.symbolArg).toContain('Symbol');
    expect(out.nestedFnArg).toMatch(/^true\|.*argument 0.*cb\[0\].*function/);
    expect(out.fnPut).toMatch(/^true\|.*ray\.put.*function/);
    expect(out.instancePut).toMatch(/^true\|.*ray\.put.*Point/);
    expect(out.symbolPut).toMatch(/^true\|.*Symbol/);
    expect(out.tasksSubmitted).toBe(0);
    expect(out.after).toEqual([1, 2]);
  });

  test('a typed array whose buffer was transferred away is refused at put and .remote(), naming it', async ({ rayPage }) => {
    const out = await rayPage.evaluate(() => {
      const ray = globalThis.ray;
      const arr = new Float32Array(16);
      structuredClone(arr.buffer, { transfer: [arr.buffer] }); // detaches it, as postMessage transfer would
      const attempt = (f: () => unknown) => {
        try {
          f();
          return 'accepted';
        } catch (e) {
          return `${e instanceof TypeError}|${(e as Error).message}`;
        }
      };
      const echo = ray.remote((...xs: unknown[]) => xs);
      return { put: attempt(() => ray.put({ arr })), remote: attempt(() => echo.remote(1, arr)) };
    });
    expect(out.put).toMatch(/^true\|.*ray\.put.*arr.*detached/);
    expect(out.remote).toMatch(/^true\|.*argument 1.*detached/);
  });

  test('a task returning something that cannot be sent fails with an error naming the return value', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const badReturn = ray.remote(function badReturn() {
        return { f: () => 1 };
      });
      return ray.get(badReturn.remote()).then(
        () => 'resolved',
        (e: Error) => `${e instanceof ray.RayTaskError}|${e.message}`,
      );
    });
    expect(out).toMatch(/^true\|.*return value.*function/);
  });

  test('typed arrays, ArrayBuffer and DataView round trip through put, task arguments and return values', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const values = {
        f64: new Float64Array([1.5, -2.25, Math.PI]),
        f32: new Float32Array([0.5, 1e-3]),
        i32: new Int32Array([-1, 2 ** 31 - 1]),
        u8: new Uint8Array([0, 255, 128]),
        u8c: new Uint8ClampedArray([1, 2]),
        i16: new Int16Array([-300, 300]),
        big64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
        buf: new Uint8Array([9, 8, 7]).buffer,
        view: new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2),
        large: new Float64Array(50_000).map((_, i) => i),
      };
      const summary = (v: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(v).map(([k, x]) => {
            const type = (x as object).constructor.name;
            if (x instanceof DataView) return [k, `${type}:${x.byteLength}:${x.getUint8(0)},${x.getUint8(1)}`];
            if (x instanceof ArrayBuffer) return [k, `${type}:${Array.from(new Uint8Array(x)).join(',')}`];
            const arr = Array.from(x as ArrayLike<number | bigint>);
            return [k, `${type}:${arr.length}:${arr.slice(0, 4).map(String).join(',')}:${String(arr[arr.length - 1])}`];
          }),
        );
      const echo = ray.remote((v: Record<string, unknown>) => v);
      const inWorker = ray.remote(function inWorker(v: Record<string, unknown>) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, (x as object).constructor.name]));
      });
      const original = summary(values);
      const viaPut = summary(await ray.get(ray.put(values)));
      const viaTask = summary(await ray.get(echo.remote(values)));
      const typesInWorker = await ray.get(inWorker.remote(values));
      // The caller's buffers are still intact: sending copies, it does not take them away.
      const stillThere = summary(values);
      return { original, viaPut, viaTask, typesInWorker, stillThere };
    });
    expect(out.viaPut).toEqual(out.original);
    expect(out.viaTask).toEqual(out.original);
    expect(out.stillThere).toEqual(out.original);
    expect(out.typesInWorker).toEqual({
      f64: 'Float64Array',
      f32: 'Float32Array',
      i32: 'Int32Array',
      u8: 'Uint8Array',
      u8c: 'Uint8ClampedArray',
      i16: 'Int16Array',
      big64: 'BigInt64Array',
      buf: 'ArrayBuffer',
      view: 'DataView',
      large: 'Float64Array',
    });
    expect(out.original.large).toBe('Float64Array:50000:0,1,2,3:49999');
  });

  test('a large task result can be fetched more than once', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const make = ray.remote((n: number) => new Float64Array(n).fill(2));
      const ref = make.remote(100_000);
      const a = await ray.get(ref);
      const b = await ray.get(ref);
      const sum = ray.remote((x: Float64Array) => x.reduce((s, v) => s + v, 0));
      const c = await ray.get(sum.remote(ref));
      const d = await ray.get(sum.remote(ref));
      return { a: a.length, b: b.length, bSum: b.reduce((s, v) => s + v, 0), c, d };
    });
    expect(out).toEqual({ a: 100_000, b: 100_000, bSum: 200_000, c: 200_000, d: 200_000 });
  });

  test('Map, Set, Date, RegExp, Error, BigInt, nested objects and special numbers round trip', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const value = {
        map: new Map<unknown, unknown>([
          ['k', { deep: [1, { deeper: new Set(['x']) }] }],
          [1, 'one'],
        ]),
        set: new Set([1, 'two', 3n]),
        date: new Date('2024-02-29T12:34:56.789Z'),
        re: /ab+c/gi,
        err: new RangeError('bad range'),
        big: 12345678901234567890n,
        nums: [NaN, Infinity, -Infinity, -0],
        nested: { a: { b: { c: [null, undefined, true, 'str'] } } },
        nullProto: Object.assign(Object.create(null) as Record<string, number>, { z: 1 }),
      };
      const describe = (v: typeof value) => ({
        mapK: JSON.stringify((v.map.get('k') as { deep: [number, { deeper: Set<string> }] }).deep[0]),
        mapDeeper: [...(v.map.get('k') as { deep: [number, { deeper: Set<string> }] }).deep[1].deeper],
        mapOne: v.map.get(1),
        isMap: v.map instanceof Map,
        set: [...v.set].map(String),
        isSet: v.set instanceof Set,
        date: v.date instanceof Date ? v.date.toISOString() : 'not a Date',
        re: v.re instanceof RegExp ? `${v.re.source}/${v.re.flags}` : 'not a RegExp',
        err: v.err instanceof RangeError ? v.err.message : `not a RangeError: ${String(v.err)}`,
        big: typeof v.big === 'bigint' ? v.big.toString() : 'not a bigint',
        nums: v.nums.map((n) => (Object.is(n, -0) ? '-0' : String(n))),
        nested: v.nested.a.b.c.map((x) => (x === undefined ? 'undefined' : x)),
        hasUndefined: 1 in v.nested.a.b.c,
        nullProto: v.nullProto.z,
      });
      const echo = ray.remote((v: unknown) => v);
      return {
        original: describe(value),
        viaPut: describe(await ray.get(ray.put(value))),
        viaTask: describe((await ray.get(echo.remote(value))) as typeof value),
      };
    });
    expect(out.original.isMap).toBe(true);
    expect(out.viaPut).toEqual(out.original);
    expect(out.viaTask).toEqual(out.original);
  });

  test('cycles and shared references inside a value survive the trip', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      type Node = { name: string; self?: Node; peers: Node[] };
      const a: Node = { name: 'a', peers: [] };
      const shared = { name: 'shared', peers: [] };
      a.self = a;
      a.peers.push(shared, shared);
      const check = ray.remote((n: Node) => ({ cyclic: n.self === n, shared: n.peers[0] === n.peers[1] }));
      const back = await ray.get(ray.put(a));
      return { inTask: await ray.get(check.remote(a)), back: { cyclic: back.self === back, shared: back.peers[0] === back.peers[1] } };
    });
    expect(out).toEqual({ inTask: { cyclic: true, shared: true }, back: { cyclic: true, shared: true } });
  });
});
