// Cluster mode (issue 3): several pages as several nodes of one cluster, each in its own browser
// context, joined through the real signaling server and talking over real WebRTC data channels on
// loopback. Membership and resource totals, SPREAD, custom resources, objects pulled between
// volunteers, nested tasks from a volunteer, refused joins, volunteers closing, leaving, freezing
// (tasks retried, actors restarted, objects recomputed or lost), infeasible tasks, garbage sent to
// the server, the coordinator closing, and task code isolated from the volunteer's origin. A whole
// volunteer browser killed outright is in cluster-crash.spec.ts.
import { io, type Socket } from 'socket.io-client';
import type { ActorHandle, ObjectRef } from '../runtime/index.ts';
import type { Page } from '@playwright/test';
import { test, expect, aliveNodeIds, joinAsVolunteer, initHead, runningOn, uniqueClusterName, waitForAlive, waitForDead } from './cluster-helpers.ts';
import { eventWithin } from './wait-helpers.ts';

interface CounterLike {
  incr(): { n: number; bornOn: string; nodeId: string };
}

declare global {
  // Handles and pulls a test keeps in the coordinator page between evaluate calls.
  var e2eActors: ActorHandle<CounterLike>[];
  var e2ePinned: ActorHandle<{ ping(): string | null }> | undefined;
  var e2ePulls: { settled: Record<string, boolean>; results: Promise<string[]> };
}

// Each test starts a cluster of browser contexts and moves real data between them. Alone on this
// 2-core machine a test takes ~5-20 s; with other suites' browsers on it, starting a four-node
// cluster alone took ~23 s and a 16 MB pull ~6 s (measured 2026-12-05): time, not a hang.
test.describe.configure({ timeout: 180_000 });

test('clusterResources() sums the CPUs and custom resources of every node; a node that leaves shows alive: false and the totals drop', async ({ startCluster }) => {
  const c = await startCluster({
    head: { numCpus: 1 },
    volunteers: [
      { numCpus: 2, resources: { alpha: 3 }, label: 'A' },
      { numCpus: 1, resources: { alpha: 1, beta: 2 }, label: 'B' },
    ],
  });
  const [a, b] = c.volunteers as [typeof c.head, typeof c.head];
  const before = await c.head.page.evaluate(() => ({ total: globalThis.ray.clusterResources(), nodes: globalThis.ray.nodes() }));
  expect(before.total).toMatchObject({ CPU: 4, alpha: 4, beta: 2 });
  expect(before.nodes.map((n) => n.nodeId).sort()).toEqual([c.head.nodeId, a.nodeId, b.nodeId].sort());
  const byId = new Map(before.nodes.map((n) => [n.nodeId as string, n]));
  expect(byId.get(c.head.nodeId)).toMatchObject({ alive: true, isCoordinator: true, resources: { CPU: 1 } });
  expect(byId.get(a.nodeId)).toMatchObject({ alive: true, isCoordinator: false, resources: { CPU: 2, alpha: 3 } });
  expect(byId.get(b.nodeId)).toMatchObject({ alive: true, isCoordinator: false, resources: { CPU: 1, alpha: 1, beta: 2 } });
  expect(await b.page.evaluate(() => globalThis.rayNode!.state)).toBe('joined');

  const left = await b.page.evaluate(async () => {
    await globalThis.rayNode!.leave();
    return { state: globalThis.rayNode!.state, closed: globalThis.rayNodeClosed };
  });
  expect(left.state).toBe('left');
  expect(left.closed).toHaveLength(1);
  await waitForDead(c.head.page, b.nodeId);
  const after = await c.head.page.evaluate(() => ({ total: globalThis.ray.clusterResources(), nodes: globalThis.ray.nodes() }));
  expect(after.total).toMatchObject({ CPU: 3, alpha: 3 });
  expect(after.total.beta ?? 0).toBe(0);
  expect(after.nodes.find((n) => n.nodeId === b.nodeId)).toMatchObject({ alive: false });
  expect(after.nodes.filter((n) => n.alive)).toHaveLength(2);

  // The same tab may join again: a new node id, and the totals come back.
  const again = await joinAsVolunteer(b.page, c.name, c.token, { numCpus: 1, resources: { beta: 5 } });
  expect(again).not.toBe(b.nodeId);
  await waitForAlive(c.head.page, [c.head.nodeId, a.nodeId, again]);
  expect(await c.head.page.evaluate(() => globalThis.ray.clusterResources())).toMatchObject({ CPU: 4, alpha: 3, beta: 5 });
});

test('SPREAD places tasks on every node of the cluster, the coordinator included', async ({ startCluster }) => {
  const c = await startCluster({ volunteers: [{}, {}, {}] });
  const ranOn = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    // A quarter CPU each: every node has room for all the tasks it gets at once, so where they go
    // is SPREAD's rotation alone, not which node happened to free a CPU first. (DEFAULT, which
    // packs, would put four on each of two nodes.)
    const where = ray.remote({ schedulingStrategy: 'SPREAD', numCpus: 0.25 }, (i: number) => {
      return { i, nodeId: ray.getRuntimeContext().nodeId as string };
    });
    return ray.get(Array.from({ length: 8 }, (_, i) => where.remote(i)));
  });
  expect(ranOn.map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  const counts = new Map<string, number>();
  for (const r of ranOn) counts.set(r.nodeId, (counts.get(r.nodeId) ?? 0) + 1);
  expect([...counts.keys()].sort()).toEqual([c.head.nodeId, ...c.volunteers.map((v) => v.nodeId)].sort());
  // Spread evenly: 8 tasks over 4 nodes.
  expect([...counts.values()]).toEqual([2, 2, 2, 2]);
});

