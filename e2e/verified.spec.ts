// Verified results (docs/api.md, "Verified results"), with faulty nodes made through the public API
// only: task code that returns a wrong answer when `ray.getRuntimeContext().nodeId` is a given
// volunteer's id. Real tabs, the real server and WebRTC.
import type { Page } from '@playwright/test';
import type * as Testing from '../runtime/testing.ts';
import { expect, test, waitForAlive } from './cluster-helpers.ts';

declare global {
  var rayTest: typeof Testing;
  var verifiedRef: unknown;
}

test.describe.configure({ timeout: 90_000 });

/** What the coordinator in `head` records of node `id`. */
function recordOf(head: Page, id: string): Promise<{ alive: boolean; verified: number; mismatches: number; quarantined: boolean } | undefined> {
  return head.evaluate((id) => {
    const n = globalThis.ray.nodes().find((x) => x.nodeId === id);
    return n && { alive: n.alive, verified: n.verified, mismatches: n.mismatches, quarantined: n.quarantined };
  }, id);
}

test('replicas: 2 — every result the driver gets is right, and the volunteer whose code lies ends quarantined', async ({ startCluster }) => {
  const c = await startCluster({ volunteers: [{ label: 'liar' }, {}, {}] });
  const liar = c.volunteers[0]!.nodeId;
  const values = await c.head.page.evaluate(async (liar) => {
    const square = globalThis.ray.remote({ replicas: 2 }, (k: number, liar: string) => (ray.getRuntimeContext().nodeId === liar ? -1 : k * k));
    return globalThis.ray.get(Array.from({ length: 12 }, (_, k) => square.remote(k, liar)), { timeoutMs: 60_000 });
  }, liar);
  expect(values).toEqual(Array.from({ length: 12 }, (_, k) => k * k));
  await expect.poll(() => recordOf(c.head.page, liar), { message: 'the liar quarantined' }).toMatchObject({ alive: false, quarantined: true });
  // Quarantined at its second mismatch; votes it was already part of may count more.
  expect((await recordOf(c.head.page, liar))!.mismatches).toBeGreaterThanOrEqual(2);
  for (const v of c.volunteers.slice(1)) expect((await recordOf(c.head.page, v.nodeId))?.mismatches).toBe(0);
});

test('replicas: 1 with spotCheck: 1 — every result is right, the liar ends quarantined; ray.trustNode exempts a node and refuses an unknown one', async ({ startCluster }) => {
  // The head runs no tasks (its own are never spot-checked): every task starts on a volunteer, so
  // the liar — the first to join, first in placement order — runs several, however fast the others are.
  const c = await startCluster({ head: { verification: { spotCheck: 1 }, numCpus: 0 }, volunteers: [{ label: 'liar' }, {}, {}] });
  const liar = c.volunteers[0]!.nodeId;
  const values = await c.head.page.evaluate(async (liar) => {
    const square = globalThis.ray.remote((k: number, liar: string) => (ray.getRuntimeContext().nodeId === liar ? -1 : k * k));
    return globalThis.ray.get(Array.from({ length: 12 }, (_, k) => square.remote(k, liar)), { timeoutMs: 60_000 });
  }, liar);
  expect(values).toEqual(Array.from({ length: 12 }, (_, k) => k * k));
  await expect.poll(() => recordOf(c.head.page, liar), { message: 'the liar quarantined' }).toMatchObject({ alive: false, quarantined: true });
  const honest = c.volunteers[1]!.nodeId;
  const trust = await c.head.page.evaluate((honest) => {
    globalThis.ray.trustNode(honest);
    let refused = '';
    try {
      globalThis.ray.trustNode('node-nobody');
    } catch (e) {
      refused = `${(e as Error).name}: ${(e as Error).message}`;
    }
    return { trusted: globalThis.ray.nodes().find((n) => n.nodeId === honest)?.trusted, refused };
  }, honest);
  expect(trust).toEqual({ trusted: true, refused: expect.stringMatching(/^TypeError: ray\.trustNode: no node node-nobody ever joined/) as unknown });
});

test('two liars with different wrong answers and one honest node: replicas: 3, maxReplicas: 3 fails with ResultMismatchError; with a fourth node and maxReplicas: 5 the honest answer wins', async ({ startCluster }) => {
  const pool = { resources: { pool: 1 } };
  const c = await startCluster({ volunteers: [pool, pool, pool] });
  const [l1, l2] = [c.volunteers[0]!.nodeId, c.volunteers[1]!.nodeId];
  const run = (maxReplicas: number) =>
    c.head.page.evaluate(
      async ({ l1, l2, maxReplicas }) => {
        const f = globalThis.ray.remote({ replicas: 3, maxReplicas, resources: { pool: 1 } }, (k: number, l1: string, l2: string) => {
          const me = ray.getRuntimeContext().nodeId;
          return me === l1 ? -1 : me === l2 ? -2 : k * 10;
        });
        return globalThis.ray.get(f.remote(4, l1, l2), { timeoutMs: 60_000 }).then(
          (value) => ({ value }),
          (e: Error & { reports?: unknown[] }) => ({ error: e.name, reports: e.reports?.length, message: e.message }),
        );
      },
      { l1, l2, maxReplicas },
    );
  const failed = await run(3);
  expect(failed).toMatchObject({ error: 'ResultMismatchError', reports: 3 });
  // No majority says who lied: nobody is blamed.
  for (const v of c.volunteers) expect((await recordOf(c.head.page, v.nodeId))?.mismatches).toBe(0);
  await c.join(pool);
  expect(await run(5)).toEqual({ value: 40 });
});

