// Introspection and lifecycle in local mode (docs/api.md "Introspection and events", "Cluster
// membership"): nodes, cluster and available resources, custom resources, pending reasons, the
// runtime context, the task table, Chrome trace timeline, enableTaskEvents, init/shutdown.
import { test, expect } from './fixtures.ts';

test.describe('introspection', () => {
  test.use({ initOptions: { numCpus: 3, resources: { special: 2 } } });

  test('ray.nodes() lists this tab as one alive coordinator node with the CPUs and custom resources given to init', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      return { nodes: ray.nodes(), driverNodeId: ray.getRuntimeContext().nodeId, total: ray.clusterResources() };
    });
    expect(out.nodes).toHaveLength(1);
    const [node] = out.nodes;
    expect(node!.alive).toBe(true);
    expect(node!.isCoordinator).toBe(true);
    expect(node!.resources.CPU).toBe(3);
    expect(node!.resources.special).toBe(2);
    expect(node!.nodeId).toBe(out.driverNodeId);
    expect(node!.objectStore).toEqual({
      memoryBytes: expect.any(Number),
      spilledBytes: expect.any(Number),
      objects: expect.any(Number),
      budgetBytes: expect.any(Number),
    });
    // objectStoreMemory: the node's budget (default 25% of deviceMemory, within [256 MiB, 2 GiB]),
    // listed among the cluster's resources as Ray lists object_store_memory.
    expect(node!.objectStore.budgetBytes).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    expect(out.total.objectStoreMemory).toBe(node!.objectStore.budgetBytes);
  });

  test('availableResources() drops while a long task runs and comes back when it ends; clusterResources() stays', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const before = { total: ray.clusterResources(), available: ray.availableResources() };
      // The task says when it runs, and holds its resources until the page lets it go (local
      // mode's workers share the page's origin, so a BroadcastChannel reaches them). It says so
      // until the page answers: a BroadcastChannel joins its name asynchronously, and a message
      // posted before the page's channel has joined is not delivered to it.
      const channel = new BroadcastChannel('e2e-nap');
      const started = new Promise<void>((resolve) => (channel.onmessage = (e) => e.data === 'started' && resolve()));
      const nap = ray.remote({ numCpus: 2, resources: { special: 1 } }, async () => {
        const ch = new BroadcastChannel('e2e-nap');
        let timer: ReturnType<typeof setInterval> | undefined;
        await new Promise<void>((resolve) => {
          ch.onmessage = (e) => e.data === 'release' && resolve();
          ch.postMessage('started');
          timer = setInterval(() => ch.postMessage('started'), 50);
        });
        clearInterval(timer);
        ch.close();
        return ray.getRuntimeContext().nodeId;
      });
      const ref = nap.remote();
      await started;
      const during = { total: ray.clusterResources(), available: ray.availableResources() };
      channel.postMessage('release');
      const ranOn = await ray.get(ref);
      channel.close();
      return { before, during, ranOn, nodeId: ray.nodes()[0]!.nodeId };
    });
    expect(out.before.total).toMatchObject({ CPU: 3, special: 2 });
    expect(out.before.available).toMatchObject({ CPU: 3, special: 2 });
    expect(out.during.total).toMatchObject({ CPU: 3, special: 2 });
    expect(out.during.available).toMatchObject({ CPU: 1, special: 1 });
    expect(out.ranOn).toBe(out.nodeId);
    // The resources come back once the task has ended (the release may trail its result).
    await expect
      .poll(() => rayPage.evaluate(() => globalThis.ray.availableResources()), { message: 'availableResources() after the task' })
      .toMatchObject({ CPU: 3, special: 2 });
    expect(await rayPage.evaluate(() => globalThis.ray.clusterResources())).toMatchObject({ CPU: 3, special: 2 });
  });

  test('inside a task (and an actor), the first nodes() / clusterResources() / availableResources() answer from a fresh view, not [] / {} (issue 11 item 6)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const look = ray.remote({ numCpus: 1 }, () => ({ nodes: ray.nodes().length, total: ray.clusterResources().CPU, free: ray.availableResources().CPU }));
      const Looker = ray.remote(
        { numCpus: 0 },
        class Looker {
          look() {
            return { nodes: ray.nodes().length, total: ray.clusterResources().special };
          }
        },
      );
      const actor = Looker.remote();
      return { task: await ray.get(look.remote()), actor: await ray.get(actor.look.remote()) };
    });
    // 3 CPUs: the task holds one while it runs (the actor, numCpus 0, none).
    expect(out.task).toEqual({ nodes: 1, total: 3, free: 2 });
    expect(out.actor).toEqual({ nodes: 1, total: 2 });
  });

  test('a task needing more GPUs or custom resources than exist stays pending, with the reason in ray.tasks()', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const gpuTask = ray.remote({ numGpus: 64, name: 'wants-gpus' }, () => 'ran');
      const specialTask = ray.remote({ resources: { special: 5 }, name: 'wants-special' }, () => 'ran');
      const fitsTask = ray.remote({ resources: { special: 2 }, name: 'fits-special' }, () => 'ran');
      const gpuRef = gpuTask.remote();
      const specialRef = specialTask.remote();
      const timedOut = await ray.get([gpuRef, specialRef], { timeoutMs: 300 }).then(
        () => 'resolved',
        (e: Error) => (e instanceof ray.GetTimeoutError ? 'GetTimeoutError' : e.name),
      );
      const fits = await ray.get(fitsTask.remote());
      const table = await ray.tasks();
      const pick = (name: string) => {
        const t = table.find((x) => x.name === name);
        return t && { state: t.state, pendingReason: t.pendingReason };
      };
      // Still pending, not failed: a node with the resources may join later.
      const stillPending = await ray.wait([gpuRef, specialRef], { numReturns: 1, timeoutMs: 100 });
      return {
        timedOut,
        fits,
        gpu: pick('wants-gpus'),
        special: pick('wants-special'),
        readyCount: stillPending[0].length,
        pendingFilter: (await ray.tasks({ state: 'PENDING_NODE_ASSIGNMENT' })).map((t) => t.name).sort(),
      };
    });
    expect(out.timedOut).toBe('GetTimeoutError');
    expect(out.fits).toBe('ran');
    expect(out.gpu?.state).toBe('PENDING_NODE_ASSIGNMENT');
    expect(out.gpu?.pendingReason).toMatch(/GPU/);
    expect(out.special?.state).toBe('PENDING_NODE_ASSIGNMENT');
    expect(out.special?.pendingReason).toMatch(/special/);
    expect(out.readyCount).toBe(0);
    expect(out.pendingFilter).toEqual(['wants-gpus', 'wants-special']);
  });

  test('getRuntimeContext() inside a task names its node, task and worker; in the driver only the node', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const whoAmI = ray.remote(() => {
        const c = ray.getRuntimeContext();
        return { nodeId: c.nodeId, taskId: c.taskId, workerId: c.workerId, actorId: c.actorId, aborted: c.signal.aborted };
      });
      const [a, b] = await ray.get([whoAmI.remote(), whoAmI.remote()] as const);
      const d = ray.getRuntimeContext();
      const table = await ray.tasks();
      return {
        a,
        b,
        driver: { nodeId: d.nodeId, taskId: d.taskId, workerId: d.workerId, actorId: d.actorId },
        nodeId: ray.nodes()[0]!.nodeId,
        tableHasA: table.some((t) => t.taskId === a.taskId && t.workerId === a.workerId && t.nodeId === a.nodeId),
      };
    });
    for (const ctx of [out.a, out.b]) {
      expect(ctx.nodeId).toBe(out.nodeId);
      expect(ctx.taskId).toEqual(expect.any(String));
      expect(ctx.workerId).toEqual(expect.any(String));
      expect(ctx.actorId).toBeNull();
      expect(ctx.aborted).toBe(false);
    }
    expect(out.a.taskId).not.toBe(out.b.taskId);
    expect(out.tableHasA).toBe(true);
    expect(out.driver).toEqual({ nodeId: out.nodeId, taskId: null, workerId: null, actorId: null });
  });

  test('getRuntimeContext() gives jobId, assignedResources, actorName and wasCurrentActorRestarted (Ray\'s runtime context fields)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const fields = () => {
        const c = ray.getRuntimeContext();
        return { jobId: c.jobId, actorName: c.actorName, restarted: c.wasCurrentActorRestarted, assigned: c.assignedResources };
      };
      const task = ray.remote({ scope: { fields } }, () => fields());
      const Named = ray.remote(
        { numCpus: 1, resources: { special: 1 }, maxRestarts: 1, scope: { fields } },
        class Named {
          fields() {
            return fields();
          }
        },
      );
      const named = Named.options({ name: 'ctx-named' }).remote();
      const before = await ray.get(named.fields.remote());
      ray.kill(named, { noRestart: false });
      const after = await ray.get(named.fields.remote());
      return { driver: fields(), task: await ray.get(task.remote()), before, after };
    });
    expect(out.driver).toEqual({ jobId: expect.any(String), actorName: null, restarted: false, assigned: {} });
    expect(out.task).toEqual({ jobId: out.driver.jobId, actorName: null, restarted: false, assigned: { CPU: 1 } });
    expect(out.before).toEqual({ jobId: out.driver.jobId, actorName: 'ctx-named', restarted: false, assigned: { CPU: 1, special: 1 } });
    expect(out.after).toEqual({ ...out.before, restarted: true });
  });

  test('state API: ray.actors({ state }), ray.objects() and ray.summary() list the session (Ray list_actors / list_objects / summary tasks)', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const Box = ray.remote({ numCpus: 0 }, class Box { v() { return 1; } });
      const kept = Box.options({ name: 'kept' }).remote();
      const gone = Box.remote();
      await ray.get([kept.v.remote(), gone.v.remote()]);
      ray.kill(gone);
      const square = ray.remote((x: number) => x * x);
      const ref = square.remote(4);
      await ray.get(ref);
      const put = ray.put(new Uint8Array(200_000));
      const actors = await ray.actors();
      const dead = await ray.actors({ state: 'DEAD' });
      const objects = await ray.objects();
      const summary = await ray.summary();
      return {
        actors: actors.map((a) => ({ name: a.name, className: a.className, state: a.state, onNode: a.nodeId === ray.nodes()[0]!.nodeId })),
        dead: dead.map((a) => a.actorId === gone.actorId),
        result: objects.find((o) => o.objectId === ref.id),
        put: objects.find((o) => o.objectId === put.id),
        square: summary.byName['anonymous'] ?? Object.values(summary.byName).find((s) => s.kind === 'normal'),
        methods: summary.byName['Box.v'],
      };
    });
    expect(out.actors).toEqual([
      { name: 'kept', className: 'Box', state: 'ALIVE', onNode: true },
      { name: null, className: 'Box', state: 'DEAD', onNode: false },
    ]);
    expect(out.dead).toEqual([true]);
    expect(out.result).toMatchObject({ state: 'READY', inline: true, holders: ['driver'] });
    expect(out.put).toMatchObject({ state: 'READY', holders: ['driver'] });
    expect(out.put!.size).toBeGreaterThanOrEqual(200_000);
    expect(out.square).toEqual({ kind: 'normal', total: 1, states: { FINISHED: 1 } });
    expect(out.methods).toEqual({ kind: 'actor-method', total: 2, states: { FINISHED: 2 } });
  });

  test('ray.tasks() lists finished and failed tasks by name, and the state filter selects them', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const good = ray.remote(function good(x: number) {
        return x * 2;
      });
      const bad = ray.remote(function bad() {
        throw new RangeError('bad input on purpose');
      });
      const slow = ray.remote(async function slow(x: string) {
        return x;
      });
      await ray.get([good.remote(1), good.options({ name: 'renamed' }).remote(2)]);
      await ray.get(bad.remote()).catch(() => undefined);
      // The blocker runs until the page has read the table: `slow` waits on its result meanwhile.
      const channel = new BroadcastChannel('e2e-blocker');
      const blockerRunning = new Promise<void>((resolve) => (channel.onmessage = (e) => e.data === 'started' && resolve()));
      const blocker = ray.remote(async () => {
        const ch = new BroadcastChannel('e2e-blocker');
        await new Promise<void>((resolve) => {
          ch.onmessage = (e) => e.data === 'release' && resolve();
          ch.postMessage('started');
        });
        ch.close();
        return 'late';
      });
      const waitingRef = slow.remote(blocker.remote());
      // Deadlines only turn a hang into a named failure, with the task table to say where it stuck
      // (this test hung twice in loaded runs on 2026-12-07 and could not be reproduced since).
      const deadline = async <T,>(p: Promise<T>, where: string): Promise<T> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stuck = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            ray.tasks().then(
              (ts) => reject(new Error(`stuck ${where}: ${JSON.stringify(ts.map((t) => [t.name, t.state, t.attempts, t.workerId]))}`)),
              reject,
            );
          }, 30_000);
        });
        try {
          return await Promise.race([p, stuck]);
        } finally {
          clearTimeout(timer);
        }
      };
      await deadline(blockerRunning, 'waiting for the blocker to start');
      const all = await ray.tasks();
      const finished = await ray.tasks({ state: 'FINISHED' });
      const failed = await ray.tasks({ state: 'FAILED' });
      const pendingArgs = await ray.tasks({ state: 'PENDING_ARGS_AVAIL' });
      channel.postMessage('release');
      await deadline(ray.get(waitingRef), 'waiting for slow after the release');
      channel.close();
      const strip = (t: (typeof all)[number]) => ({ name: t.name, state: t.state, attempts: t.attempts, error: t.error, hasNode: !!t.nodeId });
      return {
        all: all.map(strip),
        finished: finished.map((t) => t.name).sort(),
        failed: failed.map(strip),
        pendingArgs: pendingArgs.map((t) => ({ name: t.name, reason: t.pendingReason })),
        finishedLater: (await ray.tasks({ state: 'FINISHED' })).map((t) => t.name).sort(),
      };
    });
    expect(out.all).toEqual(
      expect.arrayContaining([
        { name: 'good', state: 'FINISHED', attempts: 1, error: null, hasNode: true },
        { name: 'renamed', state: 'FINISHED', attempts: 1, error: null, hasNode: true },
      ]),
    );
    expect(out.finished).toEqual(['good', 'renamed']);
    expect(out.failed).toHaveLength(1);
    expect(out.failed[0]).toMatchObject({ name: 'bad', state: 'FAILED', attempts: 1 });
    expect(out.failed[0]!.error).toContain('bad input on purpose');
    expect(out.pendingArgs).toHaveLength(1);
    expect(out.pendingArgs[0]!.name).toBe('slow');
    expect(out.pendingArgs[0]!.reason).toMatch(/argument/);
    expect(out.finishedLater).toEqual(['anonymous', 'good', 'renamed', 'slow']);
  });

  test('enableTaskEvents: false keeps a task out of tasks() and timeline() but it still runs', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const quiet = ray.remote({ enableTaskEvents: false, name: 'quiet' }, (x: number) => x + 1);
      const loud = ray.remote({ name: 'loud' }, (x: number) => x + 1);
      const values = await ray.get([quiet.remote(1), loud.remote(2), loud.options({ enableTaskEvents: false }).remote(3)]);
      const names = (await ray.tasks()).map((t) => t.name);
      const traced = (await ray.timeline()).filter((e) => e.ph === 'X').map((e) => e.name);
      return { values, names, traced };
    });
    expect(out.values).toEqual([2, 3, 4]);
    expect(out.names).toEqual(['loud']);
    expect(out.traced).toEqual(['loud']);
  });

  test('ray.timeline() returns Chrome trace events that survive a JSON round trip', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const work = ray.remote(async function work(ms: number) {
        await new Promise((r) => setTimeout(r, ms));
        return ms;
      });
      const Actor = ray.remote(
        class Actor {
          ping() {
            return 'pong';
          }
        },
      );
      const a = Actor.remote();
      await ray.get([work.remote(30), work.remote(60), work.remote(10), a.ping.remote()]);
      const events = await ray.timeline();
      const json = JSON.stringify(events);
      return { events, parsed: JSON.parse(json) as unknown };
    });
    expect(out.parsed).toEqual(out.events);
    expect(Array.isArray(out.parsed)).toBe(true);
    const complete = out.events.filter((e) => e.ph === 'X');
    const meta = out.events.filter((e) => e.ph === 'M');
    expect(complete.filter((e) => e.name === 'work')).toHaveLength(3);
    expect(complete.map((e) => e.name)).toContain('Actor.ping');
    for (const e of complete) {
      expect(typeof e.ts).toBe('number');
      expect(Number.isFinite(e.ts)).toBe(true);
      expect(typeof e.dur).toBe('number');
      expect(e.dur!).toBeGreaterThanOrEqual(0);
      expect(['number', 'string']).toContain(typeof e.pid);
      expect(['number', 'string']).toContain(typeof e.tid);
      // Every thread and process used has a name in the metadata events.
      expect(meta.some((m) => m.name === 'process_name' && m.pid === e.pid)).toBe(true);
      expect(meta.some((m) => m.name === 'thread_name' && m.pid === e.pid && m.tid === e.tid)).toBe(true);
    }
    // The 60 ms task lasted at least ~60 ms (ts and dur are microseconds).
    expect(Math.max(...complete.filter((e) => e.name === 'work').map((e) => e.dur!))).toBeGreaterThanOrEqual(50_000);
  });
});