test('custom resources pin tasks and actors to the one node that offers them', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 2 }, volunteers: [{ numCpus: 2 }, { numCpus: 2, resources: { pinme: 2 } }, { numCpus: 2 }] });
  const pinned = c.volunteers[1]!.nodeId;
  const out = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const where = ray.remote({ resources: { pinme: 1 } }, async () => {
      await new Promise((r) => setTimeout(r, 50));
      return ray.getRuntimeContext().nodeId as string;
    });
    const Where = ray.remote(
      class Where {
        at() {
          return ray.getRuntimeContext().nodeId as string;
        }
      },
    );
    const actor = Where.options({ resources: { pinme: 1 } }).remote();
    return { tasks: await ray.get(Array.from({ length: 6 }, () => where.remote())), actor: await ray.get(actor.at.remote()) };
  });
  expect(out.tasks).toEqual(Array(6).fill(pinned));
  expect(out.actor).toBe(pinned);
});

test('a 16 MB array made on one volunteer is pulled peer-to-peer by a task on another, and by ray.get in the driver', async ({ startCluster }) => {
  const c = await startCluster({ volunteers: [{ resources: { maker: 1 } }, { resources: { user: 1 } }] });
  const [maker, user] = c.volunteers as [typeof c.head, typeof c.head];
  const n = 2 * 1024 * 1024; // 16 MiB of float64
  let expectedSum = 0;
  for (let i = 0; i < n; i++) expectedSum += i % 1000;
  const out = await c.head.page.evaluate(async (n) => {
    const ray = globalThis.ray;
    const make = ray.remote({ resources: { maker: 1 }, numReturns: 2 }, (n: number) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = i % 1000;
      return [ray.getRuntimeContext().nodeId as string, a];
    });
    const use = ray.remote({ resources: { user: 1 } }, (a: Float64Array) => {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += a[i]!;
      return { nodeId: ray.getRuntimeContext().nodeId as string, isFloat64Array: a instanceof Float64Array, length: a.length, sum, at999: a[999], at1000: a[1000] };
    });
    const [madeOnRef, big] = make.remote(n) as unknown as [ObjectRef<string>, ObjectRef<Float64Array>];
    // Keep the ref reachable after this evaluate returns: an unreachable ref frees its object,
    // and the maker's store is inspected below.
    (globalThis as unknown as { keepBig: unknown }).keepBig = big;
    const madeOn = await ray.get(madeOnRef);
    const used = await ray.get(use.remote(big));
    const local = await ray.get(big);
    let sum = 0;
    for (let i = 0; i < local.length; i++) sum += local[i]!;
    return { madeOn, used, driver: { isFloat64Array: local instanceof Float64Array, length: local.length, sum } };
  }, n);
  expect(out.madeOn).toBe(maker.nodeId);
  expect(out.used).toEqual({ nodeId: user.nodeId, isFloat64Array: true, length: n, sum: expectedSum, at999: 999, at1000: 0 });
  expect(out.driver).toEqual({ isFloat64Array: true, length: n, sum: expectedSum });
  // The array stayed in the maker's store (too big to go inline through the coordinator)...
  expect(await maker.page.evaluate(() => globalThis.rayNode!.stats().memoryBytes)).toBeGreaterThanOrEqual(n * 8);
  // ...and crossed to the user's node over a data channel between the two volunteers.
  const received = await user.page.evaluate(() => globalThis.rayNode!.stats().bytesReceived);
  const sent = await maker.page.evaluate(() => globalThis.rayNode!.stats().bytesSent);
  expect(received).toBeGreaterThanOrEqual(n * 8);
  expect(sent).toBeGreaterThanOrEqual(2 * n * 8);
});

test('a ray.util.Queue made by the driver is shared with a producer task on a volunteer (Ray test_queue across nodes)', async ({ startCluster }) => {
  const c = await startCluster({ volunteers: [{ resources: { producer: 1 } }] });
  const out = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const q = new ray.util.Queue<string>({ maxsize: 1 });
    const producer = ray.remote({ resources: { producer: 1 } }, async (queue: typeof q, n: number) => {
      const node = String(ray.getRuntimeContext().nodeId);
      for (let i = 0; i < n; i++) await queue.put(`${i}@${node}`);
      return node;
    });
    const done = producer.remote(q, 4);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await q.get({ timeoutMs: 30_000 }));
    return { got, node: await ray.get(done) };
  });
  expect(out.node).toBe(c.volunteers[0]!.nodeId);
  expect(out.got).toEqual([0, 1, 2, 3].map((i) => `${i}@${out.node}`));
});

