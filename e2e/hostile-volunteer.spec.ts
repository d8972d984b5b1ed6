// A hostile volunteer (issue 9, "Tests"): a page that joins a real cluster through the real server,
// opens a real WebRTC link to the coordinator, and then speaks the protocol itself through
// webray's own codec and framing (runtime/testing.ts `__joinHostile`). One test per attack of the
// issue: each is refused and counted (the coordinator's strikes, its console warnings, the link's
// cut-off), the attacker is dropped when it should be, and a job running at the same time on an
// honest volunteer finishes with correct results. Then protocol-agnostic fuzzing: random frames,
// replays of what it received, and mutated frames of its own, for a few seconds, against the
// coordinator and the honest volunteer while the job runs.
//
// The tests share one cluster (coordinator + honest volunteer) and run in order; the hostile page
// joins again (a new member) whenever the previous one was dropped.
import type { Page } from '@playwright/test';
import type { PeerMessage } from '../runtime/protocol/peer-messages.ts';
import { test, expect } from './cluster-helpers.ts';
import {
  finishHonestJob,
  joinHostile,
  receivedOfType,
  startHonestJob,
  startHostileCluster,
  strikesOf,
  waitForDropped,
  waitForStrikes,
  type HostileCluster,
} from './hostile-helpers.ts';

test.describe.configure({ mode: 'serial', timeout: 60_000 });

let c: HostileCluster;
/** The hostile member of the tests that share it (dropped in 'is dropped at the strike limit'). */
let badId: string;

test.beforeAll(async ({ browser }, info) => {
  c = await startHostileCluster(browser, info.project.use.baseURL!);
});

test.afterAll(async () => {
  await c?.close();
});

test.afterEach(() => {
  // Neither the coordinator nor the honest volunteer ever throws, whatever was sent to them.
  expect(c.errors).toEqual([]);
});

/** Sends PeerMessages from the hostile page to the coordinator, as one framed batch. */
function sendFromBad(page: Page, ...msgs: PeerMessage[]): Promise<void> {
  return page.evaluate((m) => globalThis.hostile!.send(...m), msgs);
}

const toCoordinator = (msg: unknown): PeerMessage => ({ type: 'to_coordinator', msg }) as PeerMessage;
const FORGED = { v: 'FORGED', size: 6 };

/** Puts a small object in the coordinator page and keeps its ref there under `key`; resolves with its id. */
function driverPut(key: string, value: unknown): Promise<string> {
  return c.head.evaluate(({ key, value }) => (globalThis.hostileKeep[key] = globalThis.ray.put(value)).id as string, { key, value });
}

function driverGet(key: string): Promise<unknown> {
  return c.head.evaluate((k) => globalThis.ray.get(globalThis.hostileKeep[k]!), key);
}

/** Submits a task only the hostile member can take (resource `hostile`); resolves with the run_task it received. */
async function taskOnBad(key: string, opts: { maxRetries?: number; withBig?: string } = {}): Promise<{ taskId: string; attempt: number; spec: Record<string, unknown>; args: unknown[] }> {
  const before = (await receivedOfType(c, 'run_task')).length;
  await c.head.evaluate(
    ({ key, maxRetries, withBig }) => {
      const ray = globalThis.ray;
      // Takes nothing the next one needs: the hostile member never finishes it.
      const f = ray.remote({ numCpus: 0, resources: { hostile: 0.01 }, maxRetries }, (x: unknown) => (x ? 'honest' : 'honest'));
      const ref = f.remote(withBig ? globalThis.hostileKeep[withBig] : 0);
      globalThis.hostileKeep[key] = ref;
      void ray.get(ref).catch(() => {});
    },
    { key, maxRetries: opts.maxRetries ?? 0, withBig: opts.withBig },
  );
  await expect.poll(async () => (await receivedOfType(c, 'run_task')).length, { message: 'a run_task at the hostile member' }).toBeGreaterThan(before);
  const run = (await receivedOfType(c, 'run_task'))[before] as { spec: Record<string, unknown> & { taskId: string }; attempt: number; args: unknown[] };
  return { taskId: run.spec.taskId, attempt: run.attempt, spec: run.spec, args: run.args };
}

