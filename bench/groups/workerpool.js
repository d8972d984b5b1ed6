// Peer: workerpool's browser build (the usual way to run functions on a pool of Web Workers), on
// navigator.hardwareConcurrency workers, running the same trivial function as the webray tasks.
// Two ways of calling it: a function registered in the worker script (workerpool's fastest
// path), and `pool.exec(fn)`, which ships the function's source with every call as webray does
// once per function.
webrayBench.group({
  name: 'workerpool',
  description: 'workerpool browser build on navigator.hardwareConcurrency Web Workers',

  async setup(ctx) {
    if (typeof workerpool === 'undefined') throw new Error('workerpool browser build not loaded');
    const size = navigator.hardwareConcurrency;
    const source = `${ctx.assets.workerpoolSource}\n;workerpool.worker({ small_value: () => 'ok' });\n`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const registered = workerpool.pool(url, { maxWorkers: size, minWorkers: 'max', workerType: 'web' });
    const dynamic = workerpool.pool({ maxWorkers: size, minWorkers: 'max', workerType: 'web' });
    // One call per worker so every worker has started before anything is timed.
    const warm = [];
    for (let i = 0; i < size; i++) {
      warm.push(registered.exec('small_value', []));
      warm.push(dynamic.exec(() => 'ok', []));
    }
    const answers = await Promise.all(warm);
    if (answers.some((a) => a !== 'ok')) throw new Error(`workerpool answered ${answers.join(',')}`);
    return { registered, dynamic, url, size };
  },

  async teardown({ registered, dynamic, url }) {
    await Promise.all([registered.terminate(true), dynamic.terminate(true)]);
    URL.revokeObjectURL(url);
  },

  benchmarks: [
    {
      name: 'workerpool_tasks_sync',
      description: 'pool.exec a registered trivial function, await it, repeat',
      prepare:
        ({ registered }) =>
        () =>
          registered.exec('small_value', []),
    },
    {
      name: 'workerpool_tasks_async',
      description: 'pool.exec a batch of registered trivial calls, then await all',
      multiplier: (ctx) => ctx.batch,
      prepare:
        ({ registered }, ctx) =>
        () => {
          const results = new Array(ctx.batch);
          for (let i = 0; i < ctx.batch; i++) results[i] = registered.exec('small_value', []);
          return Promise.all(results);
        },
    },
    {
      name: 'workerpool_exec_fn_sync',
      description: 'pool.exec(fn) with the function shipped as source on each call, one at a time',
      prepare: ({ dynamic }) => {
        const smallValue = () => 'ok';
        return () => dynamic.exec(smallValue, []);
      },
    },
    {
      name: 'workerpool_exec_fn_async',
      description: 'pool.exec(fn) a batch with the function shipped on each call, then await all',
      multiplier: (ctx) => ctx.batch,
      prepare: ({ dynamic }, ctx) => {
        const smallValue = () => 'ok';
        return () => {
          const results = new Array(ctx.batch);
          for (let i = 0; i < ctx.batch; i++) results[i] = dynamic.exec(smallValue, []);
          return Promise.all(results);
        };
      },
    },
  ],
});
