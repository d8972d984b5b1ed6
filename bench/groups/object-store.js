// The subject: webray's object store spilling a 64 MiB Float64Array of random bytes to IndexedDB
// and restoring it, through the store a node uses (its memory budget set to 1 MiB, so every put
// spills at once), beside raw IndexedDB writes and reads of the same bytes (group raw-idb).
// Target (issue 4): at least 80% of the raw figures (ratio ≥ 0.80 in the baseline column).
webrayBench.group({
  name: 'object-store',
  description: 'webray ObjectStore spill and restore of 64 MiB through its IndexedDB spill store',
  subject: true,

  async setup() {
    const ray = await import('/webray-testing.js');
    if (typeof ray.__ObjectStore !== 'function') throw new Error('/webray-testing.js has no object store hooks: runtime not built yet');
    const total = 64 * 1024 * 1024;
    const bytes = new Uint8Array(total);
    for (let o = 0; o < total; o += 65536) crypto.getRandomValues(bytes.subarray(o, o + 65536));
    const value = new Float64Array(bytes.buffer);
    const open = () => {
      const spill = new ray.__IdbSpillStore({ name: `webray-spill-bench-${Math.random().toString(36).slice(2)}` });
      const store = new ray.__ObjectStore({ memoryBytes: 1024 * 1024, spill, nodeId: 'bench' });
      store.start();
      return store;
    };
    return { value, open };
  },

  benchmarks: [
    {
      name: 'object_store_spill_megabytes',
      unit: 'MB/s',
      description: 'put the 64 MiB array into a store with a 1 MiB budget and wait until it is on disk (the previous one is freed, as raw overwrites)',
      baseline: 'raw_idb_write_megabytes',
      multiplier: () => (64 * 1024 * 1024) / 1e6,
      prepare: ({ value, open }) => {
        const store = open();
        let n = 0;
        let previous;
        const fn = async () => {
          const id = `o${n++}`;
          store.put(id, { v: value, size: value.byteLength });
          if (previous) store.free([previous]);
          previous = id;
          await store.idle();
          if (store.stats().memoryBytes !== 0) throw new Error('the object did not leave memory');
        };
        return { fn, cleanup: () => store.clear() };
      },
    },
    {
      name: 'object_store_restore_megabytes',
      unit: 'MB/s',
      description: 'load the spilled 64 MiB array back (larger than the budget, so it is read from IndexedDB each time)',
      baseline: 'raw_idb_read_megabytes',
      multiplier: () => (64 * 1024 * 1024) / 1e6,
      prepare: async ({ value, open }) => {
        const store = open();
        store.put('r', { v: value, size: value.byteLength });
        await store.idle();
        const fn = async () => {
          const obj = await store.load('r');
          if (!obj || obj.v.length !== value.length) throw new Error('restore returned the wrong object');
        };
        return { fn, cleanup: () => store.clear() };
      },
    },
  ],
});
