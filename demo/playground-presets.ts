// Programs for the playground, taken from the examples of docs/api.md: each runs as the body of an async
// function with `ray` and `print` in scope, and what it returns is shown.

export interface Preset {
  readonly name: string;
  readonly code: string;
}

export const PRESETS: readonly Preset[] = [
  {
    name: 'Remote functions (tasks)',
    code: `// .remote() returns an ObjectRef at once; ray.get waits for the value.
const add = ray.remote((a, b) => a + b);
const ref = add.remote(1, 2);
print('1 + 2 =', await ray.get(ref));

// ObjectRefs can be passed to other tasks: they wait for the value.
const sum = add.remote(ref, add.remote(3, 4));
return await ray.get([ref, sum]);`,
  },
  {
    name: 'Actors',
    code: `const Counter = ray.remote(class Counter {
  n = 0;
  incr(by) { return (this.n += by); }
});
const c = Counter.remote();
print(await ray.get(c.incr.remote(2)));
print(await ray.get(c.incr.remote(3)));

// A named actor can be found again by name (while a handle to it is kept: an actor with none is collected).
const named = Counter.options({ name: 'hits' }).remote();
const same = await ray.getActor('hits');
await ray.get(same.incr.remote(10));
const n = await ray.get(same.incr.remote(1));
ray.kill(c);
ray.kill(named);
return n;`,
  },
  {
    name: 'Objects: put and wait',
    code: `const big = ray.put(new Float64Array(1_000_000).fill(1));
const total = ray.remote((xs) => xs.reduce((a, b) => a + b, 0));
print('sum of a million ones:', await ray.get(total.remote(big)));

const sleep = ray.remote(async (ms) => { await new Promise((r) => setTimeout(r, ms)); return ms; });
const refs = [sleep.remote(600), sleep.remote(100), sleep.remote(300)];
const [ready, notReady] = await ray.wait(refs, { numReturns: 1, timeoutMs: 2000 });
print('first ready:', await ray.get(ready[0]), '— still running:', notReady.length);
return await ray.get(refs);`,
  },
  {
    name: 'Generators',
    code: `const count = ray.remote(async function* (n) {
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, 100));
    yield i * i;
  }
});
const seen = [];
for await (const ref of count.remote(5)) {
  const value = await ray.get(ref);
  print('got', value);
  seen.push(value);
}
return seen;`,
  },
  {
    name: 'Cancellation',
    code: `const forever = ray.remote(async function forever() {
  await new Promise((r) => setTimeout(r, 1e9));
});
const ref = forever.remote();
await new Promise((r) => setTimeout(r, 200));
ray.cancel(ref);
try {
  await ray.get(ref);
} catch (e) {
  return \`\${e.name}: \${e instanceof ray.TaskCancelledError ? 'cancelled, as asked' : e.message}\`;
}`,
  },
  {
    name: 'Errors',
    code: `const fails = ray.remote(function parse(text) {
  return JSON.parse(text);
});
try {
  await ray.get(fails.remote('{ not json'));
} catch (e) {
  print('caught', e.name, '— the remote error was a', e.cause.name);
  print('instanceof SyntaxError:', e instanceof SyntaxError);
}
// An uncaught error is shown below with its message.
await ray.get(fails.remote('nope'));`,
  },
  {
    name: 'Cluster resources',
    code: `print('cluster:', ray.clusterResources());
print('available:', ray.availableResources());
const where = ray.remote({ schedulingStrategy: 'SPREAD' }, () => ray.getRuntimeContext().nodeId);
const nodeIds = await ray.get(Array.from({ length: 8 }, () => where.remote()));
return ray.nodes().map((n) => ({
  node: n.nodeId,
  alive: n.alive,
  resources: n.resources,
  tasksJustRun: nodeIds.filter((id) => id === n.nodeId).length,
}));`,
  },
  {
    name: 'GPU (WebGPU in a task)',
    code: `if (!ray.clusterResources().GPU) return 'No node offers a GPU (see the GPU job for how to get one).';
const info = ray.remote({ numGpus: 1 }, async function gpuInfo() {
  const device = await ray.getGpuDevice();
  const a = device.adapterInfo ?? {};
  return { node: ray.getRuntimeContext().nodeId, vendor: a.vendor, architecture: a.architecture,
           maxWorkgroupSize: device.limits.maxComputeWorkgroupSizeX };
});
return await ray.get(info.remote());`,
  },
];