test('task_done with foreign result ids (a driver put as a return) is refused, counted, fails only that attempt; the put is untouched', async () => {
  badId = await joinHostile(c);
  await startHonestJob(c);
  const mine = await driverPut('mine', { secret: 'the driver’s' });
  const victim = await taskOnBad('victim');
  await sendFromBad(
    c.bad,
    toCoordinator({ type: 'task_done', taskId: victim.taskId, attempt: victim.attempt, workerId: null, startMs: 0, endMs: 1, results: [{ id: mine, size: 6, obj: FORGED }] }),
  );
  await waitForStrikes(c, badId, 1);
  // A malformed completion never wedges its task: the attempt fails (maxRetries 0: the task fails).
  const err = await c.head.evaluate(() => globalThis.ray.get(globalThis.hostileKeep['victim']!).then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`));
  expect(err).toMatch(/malformed report/);
  expect(await driverGet('mine')).toEqual({ secret: 'the driver’s' });
  expect(c.headWarnings.some((w) => w.includes(`refused task_done from node ${badId}`) && w.includes('not the task\'s own return id'))).toBe(true);
  await finishHonestJob(c);
});

test('object_put over an existing object is refused and counted; the object keeps its value', async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  const mine = await driverPut('mine2', 'original');
  await sendFromBad(c.bad, toCoordinator({ type: 'object_put', id: mine, size: 6, obj: FORGED, holder: 'w-hostile' }));
  await waitForStrikes(c, badId, before + 1);
  expect(c.headWarnings.some((w) => w.includes(`refused object_put from node ${badId}`) && w.includes('existing object'))).toBe(true);
  expect(await driverGet('mine2')).toBe('original');
  await finishHonestJob(c);
});

test("refs released for the driver's holder are refused and counted; the driver's object lives on", async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  const mine = await driverPut('mine3', [1, 2, 3]);
  await sendFromBad(c.bad, toCoordinator({ type: 'refs', holder: 'driver', release: [mine] }));
  await waitForStrikes(c, badId, before + 1);
  expect(c.headWarnings.some((w) => w.includes(`refused refs from node ${badId}`) && w.includes('"driver"'))).toBe(true);
  expect(await c.head.evaluate((id) => globalThis.rayTest.__coordinatorProbe().locate(id), mine)).toBeDefined();
  expect(await driverGet('mine3')).toEqual([1, 2, 3]);
  await finishHonestJob(c);
});

test('object_located for an object it was never told to pull is refused and counted; it is not listed as a source', async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  // 400 KB: kept in the coordinator's node store, not inline, so its sources matter.
  const big = await c.head.evaluate(() => (globalThis.hostileKeep['big'] = globalThis.ray.put(new Float64Array(50_000).fill(3))).id as string);
  await sendFromBad(c.bad, toCoordinator({ type: 'object_located', id: big }));
  await waitForStrikes(c, badId, before + 1);
  const at = await c.head.evaluate((id) => globalThis.rayTest.__coordinatorProbe().locate(id), big);
  expect(at).toEqual({ inline: false, nodes: [c.headId] });
  await finishHonestJob(c);
});

test('task_done for tasks not assigned to it (an honest task, an unknown one) is refused and counted; the honest results stand', async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  let honestTask = '';
  await expect
    .poll(async () => (honestTask = await c.head.evaluate(async (honest) => ((await globalThis.ray.tasks()).find((t) => t.nodeId === honest)?.taskId as string) ?? '', c.honestId)), {
      message: 'a task of the honest job placed on the honest volunteer',
    })
    .not.toBe('');
  const forge = (taskId: string) => toCoordinator({ type: 'task_done', taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: `${taskId}.0`, size: 6, obj: FORGED }] });
  await sendFromBad(c.bad, forge(honestTask), forge('t-never-submitted'));
  await waitForStrikes(c, badId, before + 2);
  expect(c.headWarnings.filter((w) => w.includes(`refused task_done from node ${badId}`) && w.includes('not assigned to this node')).length).toBeGreaterThanOrEqual(2);
  await finishHonestJob(c);
});

test('a submit with a numReturns bomb is refused before it costs anything: over the cap by the wire check, under it by the capability check', async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  const running = await taskOnBad('bombHost');
  const bomb = (numReturns: number, taskId: string) =>
    toCoordinator({ type: 'client_request', reqId: 7, taskId: null, holder: 'w-hostile', req: { type: 'submit', spec: { ...running.spec, taskId, numReturns } } });
  const t0 = Date.now();
  await sendFromBad(c.bad, bomb(2_000_000, 't-bomb-1'));
  await expect.poll(() => c.headWarnings.some((w) => w.includes('malformed message') && w.includes('numReturns'))).toBe(true);
  // Within the cap (10,000) the wire lets it through; the coordinator refuses it (no task of the sender asked).
  await sendFromBad(c.bad, bomb(10_000, 't-bomb-2'));
  await waitForStrikes(c, badId, before + 1);
  const replies = (await receivedOfType(c, 'client_reply')) as { reqId: number; ok: boolean; error?: { name: string; message: string } }[];
  expect(replies.filter((r) => r.reqId === 7).map((r) => r.error?.name)).toEqual(['PermissionError']);
  // The coordinator tab stayed responsive (the issue measured a 6.6 s block for numReturns 2e6).
  expect(Date.now() - t0).toBeLessThan(5_000);
  await finishHonestJob(c);
});

test('requests beyond a volunteer’s powers (tasks, timeline, clusterView for no task of its own) are refused; listing is an error, not a strike', async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  const running = await taskOnBad('powersHost');
  const req = (reqId: number, taskId: string | null, r: unknown) => toCoordinator({ type: 'client_request', reqId, taskId, holder: 'w-hostile', req: r });
  await sendFromBad(
    c.bad,
    req(21, running.taskId, { type: 'tasks' }),
    req(22, null, { type: 'tasks' }),
    req(23, null, { type: 'clusterView' }),
    req(24, 't-not-mine', { type: 'timeline' }),
    // On behalf of its own running task, clusterView is allowed: the totals and its own entry only.
    req(25, running.taskId, { type: 'clusterView' }),
  );
  await expect.poll(async () => ((await receivedOfType(c, 'client_reply')) as { reqId: number }[]).filter((r) => r.reqId >= 21 && r.reqId <= 25).length).toBe(5);
  const replies = (await receivedOfType(c, 'client_reply')) as { reqId: number; ok: boolean; value?: { nodes?: { nodeId: string }[] }; error?: { name: string; message: string } }[];
  const byId = new Map(replies.map((r) => [r.reqId, r]));
  for (const id of [21, 22, 23, 24]) expect(byId.get(id)).toMatchObject({ ok: false, error: { name: 'PermissionError' } });
  expect(byId.get(21)!.error!.message).toMatch(/driver's power/);
  expect(byId.get(25)!.ok).toBe(true);
  expect(JSON.stringify(byId.get(25)!.value)).not.toContain(c.honestId);
  // tasks/timeline: honest task code may ask, so only clusterView-for-no-task counts.
  await waitForStrikes(c, badId, before + 1);
  await finishHonestJob(c);
});

test('is dropped at the strike limit: its link closes, the coordinator lists it as gone, the job finishes', async () => {
  await startHonestJob(c);
  const before = await strikesOf(c, badId);
  expect(before).toBeLessThan(10);
  await sendFromBad(c.bad, ...Array.from({ length: 10 - before }, (_, i) => toCoordinator({ type: 'task_blocked', taskId: `t-forged-${i}` })));
  await waitForDropped(c, badId);
  await expect.poll(() => c.bad.evaluate(() => globalThis.hostile!.closedReason)).toBeDefined();
  expect(c.headWarnings.some((w) => w.includes('strike 10 of 10'))).toBe(true);
  await finishHonestJob(c);
});

test('a pull flood (200 pulls of a granted object, 20 of objects never granted) gets at most one copy and the link cut off', async () => {
  const id = await joinHostile(c);
  await startHonestJob(c);
  const big = await c.head.evaluate(() => (globalThis.hostileKeep['big4'] = globalThis.ray.put(new Float64Array(512 * 1024).fill(4))).id as string); // 4 MiB
  await taskOnBad('puller', { withBig: 'big4' }); // the coordinator granted it one pull of big4
  await c.bad.evaluate((big) => {
    const h = globalThis.hostile!;
    h.send(...Array.from({ length: 200 }, (_, i) => ({ type: 'pull', reqId: i + 1, id: big }) as PeerMessage));
    h.send(...Array.from({ length: 20 }, (_, i) => ({ type: 'pull', reqId: 1000 + i, id: `${big}-not-granted-${i}` }) as PeerMessage));
  }, big);
  await waitForDropped(c, id);
  const got = await c.bad.evaluate(() => globalThis.hostile!.received.filter((m) => m.type === 'pull_ok').length);
  expect(got).toBeLessThanOrEqual(1);
  // Duplicates of the pull in flight are refused (pull_err); the 16 waiting per peer and the ungranted ones are strikes.
  expect(c.headWarnings.some((w) => w.includes('a refused pull') && w.includes('MAX_QUEUED_PULLS_PER_PEER'))).toBe(true);
  expect(c.headWarnings.some((w) => w.includes('a refused pull') && w.includes('strike 10 of 10'))).toBe(true);
  await finishHonestJob(c);
});

test('garbage frames are strikes on the link: the coordinator and the honest volunteer cut it off', async () => {
  const id = await joinHostile(c);
  await startHonestJob(c);
  const toHonest = await c.bad.evaluate(async (honest) => {
    const h = globalThis.hostile!;
    const side = await h.linkTo(honest as never);
    const garbage = () => crypto.getRandomValues(new Uint8Array(64 + Math.floor(Math.random() * 512)));
    for (let i = 0; i < 12; i++) {
      h.sendFrame(garbage());
      side.sendFrame(garbage());
    }
    const t0 = performance.now();
    while (side.closedReason === undefined && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    return side.closedReason;
  }, c.honestId);
  expect(toHonest).toBeDefined();
  await waitForDropped(c, id);
  // Random bytes are mostly a frame with an unknown lane; now and then one parses as a whole
  // frame and fails as a message instead (undecodable, over budget, malformed): each is a strike.
  const garbageStrike = (w: string) => /dropping (a malformed frame|an undecodable message|a message over its decode budget|a malformed message)/.test(w) && w.includes(`from ${id} (strike 10 of 10)`);
  expect(c.headWarnings.some(garbageStrike)).toBe(true);
  expect(c.honestWarnings.some(garbageStrike)).toBe(true);
  expect(await c.honest.evaluate(() => globalThis.rayNode!.state)).toBe('joined');
  await finishHonestJob(c);
});

test('a claim of more CPUs than a browser has (257) is refused at join', async () => {
  const refused = await c.bad.evaluate(async ({ name, token }) => {
    globalThis.hostile?.leave();
    globalThis.hostile = undefined;
    return globalThis.rayTest.__joinHostile({ address: location.origin, cluster: name, token, resources: { CPU: 257 } }).then(
      () => 'joined',
      (e: Error) => e.message,
    );
  }, { name: c.name, token: c.token });
  expect(refused).toMatch(/CPU must be <=256/);
});

test('a member that claims the most CPUs (256) and runs nothing cannot hold a DEFAULT job back: its tasks get straggler copies on honest nodes', async () => {
  // It draws most of the job (DEFAULT fills the head's and the honest volunteer's one CPU each,
  // then the 256 it claims), answers heartbeats and never reports a task. Once a task has run there
  // past its patience (STRAGGLER_MIN_MS: the function's tasks finish at once elsewhere), a copy runs
  // on a node with room and its result is the task's.
  const id = await joinHostile(c, { CPU: 256 });
  try {
    const out = await c.head.evaluate(async () => {
      const ray = globalThis.ray;
      const f = ray.remote((k: number) => k * 2);
      const refs = Array.from({ length: 8 }, (_, k) => f.remote(k));
      const t0 = performance.now();
      const values = await ray.get(refs, { timeoutMs: 60_000 });
      return { values, ms: Math.round(performance.now() - t0), tasks: await ray.tasks() };
    });
    expect(out.values).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    const sentToLiar = (await receivedOfType(c, 'run_task')).length;
    console.log(`a 256-CPU liar was sent ${sentToLiar} of the 8 tasks; the job finished in ${out.ms} ms through straggler copies`);
    expect(sentToLiar).toBeGreaterThan(0);
    // Every task the liar held was finished elsewhere, and the liar was told to stop it.
    expect(out.tasks.filter((t) => t.nodeId === id)).toEqual([]);
    await expect.poll(async () => (await receivedOfType(c, 'cancel_task')).length, { message: 'a cancel_task per task the liar held' }).toBe(sentToLiar);
  } finally {
    await c.bad.evaluate(() => globalThis.hostile?.leave());
    await waitForDropped(c, id);
  }
});

test('a member that returns wrong results for verified tasks (replicas: 3) is outvoted by the honest two, and quarantined at its second mismatch', async () => {
  const id = await joinHostile(c, { CPU: 1 });
  // It answers every task it is sent at once, with a made-up value and hash.
  await c.bad.evaluate(() => {
    const h = globalThis.hostile!;
    let seen = 0;
    const timer = setInterval(() => {
      if (h.closedReason !== undefined) return clearInterval(timer);
      const runs = h.received.map((m) => (m.type === 'to_node' ? m.msg : m)).filter((m) => m.type === 'run_task') as unknown as { spec: { taskId: string }; attempt: number }[];
      for (; seen < runs.length; seen++) {
        const r = runs[seen]!;
        const results = [{ id: `${r.spec.taskId}.0`, size: 8, obj: { v: 666, size: 8 }, sha256: 'f'.repeat(64) }];
        h.send({ type: 'to_coordinator', msg: { type: 'task_done', taskId: r.spec.taskId, attempt: r.attempt, workerId: null, startMs: 0, endMs: 1, results } } as never);
      }
    }, 10);
  });
  try {
    const double = (k: number) =>
      c.head.evaluate((k) => globalThis.ray.get(globalThis.ray.remote({ replicas: 3 }, (x: number) => x * 2).remote(k), { timeoutMs: 30_000 }), k);
    const liarRecord = () => c.head.evaluate((liar) => {
      const n = globalThis.ray.nodes().find((x) => x.nodeId === liar)!;
      return { mismatches: n.mismatches, quarantined: n.quarantined };
    }, id);
    expect(await double(21)).toBe(42);
    // Its report may come after the honest two agreed: it is judged against the result all the same.
    await expect.poll(liarRecord, { message: 'the liar’s first mismatch' }).toEqual({ mismatches: 1, quarantined: false });
    expect(await double(50)).toBe(100);
    expect((await receivedOfType(c, 'run_task')).length).toBe(2);
    await waitForDropped(c, id);
    const nodes = await c.head.evaluate(() => globalThis.ray.nodes().map((n) => ({ nodeId: n.nodeId, verified: n.verified, mismatches: n.mismatches, quarantined: n.quarantined })));
    expect(nodes.find((n) => n.nodeId === id)).toMatchObject({ mismatches: 2, quarantined: true });
    expect(nodes.find((n) => n.nodeId === c.honestId)?.verified).toBeGreaterThanOrEqual(2);
    expect(nodes.find((n) => n.nodeId === c.headId)?.verified).toBeGreaterThanOrEqual(2);
    expect(c.headWarnings.some((w) => w.includes(`quarantining node ${id}`))).toBe(true);
  } finally {
    await c.bad.evaluate(() => globalThis.hostile?.leave());
  }
});

test('fuzzing: random frames, replays of received frames and mutated frames of its own, for 4 s, while a job runs: nobody crashes or hangs, the job finishes', async () => {
  await joinHostile(c);
  await startHonestJob(c);
  const stats = await c.bad.evaluate(
    async ({ name, token, honest, ms }) => {
      const counts = { random: 0, replayed: 0, mutated: 0, rejoins: 0 };
      const rand = (n: number) => Math.floor(Math.random() * n);
      // Frames earlier members received (run_task, expect_pulls, heartbeats…), replayed by later ones too.
      const replayPool: Uint8Array[] = [];
      const join = async () => {
        if (globalThis.hostile) replayPool.push(...globalThis.hostile.receivedFrames.slice(0, 200));
        globalThis.hostile?.leave();
        globalThis.hostile = await globalThis.rayTest.__joinHostile({ address: location.origin, cluster: name, token, resources: { CPU: 1, hostile: 1 } });
        counts.rejoins++;
        return { h: globalThis.hostile, side: await globalThis.hostile.linkTo(honest as never).catch(() => undefined) };
      };
      let { h, side } = await join();
      // What an honest node would send: mutate random bytes of its frames.
      const honestLooking: unknown[] = [
        [{ type: 'pong', n: 1 }],
        [{ type: 'to_coordinator', msg: { type: 'node_stats', memoryBytes: 1, spilledBytes: 0, objects: 1, budgetBytes: 1 << 20 } }],
        [{ type: 'to_coordinator', msg: { type: 'task_blocked', taskId: 't-x' } }],
        [{ type: 'pull', reqId: 1, id: 'o-x' }],
      ];
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        if (h.closedReason !== undefined) ({ h, side } = await join());
        const target = side && side.closedReason === undefined && Math.random() < 0.3 ? side : h;
        const kind = rand(3);
        if (kind === 0) {
          target.sendFrame(crypto.getRandomValues(new Uint8Array(1 + rand(2048))));
          counts.random++;
        } else if (kind === 1 && replayPool.length + h.receivedFrames.length > 0) {
          const i = rand(replayPool.length + h.receivedFrames.length);
          target.sendFrame(i < replayPool.length ? replayPool[i]! : h.receivedFrames[i - replayPool.length]!);
          counts.replayed++;
        } else {
          for (const f of target.framesOf(honestLooking[rand(honestLooking.length)])) {
            const m = f.slice();
            for (let i = 0; i < 1 + rand(4); i++) m[rand(m.length)] = rand(256);
            target.sendFrame(m);
          }
          counts.mutated++;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      globalThis.hostile?.leave();
      return counts;
    },
    { name: c.name, token: c.token, honest: c.honestId, ms: 4_000 },
  );
  console.log(`fuzzing sent ${JSON.stringify(stats)}`);
  expect(stats.random + stats.replayed + stats.mutated).toBeGreaterThan(100);
  await finishHonestJob(c);
  // Both still answer and still run work.
  expect(await c.honest.evaluate(() => globalThis.rayNode!.state)).toBe('joined');
  expect(await c.head.evaluate(async () => globalThis.ray.get(globalThis.ray.put('alive')))).toBe('alive');
  await startHonestJob(c);
  await finishHonestJob(c);
});

test('a negative object size (the issue: −1e15 switched off a store budget) is refused by the wire check, a strike on the link', async () => {
  await joinHostile(c);
  await startHonestJob(c);
  const id = await c.bad.evaluate(() => globalThis.hostile!.nodeId as string);
  const warned = c.headWarnings.length;
  await sendFromBad(c.bad, toCoordinator({ type: 'object_put', id: 'p-fresh-negative', size: -1e15, obj: { v: 1, size: -1e15 }, holder: 'w-hostile' }));
  await expect.poll(() => c.headWarnings.slice(warned).some((w) => w.includes('malformed message') && w.includes(`from ${id} (strike 1 of 10)`))).toBe(true);
  expect(await strikesOf(c, id)).toBe(0); // refused at the link: the coordinator never saw it
  await finishHonestJob(c);
});

/** The coordinator tab's longest stall while the decode bomb landed (set by the test below, read by the next). */
let bombStallMs: number | undefined;

test('decode bombs (8 MiB of empty maps in one control message, then nine of 1 MiB) are refused before decoding, a strike each, and the link cut at 10; the coordinator survives and the job finishes', async () => {
  const id = await joinHostile(c);
  await startHonestJob(c);
  // A watchdog in the coordinator page: the longest gap between 20 ms ticks while the bomb lands.
  await c.head.evaluate(() => {
    const w = { last: performance.now(), maxGapMs: 0, timer: 0 };
    w.timer = setInterval(() => {
      const now = performance.now();
      w.maxGapMs = Math.max(w.maxGapMs, now - w.last);
      w.last = now;
    }, 20) as unknown as number;
    (globalThis as unknown as { watchdog: typeof w }).watchdog = w;
  });
  for (let i = 0; i < 10; i++) {
    await c.bad.evaluate((n) => {
      // msgpack array32 of n empty fixmaps (0x80): n bytes that would decode into n objects.
      const bomb = new Uint8Array(5 + n).fill(0x80);
      bomb[0] = 0xdd;
      new DataView(bomb.buffer).setUint32(1, n);
      globalThis.hostile!.sendEncoded(bomb);
    }, i === 0 ? 8 * 1024 * 1024 : 1024 * 1024);
    // Each is refused as it lands (one at a time: the channel's send queue holds 16 MiB).
    await expect.poll(() => c.headWarnings.some((w) => w.includes(`from ${id} (strike ${i + 1} of 10)`)), { message: `bomb ${i + 1} refused` }).toBe(true);
  }
  await expect
    .poll(() => c.head.evaluate((n) => globalThis.ray.nodes().find((x) => x.nodeId === n)?.alive, id), { timeout: 30_000, message: `${id} cut off after its decode bomb` })
    .toBe(false);
  bombStallMs = await c.head.evaluate(() => {
    const w = (globalThis as unknown as { watchdog: { maxGapMs: number; timer: number } }).watchdog;
    clearInterval(w.timer);
    return Math.round(w.maxGapMs);
  });
  console.log(`decode bomb: the coordinator tab's longest stall was ${bombStallMs} ms`);
  expect(c.headWarnings.some((w) => w.includes(`from ${id} (strike 10 of 10)`) && /decode budget|container|values/.test(w))).toBe(true);
  await finishHonestJob(c);
});

test('decode bombs do not stall the coordinator tab for a second or more', () => {
  // Issue 9, "Tiny messages exhaust the coordinator": decoding the 8 MiB bomb on the main thread
  // stalled this tab 2.3–4.3 s before the pre-decode scan (transport/decode-budget.ts) refused it.
  expect(bombStallMs).toBeDefined();
  expect(bombStallMs!).toBeLessThan(1_000);
});
