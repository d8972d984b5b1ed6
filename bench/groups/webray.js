// The subject: webray's own figures under Ray's microbenchmark names (ray_perf.py), in local mode
// (`ray.init()`, this tab alone, its Web Worker pool). Each row does what Ray's does: a trivial
// task returning a small value, an actor method doing the same, put/get of a small object, put of
// a large numeric array. `target` is the goal; `ray` is Ray's published 64-core figure.
/** The workers that ran a `fib` task, as the state API lists them. */
async function workersOf(ray) {
  const tasks = await ray.tasks();
  return new Set(tasks.filter((t) => t.name === 'fib' && t.workerId).map((t) => t.workerId));
}

webrayBench.group({
  name: 'webray',
  description: 'webray in local mode, loaded from /webray.js',
  subject: true,

  async setup() {
    const ray = await import('/webray.js');
    if (typeof ray.init !== 'function') throw new Error('/webray.js has no init(): runtime not built yet');
    if (ray.isInitialized?.()) await ray.shutdown();
    await ray.init();
    const smallValue = ray.remote(function small_value() {
      return 'ok';
    });
    const Actor = ray.remote(
      class Actor {
        small_value() {
          return 'ok';
        }
      },
    );
    // A parent that submits a child and waits for it from task code: the nested path (the child's
    // submit from the worker, the parent's get blocking and lending its CPU, the reply).
    const nestedParent = ray.remote({ scope: { smallValue } }, async function nested_parent() {
      return ray.get(smallValue.remote());
    });
    // Ray's recursive fib as tasks: each call above 1 submits its two children and awaits both
    // (fib(15) is 1,973 tasks, 986 of them blocked in get while their children run).
    const fib = ray.remote(async function fib(n) {
      if (n < 2) return n;
      const [a, b] = await ray.get([fib.remote(n - 1), fib.remote(n - 2)]);
      return a + b;
    });
    return { ray, smallValue, Actor, nestedParent, fib };
  },

  async teardown({ ray }) {
    await ray.shutdown();
  },

  benchmarks: [
    {
      name: 'single_client_tasks_sync',
      description: 'submit one trivial task, get it, repeat',
      baseline: 'raw_worker_postmessage_sync',
      peer: 'workerpool_tasks_sync',
      target: 6000,
      ray: 987,
      prepare:
        ({ ray, smallValue }) =>
        () =>
          ray.get(smallValue.remote()),
    },
    {
      name: 'single_client_tasks_async',
      description: 'submit a batch of trivial tasks, then get them all',
      baseline: 'raw_worker_postmessage_async',
      peer: 'workerpool_tasks_async',
      target: 20000,
      ray: 7955,
      multiplier: (ctx) => ctx.batch,
      prepare:
        ({ ray, smallValue }, ctx) =>
        () => {
          const refs = new Array(ctx.batch);
          for (let i = 0; i < ctx.batch; i++) refs[i] = smallValue.remote();
          return ray.get(refs);
        },
    },
    {
      name: 'nested_tasks_async',
      description: 'submit a batch of tasks that each submit a trivial child and get it, then get them all (parent + child per unit)',
      baseline: 'raw_worker_postmessage_async',
      multiplier: (ctx) => ctx.batch,
      prepare:
        ({ ray, nestedParent }, ctx) =>
        () => {
          const refs = new Array(ctx.batch);
          for (let i = 0; i < ctx.batch; i++) refs[i] = nestedParent.remote();
          return ray.get(refs);
        },
    },
    {
      name: 'nested_fib_15',
      description: 'fib(15) as tasks that submit their two children and await them (1,973 tasks per call); tasks/s',
      baseline: 'single_client_tasks_async',
      // Issue 12: per-task cost at most 3x that of single_client_tasks_async in the same run.
      targetRatio: 1 / 3,
      multiplier: () => 1973,
      timeoutMs: 600_000,
      prepare: async ({ ray, fib }) => {
        const workersBefore = await workersOf(ray);
        const fn = async () => {
          if ((await ray.get(fib.remote(15))) !== 610) throw new Error('fib(15) is not 610');
        };
        // Workers that ran a fib task, beyond those that already had when the row began.
        const note = async () => `${(await workersOf(ray)).size - workersBefore.size} workers started, ${(await workersOf(ray)).size} ran fib`;
        return { fn, note };
      },
    },
    {
      name: 'tasks_1m_heap_soak',
      description: '1,000,000 trivial tasks per call, in batches of 1,000, refs dropped; the note gives the JS heap of this page (the coordinator) before the first call and after the last, after gc()',
      multiplier: () => 1_000_000,
      timeoutMs: 900_000,
      prepare: ({ ray, smallValue }) => {
        const heap = async () => {
          for (let i = 0; i < 3; i++) {
            globalThis.gc?.();
            await new Promise((r) => setTimeout(r, 50));
          }
          return performance.memory?.usedJSHeapSize ?? NaN;
        };
        let first;
        let last;
        let tasks = 0;
        const fn = async () => {
          first ??= await heap();
          for (let b = 0; b < 1000; b++) {
            const refs = new Array(1000);
            for (let i = 0; i < 1000; i++) refs[i] = smallValue.remote();
            await ray.get(refs);
          }
          tasks += 1_000_000;
          last = await heap();
        };
        // Issue 12: growth at most 50 MB (finished tasks are kept up to 100,000, as Ray's task events).
        const note = () => {
          const mb = (last - first) / 1e6;
          return `JS heap ${(first / 1e6).toFixed(1)} -> ${(last / 1e6).toFixed(1)} MB over ${tasks.toLocaleString('en-US')} tasks (${mb >= 0 ? '+' : ''}${mb.toFixed(1)} MB; target <= 50 MB: ${mb <= 50 ? 'MET' : 'MISS'})`;
        };
        return { fn, note };
      },
    },
    {
      name: '1_1_actor_calls_sync',
      description: 'one caller, one actor: call a trivial method, get it, repeat',
      baseline: 'raw_worker_postmessage_sync',
      target: 6000,
      ray: 2058,
      prepare: async ({ ray, Actor }) => {
        const a = Actor.remote();
        await ray.get(a.small_value.remote());
        return { fn: () => ray.get(a.small_value.remote()), cleanup: () => ray.kill(a) };
      },
    },
    {
      name: '1_1_actor_calls_async',
      description: 'one caller, one actor: call a trivial method a batch of times, then get all',
      baseline: 'raw_worker_postmessage_async',
      target: 20000,
      ray: 8334,
      multiplier: (ctx) => ctx.batch,
      prepare: async ({ ray, Actor }, ctx) => {
        const a = Actor.remote();
        await ray.get(a.small_value.remote());
        const fn = () => {
          const refs = new Array(ctx.batch);
          for (let i = 0; i < ctx.batch; i++) refs[i] = a.small_value.remote();
          return ray.get(refs);
        };
        return { fn, cleanup: () => ray.kill(a) };
      },
    },
    {
      name: 'single_client_put_calls',
      description: 'ray.put a small value (0), repeat',
      target: 50000,
      ray: 5301,
      prepare:
        ({ ray }) =>
        () => {
          ray.put(0);
        },
    },
    {
      name: 'single_client_get_calls',
      description: 'ray.get the same small put object, repeat',
      target: 50000,
      ray: 10594,
      prepare: ({ ray }) => {
        const ref = ray.put(0);
        return () => ray.get(ref);
      },
    },
    {
      name: 'single_client_put_gigabytes',
      unit: 'GB/s',
      description: 'ray.put a large zero-filled Float64Array (--put-mb, default 64 MiB), repeat',
      baseline: 'raw_copy_gigabytes',
      multiplier: (ctx) => ctx.putBytes / 1e9,
      prepare: ({ ray }, ctx) => {
        const arr = new Float64Array(ctx.putBytes / 8);
        return () => {
          ray.put(arr);
        };
      },
    },
  ],
});