test("nested tasks, put, get and wait inside a volunteer's task work as in local mode", async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 2, resources: { outer: 1 } }, { numCpus: 1 }] });
  const vol = c.volunteers[0]!.nodeId;
  const out = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const square = ray.remote(async (x: number) => {
      await new Promise((r) => setTimeout(r, 30));
      return { sq: x * x, nodeId: ray.getRuntimeContext().nodeId as string };
    });
    const outer = ray.remote({ resources: { outer: 1 }, scope: { square } }, async (n: number) => {
      const refs = Array.from({ length: n }, (_, i) => square.remote(i));
      const [ready, notReady] = await ray.wait(refs, { numReturns: n });
      const squares = await ray.get(refs);
      const sumRef = ray.remote((xs: number[]) => xs.reduce((s, x) => s + x, 0)).remote(squares.map((s) => s.sq));
      const big = ray.put(new Float64Array(50_000).fill(2)); // 400 KB: stays on this node
      const back = await ray.get(big);
      const small = ray.put({ hello: 'world' });
      return {
        nodeId: ray.getRuntimeContext().nodeId as string,
        squares: squares.map((s) => s.sq),
        innerNodes: squares.map((s) => s.nodeId),
        waited: [ready.length, notReady.length],
        sum: await ray.get(sumRef),
        bigSum: back.reduce((s, x) => s + x, 0),
        small: await ray.get(small),
        // Refs made in the volunteer's worker, handed back to the driver.
        refs: [big, small],
      };
    });
    const r = await ray.get(outer.remote(6));
    const [big, small] = r.refs as [ObjectRef<Float64Array>, ObjectRef<{ hello: string }>];
    const driverBig = await ray.get(big);
    return { ...r, refs: undefined, driverBigLength: driverBig.length, driverBigSum: driverBig.reduce((s, x) => s + x, 0), driverSmall: await ray.get(small) };
  });
  expect(out.nodeId).toBe(vol);
  expect(out.squares).toEqual([0, 1, 4, 9, 16, 25]);
  expect(out.waited).toEqual([6, 0]);
  expect(out.sum).toBe(55);
  expect(out.bigSum).toBe(100_000);
  expect(out.small).toEqual({ hello: 'world' });
  expect(out.driverBigLength).toBe(50_000);
  expect(out.driverBigSum).toBe(100_000);
  expect(out.driverSmall).toEqual({ hello: 'world' });
  for (const id of out.innerNodes) expect([c.head.nodeId, ...c.volunteers.map((v) => v.nodeId)]).toContain(id);
});

test('a wrong token, a second coordinator and a join to a cluster with no coordinator are refused with clear errors', async ({ startCluster, openPage }) => {
  const c = await startCluster({ head: { numCpus: 1, resources: { secretsauce: 7 } }, volunteers: [{}] });
  const { page } = await openPage('/join');
  const attempt = (fn: string, opts: Record<string, unknown>) =>
    page.evaluate(
      async ({ fn, opts }) => {
        const ray = globalThis.ray;
        const call = fn === 'init' ? ray.init({ ...opts, address: location.origin }) : ray.join({ ...opts, address: location.origin } as Parameters<typeof ray.join>[0]);
        return call.then(
          () => ({ ok: true, message: '', isInitialized: ray.isInitialized() }),
          (e: Error) => ({ ok: false, message: e.message, isInitialized: ray.isInitialized() }),
        );
      },
      { fn, opts },
    );

  const wrong = await attempt('join', { cluster: c.name, token: 'not-the-token', numCpus: 1, numGpus: 0 });
  expect(wrong.ok).toBe(false);
  expect(wrong.message).toMatch(/token/i);
  // Nothing about the cluster: not its token, its nodes, their resources or how many there are.
  for (const secret of [c.token, c.head.nodeId, c.volunteers[0]!.nodeId, 'secretsauce', 'CPU']) expect(wrong.message).not.toContain(secret);
  expect(wrong.message).not.toMatch(/\b[12] (nodes?|members?)\b/);

  const second = await attempt('init', { cluster: c.name, token: c.token, numCpus: 1, numGpus: 0 });
  expect(second.ok).toBe(false);
  expect(second.message).toMatch(/coordinator/i);
  expect(second.isInitialized).toBe(false);

  const orphan = await attempt('join', { cluster: `${c.name}-nobody`, token: c.token, numCpus: 1, numGpus: 0 });
  expect(orphan.ok).toBe(false);
  expect(orphan.message).toMatch(/no coordinator/i);

  // The refused tab is left idle (it can still join with the right token), and the cluster never listed it.
  expect(await c.head.page.evaluate(() => globalThis.ray.nodes().length)).toBe(2);
  const ok = await attempt('join', { cluster: c.name, token: c.token, numCpus: 1, numGpus: 0 });
  expect(ok).toMatchObject({ ok: true });
  await expect.poll(() => c.head.page.evaluate(() => globalThis.ray.nodes().filter((n) => n.alive).length)).toBe(3);
});

test('a volunteer closed mid-job costs time, not results: its tasks are retried and it is marked dead at once', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 2 }, { numCpus: 2 }] });
  const victim = c.volunteers[1]!;
  await c.head.page.evaluate((victimId) => {
    const ray = globalThis.ray;
    const work = ray.remote({ name: 'work' }, async (i: number, victimId: string) => {
      // On the victim a task runs until the page closes, however long the test takes to close it.
      if (ray.getRuntimeContext().nodeId === victimId) await new Promise(() => {});
      await new Promise((r) => setTimeout(r, 600)); // work, keeping the other nodes busy
      return { sq: i * i, nodeId: ray.getRuntimeContext().nodeId as string };
    });
    globalThis.e2eRefs = Array.from({ length: 15 }, (_, i) => work.remote(i, victimId));
  }, victim.nodeId);
  await expect
    .poll(() => runningOn(c.head.page, victim.nodeId), { intervals: [50], message: 'tasks running on the victim' })
    .not.toEqual([]);
  const runningThere = await runningOn(c.head.page, victim.nodeId);
  await victim.page.close();
  const deadAfterMs = await waitForDead(c.head.page, victim.nodeId);
  test.info().annotations.push({ type: 'marked dead after page.close()', description: `${deadAfterMs} ms` });
  // "At once": from the closed socket, not the 6 s heartbeat timeout. Typically ~20 ms.
  expect(deadAfterMs).toBeLessThan(5_000);
  const out = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const results = (await ray.get(globalThis.e2eRefs)) as { sq: number; nodeId: string }[];
    return { results, table: (await ray.tasks()).filter((t) => t.name === 'work') };
  });
  expect(out.results.map((r) => r.sq)).toEqual(Array.from({ length: 15 }, (_, i) => i * i));
  for (const id of runningThere) {
    const t = out.table.find((x) => x.taskId === id)!;
    expect(t.state).toBe('FINISHED');
    expect(t.nodeId).not.toBe(victim.nodeId);
    expect(t.attempts).toBeGreaterThanOrEqual(2);
  }
});

