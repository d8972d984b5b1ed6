// Baselines: what the browser itself costs for what a webray task or put must do at the least.
// A minimal RPC to one module Web Worker (postMessage a call, the worker runs a trivial function
// and posts the result back) bounds task and actor-call rates; one copy of the put benchmark's
// array bounds the put bandwidth of a store that keeps a snapshot of the value.
webrayBench.group({
  name: 'raw-worker',
  description: 'postMessage round trips to one module Web Worker; copy and structuredClone bandwidth',

  async setup() {
    const source = `
      const fns = { small_value: () => 'ok' };
      self.onmessage = (e) => {
        const { id, fn, args } = e.data;
        self.postMessage({ id, value: fns[fn](...args) });
      };`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const worker = new Worker(url, { type: 'module', name: 'bench-raw-worker' });
    URL.revokeObjectURL(url);
    const pending = new Map();
    let nextId = 0;
    worker.onmessage = (e) => {
      const resolve = pending.get(e.data.id);
      pending.delete(e.data.id);
      resolve(e.data.value);
    };
    const failed = new Promise((_, reject) => {
      worker.onerror = (e) => reject(new Error(`raw worker failed: ${e.message}`));
    });
    const call = (fn, ...args) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        worker.postMessage({ id, fn, args });
      });
    const ready = await Promise.race([call('small_value'), failed]);
    if (ready !== 'ok') throw new Error(`raw worker answered ${String(ready)}`);
    return { worker, call };
  },

  teardown({ worker }) {
    worker.terminate();
  },

  benchmarks: [
    {
      name: 'raw_worker_postmessage_sync',
      description: 'post one call to a module worker, await its reply, repeat',
      prepare: ({ call }) => () => call('small_value'),
    },
    {
      name: 'raw_worker_postmessage_async',
      description: 'post a batch of calls to a module worker, then await all replies',
      multiplier: (ctx) => ctx.batch,
      prepare:
        ({ call }, ctx) =>
        () => {
          const replies = new Array(ctx.batch);
          for (let i = 0; i < ctx.batch; i++) replies[i] = call('small_value');
          return Promise.all(replies);
        },
    },
    {
      name: 'raw_copy_gigabytes',
      unit: 'GB/s',
      description: 'copy (slice) the Float64Array single_client_put_gigabytes puts: one memcpy',
      multiplier: (ctx) => ctx.putBytes / 1e9,
      prepare: (_state, ctx) => {
        const arr = new Float64Array(ctx.putBytes / 8);
        return () => {
          arr.slice();
        };
      },
    },
    {
      name: 'raw_structured_clone_gigabytes',
      unit: 'GB/s',
      description: 'structuredClone of that Float64Array (Chromium clones a typed array far slower than its buffer)',
      multiplier: (ctx) => ctx.putBytes / 1e9,
      prepare: (_state, ctx) => {
        const arr = new Float64Array(ctx.putBytes / 8);
        return () => {
          structuredClone(arr);
        };
      },
    },
  ],
});
