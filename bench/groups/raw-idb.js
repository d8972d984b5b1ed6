// Baselines for spilling: IndexedDB itself writing and reading the 64 MiB of random bytes the
// object-store rows spill and restore, as 8 ArrayBuffer records of 8 MiB put (or read) in one
// transaction — the records the spill store writes — and, for reads, joined into one buffer as a
// restore must. A write overwrites the same keys each time
// (IndexedDB drops the old records), as each spill row frees the object it spilled before.
// (Blob records are faster still, but lose data in incognito profiles: see BENCHMARKS.md.)
webrayBench.group({
  name: 'raw-idb',
  description: 'IndexedDB writes and reads of 64 MiB of random bytes in 8 MiB ArrayBuffer records, one transaction each',

  async setup() {
    const total = 64 * 1024 * 1024;
    const chunk = 8 * 1024 * 1024;
    const bytes = new Uint8Array(total);
    for (let o = 0; o < total; o += 65536) crypto.getRandomValues(bytes.subarray(o, o + 65536));
    const name = `webray-bench-raw-idb-${Math.random().toString(36).slice(2)}`;
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('chunks');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const write = () =>
      new Promise((resolve, reject) => {
        const tx = db.transaction('chunks', 'readwrite');
        const store = tx.objectStore('chunks');
        // A typed array would be cloned with its whole buffer: put a copy of just the part.
        for (let i = 0; i < total / chunk; i++) store.put(bytes.slice(i * chunk, (i + 1) * chunk).buffer, i);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
      });
    // All 8 gets at once in one transaction: faster here than one getAll, and than fewer at a time.
    // `join`: copy the records into one 64 MiB buffer as they arrive — what a restore must hand
    // back (one Float64Array), and what any reader of the bytes as one array pays.
    const read = (join) => {
      const store = db.transaction('chunks', 'readonly').objectStore('chunks');
      const whole = join ? new Uint8Array(total) : undefined;
      const gets = [];
      for (let i = 0; i < total / chunk; i++) {
        gets.push(
          new Promise((resolve, reject) => {
            const req = store.get(i);
            req.onsuccess = () => {
              if (!req.result) return reject(new Error(`record ${i} is missing`));
              if (whole) whole.set(new Uint8Array(req.result), i * chunk);
              resolve(req.result);
            };
            req.onerror = () => reject(req.error);
          }),
        );
      }
      return Promise.all(gets);
    };
    return { db, name, write, read };
  },

  async teardown({ db, name }) {
    db.close();
    await new Promise((resolve) => {
      const req = indexedDB.deleteDatabase(name);
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    });
  },

  benchmarks: [
    {
      name: 'raw_idb_write_megabytes',
      unit: 'MB/s',
      description: 'put 64 MiB of random bytes as 8 ArrayBuffer records of 8 MiB in one transaction',
      multiplier: () => (64 * 1024 * 1024) / 1e6,
      prepare: ({ write }) => write,
    },
    {
      name: 'raw_idb_read_megabytes',
      unit: 'MB/s',
      description: 'get the 8 records in one transaction, copying each into one 64 MiB buffer as it arrives',
      multiplier: () => (64 * 1024 * 1024) / 1e6,
      prepare: async ({ write, read }) => {
        await write();
        return () => read(true);
      },
    },
    {
      name: 'raw_idb_read_records_megabytes',
      unit: 'MB/s',
      description: 'the same without joining: the bytes in memory as 8 separate buffers (for information: the most IndexedDB gives)',
      multiplier: () => (64 * 1024 * 1024) / 1e6,
      prepare: async ({ write, read }) => {
        await write();
        return () => read(false);
      },
    },
  ],
});