test('an actor whose node leaves restarts elsewhere within maxRestarts (its constructor runs again); with 0 its calls reject ActorDiedError', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 2 }, { numCpus: 1 }] });
  const leaving = c.volunteers[0]!;
  const before = await c.head.page.evaluate(async (host) => {
    const ray = globalThis.ray;
    const Counter = ray.remote(
      class Counter {
        n = 0;
        bornOn = ray.getRuntimeContext().nodeId as string;
        incr() {
          this.n += 1;
          return { n: this.n, bornOn: this.bornOn, nodeId: ray.getRuntimeContext().nodeId as string };
        }
      },
    );
    const strategy = { nodeId: host, soft: true };
    const restartable = Counter.options({ maxRestarts: 1, schedulingStrategy: strategy }).remote();
    const mortal = Counter.options({ maxRestarts: 0, schedulingStrategy: strategy }).remote();
    globalThis.e2eActors = [restartable, mortal];
    await ray.get(restartable.incr.remote());
    return { restartable: await ray.get(restartable.incr.remote()), mortal: await ray.get(mortal.incr.remote()) };
  }, leaving.nodeId);
  expect(before.restartable).toEqual({ n: 2, bornOn: leaving.nodeId, nodeId: leaving.nodeId });
  expect(before.mortal).toEqual({ n: 1, bornOn: leaving.nodeId, nodeId: leaving.nodeId });

  await leaving.page.evaluate(() => globalThis.rayNode!.leave());
  await waitForDead(c.head.page, leaving.nodeId);
  const after = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const [restartable, mortal] = globalThis.e2eActors;
    const restarted = await ray.get(restartable!.incr.remote());
    const again = await ray.get(restartable!.incr.remote());
    const died = await ray.get(mortal!.incr.remote()).then(
      () => 'resolved',
      (e: Error) => (e instanceof ray.ActorDiedError ? 'ActorDiedError' : `${e.name}: ${e.message}`),
    );
    return { restarted, again, died };
  });
  expect(after.restarted.n).toBe(1); // fresh state: the constructor ran again
  expect(after.restarted.bornOn).not.toBe(leaving.nodeId);
  expect(after.restarted.nodeId).toBe(after.restarted.bornOn);
  expect([c.head.nodeId, c.volunteers[1]!.nodeId]).toContain(after.restarted.nodeId);
  expect(after.again).toEqual({ ...after.restarted, n: 2 });
  expect(after.died).toBe('ActorDiedError');
});

test('an actor pinned (soft: false) to a volunteer that left cannot be placed again: its calls reject ActorDiedError saying so, instead of waiting forever', async ({ startCluster }) => {
  const c = await startCluster({ volunteers: [{}] });
  const host = c.volunteers[0]!;
  const first = await c.head.page.evaluate(async (host) => {
    const ray = globalThis.ray;
    const Pinned = ray.remote(
      class Pinned {
        ping() {
          return ray.getRuntimeContext().nodeId;
        }
      },
    );
    const a = Pinned.options({ maxRestarts: 1, schedulingStrategy: { nodeId: host, soft: false } }).remote();
    globalThis.e2ePinned = a;
    return ray.get(a.ping.remote());
  }, host.nodeId);
  expect(first).toBe(host.nodeId);
  await host.page.evaluate(() => globalThis.rayNode!.leave());
  await waitForDead(c.head.page, host.nodeId);
  const after = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    return ray.get(globalThis.e2ePinned!.ping.remote(), { timeoutMs: 20_000 }).then(
      () => 'resolved',
      (e: Error) => `${e instanceof ray.ActorDiedError} ${e.message}`,
    );
  });
  expect(after).toMatch(/^true .*died: it cannot be placed: .*node affinity to node .*, which is dead/);
});

