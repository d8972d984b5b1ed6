// Streaming generators in local mode (docs/api.md "Generators"): sync and async generator functions
// and actor methods return an ObjectRefGenerator whose refs arrive while the task still runs;
// an error mid-stream surfaces after the last good ref; backpressure pauses the producer.
import { test, expect } from './fixtures.ts';
import { installStateWaits } from './state-waits.ts';

// A generator that must still be running when the driver gets an item waits at a gate the test
// opens after that (state-waits.ts), instead of sleeping longer than delivery usually takes.
test.beforeEach(({ rayPage }) => installStateWaits(rayPage));

test.describe('generators', () => {
  test.use({ initOptions: { numCpus: 2 } });

  test('sync and async generator functions stream every yielded value in order', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const squares = ray.remote(function* squares(n: number) {
        for (let i = 0; i < n; i++) yield i * i;
      });
      const words = ray.remote(async function* words(text: string) {
        for (const w of text.split(' ')) {
          await new Promise((r) => setTimeout(r, 5));
          yield w.toUpperCase();
        }
      });
      const collect = async <T>(gen: AsyncIterable<InstanceType<typeof ray.ObjectRef<T>>>) => {
        const values: T[] = [];
        for await (const ref of gen) values.push(await ray.get(ref));
        return values;
      };
      const isGenerator = squares.remote(1) instanceof ray.ObjectRefGenerator;
      return {
        isGenerator,
        sync: await collect(squares.remote(6)),
        async: await collect(words.remote(ray.put('streams arrive in order'))),
        empty: await collect(squares.remote(0)),
      };
    });
    expect(out.isGenerator).toBe(true);
    expect(out.sync).toEqual([0, 1, 4, 9, 16, 25]);
    expect(out.async).toEqual(['STREAMS', 'ARRIVE', 'IN', 'ORDER']);
    expect(out.empty).toEqual([]);
  });

  test('an async generator hands out item 0 while it is still waiting before item 1', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const slowly = ray.remote({ scope: { gate } }, async function* slowly() {
        yield 0;
        await gate('item 1'); // no item 1 until the test opens the gate
        yield 1;
      });
      const received: number[] = [];
      const consumer = (async () => {
        for await (const ref of slowly.remote()) received.push(await ray.get(ref));
      })();
      // Item 0 reaches the driver while the generator is still running, waiting before item 1.
      await globalThis.waitUntil('item 0 to reach the driver while the generator waits before item 1', () => received.length === 1);
      marks.open('item 1');
      await consumer;
      return received;
    });
    expect(out).toEqual([0, 1]);
  });

  test('a sync generator hands out each item as soon as it is yielded, before computing the next', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const busy = ray.remote(function* busy(n: number, ms: number) {
        for (let i = 0; i < n; i++) {
          const end = Date.now() + ms;
          while (Date.now() < end) {
            // a CPU-bound step
          }
          yield { i, at: Date.now() };
        }
      });
      const received: { i: number; at: number; gotAt: number }[] = [];
      for await (const ref of busy.remote(3, 1_000)) received.push({ ...(await ray.get(ref)), gotAt: Date.now() });
      return received;
    });
    expect(out.map((r) => r.i)).toEqual([0, 1, 2]);
    // Each item reaches the driver before the next is produced, not together with it. A sync
    // generator cannot wait at a gate, so its 1 s CPU-bound step is the margin: items typically
    // arrive ~5–60 ms after they are yielded.
    expect(out[0]!.gotAt).toBeLessThan(out[1]!.at);
    expect(out[1]!.gotAt).toBeLessThan(out[2]!.at);
  });

  test('an error thrown mid-stream surfaces when getting the ref after the last good one, then the stream ends', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const flaky = ray.remote(async function* flaky() {
        yield 'a';
        yield 'b';
        throw new TypeError('ran out of input');
      });
      const results: string[] = [];
      let refs = 0;
      for await (const ref of flaky.remote()) {
        refs++;
        try {
          results.push(`ok ${await ray.get(ref)}`);
        } catch (e) {
          const err = e as Error;
          results.push(
            `err ${err instanceof ray.RayTaskError} ${err instanceof TypeError} ${err.message.includes('ran out of input')}`,
          );
        }
      }
      return { results, refs };
    });
    expect(out.results).toEqual(['ok a', 'ok b', 'err true true true']);
    expect(out.refs).toBe(3);
  });

  test('completed() is an ObjectRef ready when the generator task ends: null, or its error; a cancelled generator\'s raises TaskCancelledError (Ray ObjectRefGenerator.completed)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const three = ray.remote(function* three() {
        yield 1;
        yield 2;
        yield 3;
      });
      const gen = three.remote();
      const done = await ray.get(gen.completed());
      const items: number[] = [];
      for await (const r of gen) items.push((await ray.get(r)));
      const flaky = ray.remote({ maxRetries: 0 }, function* flaky() {
        yield 1;
        throw new RangeError('broke');
      });
      const failed = await ray.get(flaky.remote().completed()).then(() => 'no error', (e: Error) => `${e instanceof RangeError} ${e.message.includes('broke')}`);
      const endless = ray.remote(async function* endless() {
        for (;;) {
          yield 0;
          await new Promise((r) => setTimeout(r, 10));
        }
      });
      const g = endless.remote();
      ray.cancel(g);
      const cancelled = await ray.get(g.completed()).then(() => 'no error', (e: Error) => e instanceof ray.TaskCancelledError);
      return { done, items, failed, cancelled };
    });
    expect(out).toEqual({ done: null, items: [1, 2, 3], failed: 'true true', cancelled: true });
  });

  test('generatorBackpressureNumObjects 2 keeps the producer at most 2 items ahead of a slow consumer', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Tally = ray.remote(
        class Tally {
          n = 0;
          incr() {
            return ++this.n;
          }
          count() {
            return this.n;
          }
        },
      );
      type TallyHandle = ReturnType<typeof Tally.remote>;
      const produce = ray.remote(async function* produce(tally: TallyHandle, n: number) {
        for (let i = 0; i < n; i++) {
          await ray.get(tally.incr.remote());
          yield i;
        }
      });
      const n = 8;
      const consume = async (backpressure: number | undefined) => {
        const tally = Tally.remote();
        const gen = (backpressure ? produce.options({ generatorBackpressureNumObjects: backpressure }) : produce).remote(tally, n);
        let consumed = 0;
        let maxAhead = 0;
        const values: number[] = [];
        for await (const ref of gen) {
          consumed++;
          values.push(await ray.get(ref));
          // A slow consumer: before taking the next item, let the producer get as far ahead as it
          // may — with backpressure, that many items; without, to the end of the stream.
          const lead = Math.min(n, consumed + (backpressure ?? n));
          await globalThis.waitUntil(`the producer to reach item ${lead}`, async () => (await ray.get(tally.count.remote())) >= lead);
          const produced = await ray.get(tally.count.remote());
          maxAhead = Math.max(maxAhead, produced - consumed);
        }
        return { values, maxAhead };
      };
      return { paced: await consume(2), free: await consume(undefined) };
    });
    expect(out.paced.values).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(out.paced.maxAhead).toBeLessThanOrEqual(2);
    expect(out.paced.maxAhead).toBeGreaterThanOrEqual(1);
    // Without backpressure the same producer runs ahead of the consumer.
    expect(out.free.values).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(out.free.maxAhead).toBeGreaterThan(2);
  });

  test('leaving a for-await loop over a backpressured endless generator cancels its producer and frees its CPU; isFinished() says the stream is done', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const endless = ray.remote({ generatorBackpressureNumObjects: 1 }, function* endless() {
        for (let i = 0; ; i++) yield i;
      });
      const gen = endless.remote();
      const seen: number[] = [];
      const before = gen.isFinished();
      for await (const ref of gen) {
        seen.push(await ray.get(ref));
        if (seen.length === 3) break;
      }
      // The producer, waiting for its next item to be read, is stopped and its worker let go.
      const info = await globalThis.waitUntil('the producer to end', async () => {
        const t = (await ray.tasks()).find((x) => x.name === 'endless');
        return t && t.state !== 'RUNNING' && t.state !== 'SUBMITTED_TO_WORKER' ? t : undefined;
      });
      await globalThis.waitUntil('every CPU back', () => ray.availableResources().CPU === ray.clusterResources().CPU);
      return { seen, before, after: gen.isFinished(), state: info.state, error: info.error };
    });
    expect(out.seen).toEqual([0, 1, 2]);
    expect(out.before).toBe(false);
    expect(out.after).toBe(true);
    expect(out.state).toBe('FAILED');
    expect(out.error).toMatch(/TaskCancelledError/);
  });

  test('actor generator methods stream too, reading the actor state, sync and async', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const marks = globalThis.listenMarks();
      const gate = globalThis.taskGate;
      const Feed = ray.remote(
        { scope: { gate } },
        class Feed {
          prefix: string;
          constructor(prefix: string) {
            this.prefix = prefix;
          }
          *lines(n: number) {
            for (let i = 0; i < n; i++) yield `${this.prefix}${i}`;
          }
          async *ticks(n: number) {
            for (let i = 0; i < n; i++) {
              yield i;
              await gate(`tick ${i + 1}`); // no next tick until the test opens the gate
            }
          }
        },
      );
      const f = Feed.remote('line ');
      const lines: string[] = [];
      for await (const ref of f.lines.remote(3)) lines.push(await ray.get(ref));
      const ticks: number[] = [];
      const consumer = (async () => {
        for await (const ref of f.ticks.remote(2)) ticks.push(await ray.get(ref));
      })();
      // Tick 0 reaches the driver while the method is still running, waiting before tick 1.
      await globalThis.waitUntil('tick 0 to reach the driver while the method waits before tick 1', () => ticks.length === 1);
      marks.open('tick 1');
      marks.open('tick 2');
      await consumer;
      return { lines, ticks };
    });
    expect(out.lines).toEqual(['line 0', 'line 1', 'line 2']);
    expect(out.ticks).toEqual([0, 1]);
  });

  test('ray.get refuses an ObjectRefGenerator and says to iterate it', async ({ rayPage }) => {
    const message = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const g = ray.remote(function* one() {
        yield 1;
      });
      const gen = g.remote();
      try {
        await ray.get(gen as never);
        return 'resolved';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(message).toMatch(/iterate/);
  });
});