test('a large result (16 MiB, kept in the volunteers’ stores) tampered with after the vote is caught at pull', async ({ startCluster, openPage }) => {
  const c = await startCluster();
  await c.head.page.evaluate(async () => {
    const url = '/webray-testing.js';
    globalThis.rayTest = (await import(url)) as typeof Testing;
  });
  const vols: { page: Page; nodeId: string }[] = [];
  for (let i = 0; i < 2; i++) {
    const { page } = await openPage('/join');
    const nodeId = await page.evaluate(
      async ({ name, token }) => {
        const url = '/webray-testing.js';
    globalThis.rayTest = (await import(url)) as typeof Testing;
        const node = await globalThis.rayTest.join({ address: location.origin, cluster: name, token, numCpus: 1, numGpus: 0, resources: { pool: 1 } });
        return node.nodeId;
      },
      { name: c.name, token: c.token },
    );
    vols.push({ page, nodeId });
  }
  await waitForAlive(c.head.page, [c.head.nodeId, ...vols.map((v) => v.nodeId)]);

  /** Runs a verified 16 MiB task; resolves with its id and the volunteers holding it, in the order a pull tries them. */
  const make = () =>
    c.head.page.evaluate(async () => {
      const ray = globalThis.ray;
      const big = ray.remote({ replicas: 2, resources: { pool: 1 } }, (n: number) => Float64Array.from({ length: n }, (_, i) => i));
      const ref = big.remote(2 * 1024 * 1024);
      globalThis.verifiedRef = ref;
      for (;;) {
        const at = globalThis.rayTest.__coordinatorProbe().locate(ref.id);
        if (at && at.nodes.length === 2) return { id: ref.id, nodes: at.nodes };
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  const tamper = (nodeId: string, id: string) =>
    vols
      .find((v) => v.nodeId === nodeId)!
      .page.evaluate((id) => {
        const stored = globalThis.rayTest.__objectStoreTestHooks.stores.at(-1)!.get(id as never);
        (stored!.v as Float64Array)[7] = -1;
      }, id);
  const warnings: string[] = [];
  c.head.page.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
  });
  const getIt = () =>
    c.head.page.evaluate(() =>
      globalThis.ray.get(globalThis.verifiedRef as never, { timeoutMs: 60_000 }).then(
        (v: unknown) => {
          const a = v as Float64Array;
          return { length: a.length, seventh: a[7], last: a[a.length - 1] };
        },
        (e: Error) => ({ error: e.message }),
      ),
    );

  const first = await make();
  await tamper(first.nodes[0]!, first.id);
  expect(await getIt()).toEqual({ length: 2 * 1024 * 1024, seventh: 7, last: 2 * 1024 * 1024 - 1 });
  expect(warnings.some((w) => w.includes(`node ${first.nodes[0]} served object ${first.id} with bytes that do not match`))).toBe(true);

  const second = await make();
  for (const n of second.nodes) await tamper(n, second.id);
  expect(await getIt()).toMatchObject({ error: expect.stringMatching(/no copy matched the SHA-256 its replicas agreed on/) });
});

test('a replicated actor (replicas: 3) keeps its state on three volunteers: a lying replica is outvoted and dropped, its node quarantined (quarantineAfter: 1), and the calls go on', async ({ startCluster }) => {
  const pool = { resources: { pool: 1 } };
  const c = await startCluster({ head: { verification: { quarantineAfter: 1 } }, volunteers: [{ label: 'liar', ...pool }, pool, pool] });
  const liar = c.volunteers[0]!.nodeId;
  const totals = await c.head.page.evaluate(async (liar) => {
    const Counter = globalThis.ray.remote(
      { replicas: 3, numCpus: 0, resources: { pool: 1 }, scope: { liar } },
      class Counter {
        n = 0;
        add(k: number): number {
          this.n += ray.getRuntimeContext().nodeId === liar ? k + 1 : k;
          return this.n;
        }
      },
    );
    const counter = Counter.remote();
    const out: number[] = [];
    for (let k = 1; k <= 6; k++) out.push(await globalThis.ray.get(counter.add.remote(k), { timeoutMs: 60_000 }));
    return out;
  }, liar);
  expect(totals).toEqual([1, 3, 6, 10, 15, 21]);
  await expect.poll(() => recordOf(c.head.page, liar), { message: 'the liar quarantined' }).toMatchObject({ alive: false, quarantined: true, mismatches: 1 });
  for (const v of c.volunteers.slice(1)) expect(await recordOf(c.head.page, v.nodeId)).toMatchObject({ alive: true, mismatches: 0, verified: 6 });
});

declare const ray: { getRuntimeContext(): { nodeId: string | null } };