test('an object whose only copy was on a departed volunteer is recomputed from lineage; a put object there raises ObjectLostError', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 1 }, { numCpus: 1 }] });
  const leaving = c.volunteers[0]!;
  const before = await c.head.page.evaluate(async (host) => {
    const ray = globalThis.ray;
    const strategy = { nodeId: host, soft: true };
    const make = ray.remote({ name: 'make', numReturns: 2, schedulingStrategy: strategy }, (n: number) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = i;
      return [ray.getRuntimeContext().nodeId as string, a];
    });
    const putter = ray.remote({ schedulingStrategy: strategy }, () => ({
      nodeId: ray.getRuntimeContext().nodeId as string,
      refs: [ray.put(new Float64Array(100_000).fill(7))], // 800 KB: stays on this node
    }));
    const [madeOn, big] = make.remote(100_000) as unknown as [ObjectRef<string>, ObjectRef<Float64Array>];
    // Ready, but not fetched: the only copy stays on the volunteer.
    await ray.wait([big], { numReturns: 1, fetchLocal: false });
    // After `make`: a soft affinity goes elsewhere while its node is busy.
    const put = await ray.get(putter.remote());
    globalThis.e2eRefs = [big, put.refs[0]!];
    return { madeOn: await ray.get(madeOn), putOn: put.nodeId };
  }, leaving.nodeId);
  expect(before.madeOn).toBe(leaving.nodeId);
  expect(before.putOn).toBe(leaving.nodeId);
  // Both arrays are in the volunteer's store only (too big to go inline through the coordinator).
  expect(await leaving.page.evaluate(() => globalThis.rayNode!.stats().memoryBytes)).toBeGreaterThanOrEqual(1_600_000);

  await leaving.page.evaluate(() => globalThis.rayNode!.leave());
  await waitForDead(c.head.page, leaving.nodeId);
  const after = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const [big, put] = globalThis.e2eRefs;
    const arr = (await ray.get(big!, { timeoutMs: 30_000 })) as Float64Array;
    let ok = arr.length === 100_000;
    for (let i = 0; ok && i < arr.length; i++) ok = arr[i] === i;
    const lost = await ray.get(put!, { timeoutMs: 30_000 }).then(
      () => ({ name: 'resolved', message: '' }),
      (e: Error) => ({ name: e instanceof ray.ObjectLostError ? 'ObjectLostError' : e.name, message: e.message }),
    );
    const make = (await ray.tasks()).filter((t) => t.name === 'make');
    return { ok, lost, make: make.map((t) => ({ state: t.state, nodeId: t.nodeId })) };
  });
  expect(after.ok).toBe(true);
  expect(after.lost.name).toBe('ObjectLostError');
  expect(after.lost.message).toMatch(/put/);
  // It ran again, elsewhere.
  expect(after.make.some((t) => t.state === 'FINISHED' && t.nodeId !== leaving.nodeId)).toBe(true);
});

test('a volunteer closing while its 32 MB result is being pulled: the driver, a task argument and a get inside a task all receive the recomputed value', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 1 }, { numCpus: 2, resources: { user: 2 } }] });
  const [maker, user] = c.volunteers as [typeof c.head, typeof c.head];
  const n = 4 * 1024 * 1024;
  await c.head.page.evaluate(
    async ({ host, n }) => {
      const ray = globalThis.ray;
      const make = ray.remote({ name: 'make', schedulingStrategy: { nodeId: host, soft: true } }, (n: number) => {
        const a = new Float64Array(n);
        for (let i = 0; i < n; i++) a[i] = i;
        return a;
      });
      const big = make.remote(n);
      await ray.wait([big], { numReturns: 1, fetchLocal: false });
      globalThis.e2eRefs = [big];
    },
    { host: maker.nodeId, n },
  );
  const receivedBefore = await user.page.evaluate(() => globalThis.rayNode!.stats().bytesReceived);
  // Three pulls at once from the maker: the driver's get, a task's argument, a get in a task.
  await c.head.page.evaluate(() => {
    const ray = globalThis.ray;
    const big = globalThis.e2eRefs[0] as ObjectRef<Float64Array>;
    const check = (a: Float64Array) => {
      let ok = a.length > 0;
      for (let i = 0; ok && i < a.length; i++) ok = a[i] === i;
      return `${a.length} ${ok ? 'ok' : 'wrong'}`;
    };
    const asArg = ray.remote({ resources: { user: 1 }, scope: { check } }, (a: Float64Array) => check(a));
    const inside = ray.remote({ resources: { user: 1 }, scope: { check } }, async (refs: ObjectRef<Float64Array>[]) => check(await ray.get(refs[0]!)));
    const settled: Record<string, boolean> = {};
    const track = (name: string, p: Promise<string>) =>
      p.then(
        (v) => ((settled[name] = true), v),
        (e: Error) => ((settled[name] = true), `${e.name}: ${e.message}`),
      );
    globalThis.e2ePulls = {
      settled,
      results: Promise.all([
        track('driver', ray.get(big).then(check)),
        track('arg', ray.get(asArg.remote(big))),
        track('inside', ray.get(inside.remote([big]))),
      ]),
    };
  });
  // Close the maker once the pulls are under way: the user's node has its first MiB of the 32
  // (a transfer takes ~1 s alone, ~12 s on a loaded machine; the close, a few ms).
  await expect
    .poll(() => user.page.evaluate(() => globalThis.rayNode!.stats().bytesReceived), { intervals: [20], message: 'bytes of the pulls received by the user node' })
    .toBeGreaterThan(receivedBefore + 1024 * 1024);
  const settledBeforeClose = await c.head.page.evaluate(() => ({ ...globalThis.e2ePulls.settled }));
  await maker.page.close();
  // The driver's pull (at least) is cut short, or this test proves nothing.
  expect(settledBeforeClose).toEqual({});
  const results = await c.head.page.evaluate(() => globalThis.e2ePulls.results);
  expect(results).toEqual([`${n} ok`, `${n} ok`, `${n} ok`]);
  // And the value they received was recomputed: \`make\` ran again, elsewhere.
  const make = await c.head.page.evaluate(async () => (await globalThis.ray.tasks()).filter((t) => t.name === 'make').map((t) => ({ state: t.state, nodeId: t.nodeId })));
  expect(make.some((t) => t.state === 'FINISHED' && t.nodeId !== maker.nodeId)).toBe(true);
});