test.describe('lifecycle', () => {
  test('a second ray.init() without shutdown rejects; shutdown then init works again; isInitialized follows', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      const steps: string[] = [];
      steps.push(`initialized: ${ray.isInitialized()}`);
      steps.push(
        await ray.init().then(
          () => 'second init resolved',
          (e: Error) => `second init rejected: ${/shutdown/.test(e.message)}`,
        ),
      );
      steps.push(`still works: ${await ray.get(ray.remote(() => 1).remote())}`);
      await ray.shutdown();
      steps.push(`after shutdown: ${ray.isInitialized()}`);
      try {
        ray.remote(() => 1).remote();
        steps.push('remote after shutdown worked');
      } catch (e) {
        steps.push(`remote after shutdown refused: ${/init/.test((e as Error).message)}`);
      }
      await ray.shutdown(); // idempotent
      const info = await ray.init({ numCpus: 2 });
      steps.push(`re-init: ${ray.isInitialized()} cpus ${info.resources.CPU} nodes ${ray.nodes().length} ${ray.clusterResources().CPU}`);
      steps.push(`runs again: ${await ray.get(ray.remote((x: number) => x * 7).remote(6))}`);
      // Two inits racing: only one wins.
      await ray.shutdown();
      const race = await Promise.allSettled([ray.init({ numCpus: 1 }), ray.init({ numCpus: 1 })]);
      steps.push(`race: ${race.map((r) => r.status).sort().join(',')}`);
      return steps;
    });
    expect(out).toEqual([
      'initialized: true',
      'second init rejected: true',
      'still works: 1',
      'after shutdown: false',
      'remote after shutdown refused: true',
      're-init: true cpus 2 nodes 1 2',
      'runs again: 42',
      'race: fulfilled,rejected',
    ]);
  });

  test('shutdown fails a pending get instead of leaving it hanging', async ({ rayPage }) => {
    const out = await rayPage.evaluate(async () => {
      const ray = globalThis.ray;
      // The task says when it runs (local mode's workers share the page's origin).
      const channel = new BroadcastChannel('e2e-long');
      const started = new Promise<void>((resolve) => (channel.onmessage = () => resolve()));
      const ref = ray.remote(async () => {
        new BroadcastChannel('e2e-long').postMessage('started');
        await new Promise((r) => setTimeout(r, 10_000));
        return 'never';
      }).remote();
      const pending = ray.get(ref).then(
        () => 'resolved',
        (e: Error) => `rejected ${e.name}`,
      );
      await started;
      channel.close();
      const t0 = performance.now();
      await ray.shutdown();
      const result = await pending;
      return { result, ms: performance.now() - t0 };
    });
    test.info().annotations.push({ type: 'shutdown with a running task took', description: `${out.ms.toFixed(0)} ms` });
    expect(out.result).toMatch(/^rejected /);
    // At once, not when the 10 s task would have ended. Typically ~5 ms.
    expect(out.ms).toBeLessThan(5_000);
  });
});
