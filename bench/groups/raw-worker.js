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
    return { worker, call, atomics: startAtomicsWorker() };
  },

  teardown({ worker, atomics }) {
    worker.terminate();
    atomics?.stop();
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
      name: 'raw_worker_atomics_sync',
      description: 'the same round trip through a SharedArrayBuffer: Atomics.notify each way, Atomics.waitAsync on both sides (neither event loop blocked)',
      prepare: ({ atomics }) => {
        if (!atomics) throw new Error('needs a cross-origin isolated page with Atomics.waitAsync (SharedArrayBuffer)');
        return () => atomics.call();
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

/**
 * A worker answering calls through a SharedArrayBuffer instead of messages: slot 0 counts calls
 * (the page stores and notifies), slot 1 counts answers (the worker stores and notifies); each side
 * waits with Atomics.waitAsync, so neither blocks its event loop. Undefined where the page is not
 * cross-origin isolated (no SharedArrayBuffer) or where Atomics.waitAsync is missing.
 */
function startAtomicsWorker() {
  if (!globalThis.crossOriginIsolated || typeof Atomics.waitAsync !== 'function') return undefined;
  const source = `
    self.onmessage = async (e) => {
      const a = new Int32Array(e.data);
      let seen = 0;
      for (;;) {
        const w = Atomics.waitAsync(a, 0, seen);
        if (w.async) await w.value;
        seen = Atomics.load(a, 0);
        if (seen < 0) return;
        Atomics.store(a, 1, seen);
        Atomics.notify(a, 1);
      }
    };`;
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = new Worker(url, { type: 'module', name: 'bench-raw-atomics-worker' });
  URL.revokeObjectURL(url);
  const a = new Int32Array(new SharedArrayBuffer(8));
  worker.postMessage(a.buffer);
  let calls = 0;
  return {
    async call() {
      const n = ++calls;
      Atomics.store(a, 0, n);
      Atomics.notify(a, 0);
      while (Atomics.load(a, 1) !== n) {
        const w = Atomics.waitAsync(a, 1, n - 1);
        if (w.async) await w.value;
      }
    },
    stop() {
      Atomics.store(a, 0, -1);
      Atomics.notify(a, 0);
      worker.terminate();
    },
  };
}