test('a task needing a resource no node has stays pending with a reason, and runs once a node with it joins', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 1 }] });
  const pending = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const gpuish = ray.remote({ name: 'gpuish', resources: { gpuish: 1 } }, () => ray.getRuntimeContext().nodeId as string);
    const ref = gpuish.remote();
    globalThis.e2eRefs = [ref];
    const timedOut = await ray.get(ref, { timeoutMs: 500 }).then(
      () => 'resolved',
      (e: Error) => (e instanceof ray.GetTimeoutError ? 'GetTimeoutError' : e.name),
    );
    const t = (await ray.tasks()).find((x) => x.name === 'gpuish');
    return { timedOut, state: t?.state, reason: t?.pendingReason };
  });
  expect(pending.timedOut).toBe('GetTimeoutError');
  expect(pending.state).toBe('PENDING_NODE_ASSIGNMENT');
  expect(pending.reason).toMatch(/gpuish/);

  const gpuNode = await c.join({ numCpus: 1, resources: { gpuish: 1 } });
  const ranOn = await c.head.page.evaluate(() => globalThis.ray.get(globalThis.e2eRefs[0]!, { timeoutMs: 30_000 }));
  expect(ranOn).toBe(gpuNode.nodeId);
});

/** A raw socket.io client in the test process, as any program on the network could open. */
async function rawSocket(url: string): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

function joinReply(s: Socket, req: unknown): Promise<{ ok: boolean; code?: string; message?: string; nodeId?: string }> {
  return s.timeout(5000).emitWithAck('join', req);
}

function disconnected(s: Socket): Promise<string> {
  return s.disconnected ? Promise.resolve('already') : new Promise((resolve) => s.once('disconnect', resolve));
}

test('garbage sent to the server (malformed join and signal payloads, unknown events, junk WebRTC signals) leaves the cluster working', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 1, resources: { vol: 1 } }] });
  const sockets: Socket[] = [];
  try {
    // An outsider: malformed joins are refused without a word about the cluster, then it is dropped.
    const outsider = await rawSocket(c.address);
    sockets.push(outsider);
    const outsiderGone = disconnected(outsider);
    const bad = await joinReply(outsider, 'garbage');
    expect(bad).toMatchObject({ ok: false, code: 'bad_request' });
    const wrong = await joinReply(outsider, { role: 'node', cluster: c.name, token: 'nope', resources: { CPU: 1 }, gpuFallback: false });
    expect(wrong).toMatchObject({ ok: false, code: 'wrong_token' });
    expect(JSON.stringify(wrong)).not.toContain(c.head.nodeId);
    expect(JSON.stringify(wrong)).not.toContain(c.token);
    outsider.emit('signal', { to: c.head.nodeId, data: { type: 'offer', sdp: 'v=0' } });
    outsider.emit('signal', 'not an object');
    outsider.emit('node_left', { nodeId: c.volunteers[0]!.nodeId, reason: 'left' });
    outsider.emit('cluster_closed', { reason: 'spoofed' });
    outsider.emit('hello', { __proto__: { polluted: true } });
    outsider.emit('join', { role: 'coordinator', cluster: c.name, token: c.token, resources: { CPU: 1 }, gpuFallback: false, extra: 1 });
    await eventWithin(outsiderGone, 10_000, 'the server to drop the outsider after its spoofed events');

    // An insider: joins with the right token (so the coordinator expects a link from it), then
    // feeds the coordinator junk WebRTC signals and oversized and malformed payloads.
    const insider = await rawSocket(c.address);
    sockets.push(insider);
    const joined = await joinReply(insider, { role: 'node', cluster: c.name, token: c.token, resources: { CPU: 64 }, gpuFallback: false });
    expect(joined).toMatchObject({ ok: true });
    const junk: unknown[] = [
      'garbage',
      null,
      12,
      [],
      { type: 'offer', sdp: 'v=0\r\nthis is not sdp\r\n' },
      { type: 'answer', sdp: 'v=0' },
      { candidate: { candidate: 'candidate:0 1 UDP 1 999.1.1.1 99999 typ host', sdpMLineIndex: 0, sdpMid: '0' } },
      { candidate: 'not a candidate object' },
      { renegotiate: true },
      { transceiverRequest: { kind: 'video' } },
      JSON.parse('{"__proto__": {"polluted": true}, "type": "offer"}'),
    ];
    for (const data of junk) insider.emit('signal', { to: c.head.nodeId, data });
    insider.emit('signal', { to: c.volunteers[0]!.nodeId, data: { type: 'offer', sdp: 'junk' } });
    insider.emit('signal', { to: c.head.nodeId, data: 'x'.repeat(100_000) }); // over the signal cap
    const insiderGone = disconnected(insider);
    insider.emit('signal', { to: c.head.nodeId, data: 'y'.repeat(2_000_000) }); // over the socket cap
    await eventWithin(insiderGone, 10_000, 'the server to drop the insider after its 2 MB signal');

    // The cluster still works: both real nodes alive, the insider's 64 CPUs never counted, tasks run.
    await waitForAlive(c.head.page, [c.head.nodeId, c.volunteers[0]!.nodeId]);
    const out = await c.head.page.evaluate(async () => {
      const ray = globalThis.ray;
      const where = ray.remote(() => ray.getRuntimeContext().nodeId as string);
      return {
        cpus: ray.clusterResources().CPU,
        onVolunteer: await ray.get(where.options({ resources: { vol: 1 } }).remote(), { timeoutMs: 30_000 }),
        spread: await ray.get([where.options({ schedulingStrategy: 'SPREAD' }).remote(), where.options({ schedulingStrategy: 'SPREAD' }).remote()], { timeoutMs: 30_000 }),
        polluted: ({} as Record<string, unknown>).polluted,
      };
    });
    expect(out.cpus).toBe(2);
    expect(out.onVolunteer).toBe(c.volunteers[0]!.nodeId);
    expect(out.spread.sort()).toEqual([c.head.nodeId, c.volunteers[0]!.nodeId].sort());
    expect(out.polluted).toBeUndefined();
    expect(c.head.errors).toEqual([]);
    expect(c.volunteers[0]!.errors).toEqual([]);
  } finally {
    for (const s of sockets) s.close();
  }
});

