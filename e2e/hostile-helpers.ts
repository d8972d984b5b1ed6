// The hostile volunteer harness for e2e/hostile-volunteer.spec.ts: one cluster (a coordinator and
// an honest volunteer, each in its own browser context, over the real server and real WebRTC) and a
// page that joins it through the test entry's `__joinHostile` (runtime/testing.ts) and then speaks
// the protocol itself. Page code reaches the test entry as `globalThis.rayTest` and the hostile
// member as `globalThis.hostile`.
import type { Browser, Page } from '@playwright/test';
import { expect } from '@playwright/test';
import type * as Testing from '../runtime/testing.ts';
import type { ObjectRef } from '../runtime/index.ts';
import { initHead, joinAsVolunteer, openRayPage, uniqueClusterName, waitForAlive } from './cluster-helpers.ts';

declare global {
  var rayTest: typeof Testing;
  var hostile: Testing.HostileVolunteer | undefined;
  // Coordinator page: the job running on the honest volunteer, and refs a test keeps.
  var honestJob: Promise<number[]> | undefined;
  var hostileKeep: Record<string, ObjectRef<unknown>>;
}

/** The honest job: JOB_TASKS tasks, each summing a 400 KB array the driver put (pulled from the coordinator) times k. */
export const JOB_TASKS = 8;
export const JOB_ARRAY = 50_000;
export const expectedJob = Array.from({ length: JOB_TASKS }, (_, k) => k * JOB_ARRAY);

export interface HostileCluster {
  readonly name: string;
  readonly token: string;
  readonly head: Page;
  readonly headId: string;
  readonly honest: Page;
  readonly honestId: string;
  readonly bad: Page;
  /** Console warnings of the coordinator page and of the honest volunteer, since the cluster started. */
  readonly headWarnings: string[];
  readonly honestWarnings: string[];
  /** Uncaught errors in the coordinator and honest pages. */
  readonly errors: string[];
  close(): Promise<void>;
}

async function importTestEntry(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const url = '/webray-testing.js';
    globalThis.rayTest = (await import(url)) as typeof Testing;
    globalThis.hostileKeep = {};
  });
}

/**
 * Starts the coordinator (1 CPU) and one honest volunteer (1 CPU and the custom resource `honest`,
 * which only it has, so the job's tasks run there and pull their argument over WebRTC), and opens
 * the hostile page (test entry loaded, not joined).
 */
export async function startHostileCluster(browser: Browser, baseURL: string): Promise<HostileCluster> {
  const name = uniqueClusterName('hostile');
  const token = `tok-${crypto.randomUUID()}`;
  const [h, v, b] = await Promise.all([openRayPage(browser, baseURL, '/'), openRayPage(browser, baseURL, '/join'), openRayPage(browser, baseURL, '/join')]);
  const headWarnings: string[] = [];
  const honestWarnings: string[] = [];
  h.page.on('console', (m) => {
    if (m.type() === 'warning') headWarnings.push(m.text());
  });
  v.page.on('console', (m) => {
    if (m.type() === 'warning') honestWarnings.push(m.text());
  });
  await Promise.all([importTestEntry(h.page), importTestEntry(b.page)]);
  const headId = await initHead(h.page, name, token, { numCpus: 1 });
  const honestId = await joinAsVolunteer(v.page, name, token, { numCpus: 1, resources: { honest: 1 }, label: 'honest' });
  await waitForAlive(h.page, [headId, honestId]);
  return {
    name,
    token,
    head: h.page,
    headId,
    honest: v.page,
    honestId,
    bad: b.page,
    headWarnings,
    honestWarnings,
    get errors() {
      return [...h.errors, ...v.errors];
    },
    close: async () => {
      await Promise.all([h, v, b].map((p) => p.context.close().catch(() => {})));
    },
  };
}

/** Joins the hostile page (again: a new member, the old one leaves) claiming `resources`; waits until the coordinator lists it alive. */
export async function joinHostile(c: HostileCluster, resources: Record<string, number> = { CPU: 1, hostile: 1 }): Promise<string> {
  const id = await c.bad.evaluate(
    async ({ name, token, resources }) => {
      globalThis.hostile?.leave();
      globalThis.hostile = await globalThis.rayTest.__joinHostile({ address: location.origin, cluster: name, token, resources, label: 'hostile' });
      return globalThis.hostile.nodeId;
    },
    { name: c.name, token: c.token, resources },
  );
  await expect.poll(() => c.head.evaluate((n) => globalThis.ray.nodes().find((x) => x.nodeId === n)?.alive, id), { message: 'the hostile member listed alive' }).toBe(true);
  return id;
}

/** Starts the honest job in the coordinator page (awaited by `finishHonestJob`). */
export async function startHonestJob(c: HostileCluster): Promise<void> {
  await c.head.evaluate(
    ({ tasks, length }) => {
      const ray = globalThis.ray;
      const big = ray.put(new Float64Array(length).fill(1));
      const sum = ray.remote({ resources: { honest: 1 } }, (a: Float64Array, k: number) => a.reduce((s, x) => s + x, 0) * k);
      globalThis.honestJob = ray.get(Array.from({ length: tasks }, (_, k) => sum.remote(big, k)));
      globalThis.honestJob.catch(() => {});
    },
    { tasks: JOB_TASKS, length: JOB_ARRAY },
  );
}

/** Waits for the honest job and checks every result. */
export async function finishHonestJob(c: HostileCluster): Promise<void> {
  expect(await c.head.evaluate(() => globalThis.honestJob!)).toEqual(expectedJob);
}

/** Refused messages the coordinator counted against `nodeId`. */
export function strikesOf(c: HostileCluster, nodeId: string): Promise<number> {
  return c.head.evaluate((id) => globalThis.rayTest.__coordinatorProbe().strikesOf(id), nodeId);
}

/** Waits until the coordinator has counted `n` strikes against `nodeId`. */
export async function waitForStrikes(c: HostileCluster, nodeId: string, n: number): Promise<void> {
  await expect.poll(() => strikesOf(c, nodeId), { message: `${n} strikes against ${nodeId}` }).toBe(n);
}

/** Waits until the coordinator lists `nodeId` as no longer alive (dropped, cut off or left). */
export async function waitForDropped(c: HostileCluster, nodeId: string): Promise<void> {
  await expect
    .poll(() => c.head.evaluate((n) => globalThis.ray.nodes().find((x) => x.nodeId === n)?.alive, nodeId), { message: `${nodeId} dropped by the coordinator` })
    .toBe(false);
}

/** The hostile page's `received` messages of one type (to_node messages by their inner type). */
export function receivedOfType(c: HostileCluster, type: string): Promise<unknown[]> {
  return c.bad.evaluate(
    (t) =>
      (globalThis.hostile?.received ?? [])
        .map((m) => (m.type === 'to_node' ? m.msg : m))
        .filter((m) => m.type === t) as unknown[],
    type,
  );
}
