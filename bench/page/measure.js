// Browser side of the benchmark harness: the group registry and the shared `measure` helper.
// Injected first into the bench page as a classic script (run.mjs reads it from disk); every
// file in bench/groups/ then registers itself with `webrayBench.group({...})`.
// `measure` mirrors Ray's `timeit` (python/ray/_private/ray_microbenchmark_helpers.py): a warm-up,
// then several timed runs that each call `fn` in steps until the duration has passed; the
// figure is multiplier × calls / seconds, averaged over the runs, with its standard deviation.
// Groups that need more than one page (WebRTC between tabs) declare `pages: N`: run.mjs then
// opens N − 1 more pages of the same browser (the same harness and group files injected), and
// code in the main page reaches them with `webrayBench.onPage(i, group, helper, arg)`, which runs
// the group's `pageHelpers[helper](helperState, arg)` in page i (1 … N − 1) through Playwright.
(() => {
  'use strict';

  /** @type {Map<string, any>} group name → definition */
  const groups = new Map();
  /** @type {Map<string, any>} group name → state returned by its setup */
  const states = new Map();
  /** @type {Map<string, any>} group name → state of its page helpers in this page */
  const helperStates = new Map();

  const now = () => performance.now();

  /** Calls fn once; awaits only when it returned a thenable, so synchronous calls (ray.put) stay
   *  synchronous, as in Ray's loop. */
  function callOnce(fn) {
    const r = fn();
    return r !== null && typeof r === 'object' && typeof r.then === 'function' ? r : undefined;
  }

  /**
   * Times `fn` and returns `{ name, value, sd, samples, calls, elapsedMs }`.
   * options: durationMs (per timed run), warmupMs, repeats, multiplier (work units per call:
   * the batch size, or gigabytes per call), selfTimed (fn resolves to `{ timedMs }`, the time of
   * the part of the call that counts: a run's figure is then multiplier × calls / Σ timedMs,
   * for calls that must prepare something untimed each time, such as a fresh object to move).
   */
  async function measure(name, fn, options) {
    const { durationMs, warmupMs, repeats, multiplier = 1, selfTimed = false } = options;
    let timedMs = 0;
    const call = selfTimed
      ? async () => {
          const ms = (await fn())?.timedMs;
          if (typeof ms !== 'number' || !(ms >= 0)) throw new Error(`${name}: a self-timed call must resolve to { timedMs }`);
          timedMs += ms;
        }
      : fn;
    let start = now();
    let count = 0;
    let pending;
    do {
      if ((pending = callOnce(call))) await pending;
      count++;
    } while (now() - start < warmupMs);
    // Ray checks the clock every count//10+1 calls of a 1 s warm-up (~10 checks a second); here
    // the step is sized the same way from the warm-up's rate so short warm-ups behave alike.
    const perMs = count / Math.max(now() - start, 1);
    const step = Math.max(1, Math.floor(perMs * 100));
    const samples = [];
    let calls = 0;
    const t0 = now();
    for (let r = 0; r < repeats; r++) {
      start = now();
      count = 0;
      timedMs = 0;
      while (now() - start < durationMs) {
        for (let i = 0; i < step; i++) if ((pending = callOnce(call))) await pending;
        count += step;
      }
      const seconds = (selfTimed ? timedMs : now() - start) / 1000;
      samples.push((multiplier * count) / seconds);
      calls += count;
    }
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length);
    return { name, value: mean, sd, samples, calls, elapsedMs: now() - t0 };
  }

  /** Registers a group: { name, description?, subject?, pages?, pageHelpers?, setup(ctx),
   *  teardown(state), benchmarks: [{ name, unit, description, multiplier?(ctx), selfTimed?,
   *  timeoutMs?, prepare(state, ctx) → fn | { fn, cleanup?, note? () → string reported beside
   *  the figure }, baseline?, peer?, target?,
   *  targetRatio? (a target as a share of the baseline row's figure), ray? }] }. */
  function group(def) {
    if (groups.has(def.name)) throw new Error(`bench group ${def.name} registered twice`);
    groups.set(def.name, def);
  }

  /** Metadata of every group and benchmark, as plain data for the Node side. */
  function list() {
    return [...groups.values()].map((g) => ({
      name: g.name,
      description: g.description ?? '',
      subject: g.subject === true,
      pages: g.pages ?? 1,
      benchmarks: g.benchmarks.map((b) => ({
        name: b.name,
        unit: b.unit ?? 'ops/s',
        description: b.description ?? '',
        baseline: b.baseline ?? null,
        peer: b.peer ?? null,
        target: b.target ?? null,
        ray: b.ray ?? null,
        targetRatio: b.targetRatio ?? null,
        timeoutMs: b.timeoutMs ?? null,
      })),
    }));
  }

  function getGroup(name) {
    const g = groups.get(name);
    if (!g) throw new Error(`no bench group ${name}`);
    return g;
  }

  async function setupGroup(name, ctx) {
    const g = getGroup(name);
    states.set(name, g.setup ? await g.setup(ctx) : {});
    return true;
  }

  async function teardownGroup(name) {
    const g = getGroup(name);
    const state = states.get(name);
    states.delete(name);
    if (g.teardown && state !== undefined) await g.teardown(state);
    return true;
  }

  async function runBenchmark(groupName, benchName, ctx) {
    const g = getGroup(groupName);
    if (!states.has(groupName)) throw new Error(`bench group ${groupName} is not set up`);
    const b = g.benchmarks.find((x) => x.name === benchName);
    if (!b) throw new Error(`no benchmark ${benchName} in group ${groupName}`);
    const state = states.get(groupName);
    const prepared = await b.prepare(state, ctx);
    const { fn, cleanup, note } = typeof prepared === 'function' ? { fn: prepared } : prepared;
    let result;
    try {
      const multiplier = typeof b.multiplier === 'function' ? b.multiplier(ctx) : (b.multiplier ?? 1);
      result = await measure(b.name, fn, { ...ctx.timing, multiplier, selfTimed: b.selfTimed === true });
    } catch (err) {
      if (cleanup) await Promise.resolve().then(cleanup).catch(() => {});
      throw err;
    }
    // What the row reports beside its figure (say, how many workers it started): before cleanup.
    if (note) {
      try {
        result.note = String(await note());
      } catch (err) {
        result.note = `note failed: ${err?.message ?? err}`;
      }
    }
    // A failed cleanup (say, ray.kill not there yet) does not void the figure: it is reported.
    if (cleanup) {
      try {
        await cleanup();
      } catch (err) {
        result.cleanupError = String(err?.message ?? err);
      }
    }
    return result;
  }

  /**
   * Runs `pageHelpers[helper]` of group `groupName` in page `index` of the run (1 … pages − 1; this
   * page is 0) and resolves with its result (plain data: it crosses Playwright).
   */
  function onPage(index, groupName, helper, arg) {
    if (typeof globalThis.webrayBenchOnPage !== 'function') throw new Error('no other pages: this group must declare `pages`');
    return globalThis.webrayBenchOnPage(index, groupName, helper, arg ?? null);
  }

  /** The other side of `onPage`: called by run.mjs in the page that runs the helper. */
  async function runHelper(groupName, helper, arg) {
    const g = getGroup(groupName);
    const fn = g.pageHelpers?.[helper];
    if (typeof fn !== 'function') throw new Error(`group ${groupName} has no page helper ${helper}`);
    if (!helperStates.has(groupName)) helperStates.set(groupName, {});
    const value = await fn(helperStates.get(groupName), arg);
    return value ?? null;
  }

  /** This page's main-thread busy time so far, ms (all tasks its renderer's main thread ran; from CDP). */
  function mainThreadMs() {
    if (typeof globalThis.webrayBenchMainThreadMs !== 'function') throw new Error('no main-thread metrics in this page');
    return globalThis.webrayBenchMainThreadMs();
  }

  globalThis.webrayBench = { group, list, setupGroup, teardownGroup, runBenchmark, measure, onPage, runHelper, mainThreadMs };
})();