test("the coordinator tab closing ends the cluster: volunteers hear it with a message, go idle, and can join a new cluster", async ({ startCluster, openPage }) => {
  const c = await startCluster({ volunteers: [{}, {}] });
  await c.head.page.close();
  for (const v of c.volunteers) {
    await expect.poll(() => v.page.evaluate(() => globalThis.rayNode!.state), { message: 'the volunteer hears the coordinator went away' }).toBe('closed');
    const reasons = await v.page.evaluate(() => globalThis.rayNodeClosed);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/coordinator/);
  }
  // A new coordinator, and the same tabs join it.
  const name = uniqueClusterName();
  const h = await openPage('/');
  const token = `again-${crypto.randomUUID()}`;
  const headId = await initHead(h.page, name, token);
  const ids = [headId];
  for (const v of c.volunteers) ids.push(await joinAsVolunteer(v.page, name, token));
  await waitForAlive(h.page, ids);
  const ranOn = await h.page.evaluate(async () => {
    const ray = globalThis.ray;
    // SPREAD rotates over the three nodes: one task each, however long each takes.
    const where = ray.remote({ schedulingStrategy: 'SPREAD' }, () => ray.getRuntimeContext().nodeId as string);
    return ray.get([where.remote(), where.remote(), where.remote()], { timeoutMs: 30_000 });
  });
  expect(ranOn.sort()).toEqual([...ids].sort());
});

test('a frozen volunteer (main thread blocked) is declared dead by the heartbeat within ~10 s, and its tasks run elsewhere', async ({ startCluster }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 1 }, { numCpus: 1 }] });
  const frozen = c.volunteers[1]!;
  await c.head.page.evaluate((frozenId) => {
    const ray = globalThis.ray;
    const work = ray.remote({ name: 'work', schedulingStrategy: 'SPREAD' }, async (i: number, frozenId: string) => {
      // On the node to freeze a task runs until the node is gone, however long the freeze takes to start.
      if (ray.getRuntimeContext().nodeId === frozenId) await new Promise(() => {});
      await new Promise((r) => setTimeout(r, 1500)); // work
      return i * i;
    });
    globalThis.e2eRefs = Array.from({ length: 6 }, (_, i) => work.remote(i, frozenId));
  }, frozen.nodeId);
  await expect.poll(() => runningOn(c.head.page, frozen.nodeId), { intervals: [50] }).not.toEqual([]);
  const runningThere = await runningOn(c.head.page, frozen.nodeId);
  // 12 s: past both the coordinator's heartbeat timeout (6 s) and the server's ping timeout (~10 s).
  await frozen.page.evaluate('void setTimeout(() => { const t = Date.now(); while (Date.now() - t < 12000) {} }, 0)');
  const deadAfterMs = await waitForDead(c.head.page, frozen.nodeId, 12_000);
  test.info().annotations.push({ type: 'frozen volunteer marked dead after', description: `${deadAfterMs} ms` });
  // The behaviour under test: the coordinator's 6 s heartbeat timeout, before the server's ping
  // timeout (~10 s) could have done it. Typically ~6.8 s after the freeze.
  expect(deadAfterMs).toBeLessThan(10_000);
  const out = await c.head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const results = await ray.get(globalThis.e2eRefs, { timeoutMs: 30_000 });
    return { results, table: (await ray.tasks()).filter((t) => t.name === 'work') };
  });
  expect(out.results).toEqual([0, 1, 4, 9, 16, 25]);
  for (const id of runningThere) {
    const t = out.table.find((x) => x.taskId === id)!;
    expect(t.state).toBe('FINISHED');
    expect(t.nodeId).not.toBe(frozen.nodeId);
  }
  // Once it thaws, the tab knows it is no longer a member (no zombie node), and says why.
  await expect.poll(() => frozen.page.evaluate(() => globalThis.rayNode!.state), { timeout: 20_000 }).toBe('closed');
  expect(await frozen.page.evaluate(() => globalThis.rayNodeClosed)).toHaveLength(1);
  expect(await aliveNodeIds(c.head.page)).toEqual([c.head.nodeId, c.volunteers[0]!.nodeId].sort());
});

test("task code on a volunteer runs on the task origin: it cannot read the volunteer origin's IndexedDB, localStorage or responses, yet keeps a secure context", async ({ startCluster }) => {
  // The second volunteer opts out of isolation: the same probe sees its secrets, so the probe can fail.
  const c = await startCluster({ volunteers: [{ resources: { isolated: 1 } }, { resources: { trusting: 1 }, isolation: 'none' }] });
  for (const v of c.volunteers) {
    await v.page.evaluate(async () => {
      localStorage.setItem('volunteer-secret', 'hunter2');
      await new Promise<void>((resolve, reject) => {
        const req = indexedDB.open('volunteer-secrets', 1);
        req.onupgradeneeded = () => req.result.createObjectStore('kv');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const tx = req.result.transaction('kv', 'readwrite');
          tx.objectStore('kv').put('hunter2', 'password');
          tx.oncomplete = () => {
            req.result.close();
            resolve();
          };
        };
      });
    });
  }
  const out = await c.head.page.evaluate(async (volunteerOrigin) => {
    const ray = globalThis.ray;
    const probe = ray.remote(async (volunteerOrigin: string) => {
      const names = (await indexedDB.databases()).map((d) => d.name);
      const secret = await new Promise<string>((resolve) => {
        const req = indexedDB.open('volunteer-secrets');
        req.onerror = () => resolve(`open failed: ${req.error?.name}`);
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('kv')) {
            db.close();
            resolve('no such store');
            return;
          }
          const get = db.transaction('kv').objectStore('kv').get('password');
          get.onsuccess = () => resolve(String(get.result));
          get.onerror = () => resolve(`read failed: ${get.error?.name}`);
        };
      });
      const fetched = await fetch(`${volunteerOrigin}/config.json`, { credentials: 'include' }).then(
        (r) => `read ${r.status}`,
        (e: Error) => `refused: ${e.name}`,
      );
      const g = globalThis as unknown as { localStorage?: Storage; navigator: Navigator & { gpu?: unknown } };
      return {
        nodeId: ray.getRuntimeContext().nodeId as string,
        origin: location.origin,
        sameOrigin: location.origin === volunteerOrigin,
        listsSecretDb: names.includes('volunteer-secrets'),
        secret,
        localStorage: typeof g.localStorage,
        fetched,
        isSecureContext,
        hasGpu: 'gpu' in g.navigator,
      };
    });
    return {
      isolated: await ray.get(probe.options({ resources: { isolated: 1 } }).remote(volunteerOrigin)),
      trusting: await ray.get(probe.options({ resources: { trusting: 1 } }).remote(volunteerOrigin)),
    };
  }, c.address);
  expect(out.isolated).toMatchObject({ nodeId: c.volunteers[0]!.nodeId, sameOrigin: false, listsSecretDb: false, secret: 'no such store', localStorage: 'undefined', isSecureContext: true, hasGpu: true });
  expect(out.isolated.fetched).toMatch(/^refused/);
  // Control: without isolation the same code reads the page's database (workers never have localStorage).
  expect(out.trusting).toMatchObject({ nodeId: c.volunteers[1]!.nodeId, sameOrigin: true, listsSecretDb: true, secret: 'hunter2' });
});

/** A task pinned to `headId` reports what of the coordinator page's storage it can see. */
function probeCoordinatorStorage(page: Page, headId: string) {
  return page.evaluate(async (headId) => {
    const ray = globalThis.ray;
    const probe = ray.remote(async () => {
      const names = (await indexedDB.databases()).map((d) => d.name);
      const secret = await new Promise<string>((resolve) => {
        const req = indexedDB.open('coordinator-secrets');
        req.onerror = () => resolve(`open failed: ${req.error?.name}`);
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('kv')) {
            db.close();
            resolve('no such store');
            return;
          }
          const get = db.transaction('kv').objectStore('kv').get('password');
          get.onsuccess = () => resolve(String(get.result));
          get.onerror = () => resolve(`read failed: ${get.error?.name}`);
        };
      });
      const g = globalThis as unknown as { localStorage?: Storage };
      return {
        nodeId: ray.getRuntimeContext().nodeId as string,
        origin: location.origin,
        listsSecretDb: names.includes('coordinator-secrets'),
        secret,
        localStorage: typeof g.localStorage,
        answer: 6 * 7,
      };
    });
    const out = await ray.get(probe.options({ schedulingStrategy: { nodeId: headId } }).remote());
    return { ...out, pageOrigin: location.origin, pageSecret: localStorage.getItem('coordinator-secret') };
  }, headId);
}

test("a task pinned to the coordinator's own node runs on the task origin: it cannot read the coordinator page's IndexedDB or localStorage, yet runs and returns", async ({ startCluster }) => {
  const c = await startCluster();
  // Secrets of the coordinator page's origin: a database the page created, and localStorage.
  await c.head.page.evaluate(async () => {
    localStorage.setItem('coordinator-secret', 'hunter2');
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open('coordinator-secrets', 1);
      req.onupgradeneeded = () => req.result.createObjectStore('kv');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const tx = req.result.transaction('kv', 'readwrite');
        tx.objectStore('kv').put('hunter2', 'password');
        tx.oncomplete = () => {
          req.result.close();
          resolve();
        };
      };
    });
  });
  const isolated = await probeCoordinatorStorage(c.head.page, c.head.nodeId);
  // It ran on the head and returned; opening the page's database name opened a new, empty one of
  // the task origin; workers have no localStorage, and the page's own is intact.
  expect(isolated).toMatchObject({ nodeId: c.head.nodeId, answer: 42, listsSecretDb: false, secret: 'no such store', localStorage: 'undefined', pageSecret: 'hunter2' });
  expect(isolated.origin).not.toBe(isolated.pageOrigin);

  // Control: the same probe on a coordinator started with isolation: 'none' reads the page's database,
  // so the probe can fail.
  await c.head.page.evaluate(() => globalThis.ray.shutdown());
  const trustingHead = await initHead(c.head.page, `${c.name}-none`, c.token, { isolation: 'none' });
  const control = await probeCoordinatorStorage(c.head.page, trustingHead);
  expect(control).toMatchObject({ nodeId: trustingHead, answer: 42, listsSecretDb: true, secret: 'hunter2' });
  expect(control.origin).toBe(control.pageOrigin);
});
