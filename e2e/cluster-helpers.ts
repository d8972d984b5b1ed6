// Helpers for the cluster specs: a coordinator page and volunteer pages, each in its own browser
// context (its own tab and storage, like separate machines' tabs), joined through the real
// signaling server over real WebRTC. Page code reaches webray as `globalThis.ray`; a volunteer's
// membership is `globalThis.rayNode`, and the reasons its `onClose` got are in `rayNodeClosed`.
import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type * as RayModule from '../runtime/index.ts';
import type { NodeHandle, ObjectRef } from '../runtime/index.ts';
// fixtures.ts declares the page global `ray` these helpers set.
import type {} from './fixtures.ts';

type Ray = typeof RayModule;

declare global {
  // Set in volunteer pages by `joinVolunteer`.
  var rayNode: NodeHandle | undefined;
  var rayNodeClosed: string[];
  // Refs a test keeps in the coordinator page between evaluate calls.
  var e2eRefs: ObjectRef<unknown>[];
}

/** What a node offers: CPUs (default 1: the test machine has 2 cores) and custom resources. */
export interface NodeSpec {
  readonly numCpus?: number;
  readonly resources?: Readonly<Record<string, number>>;
  readonly label?: string;
  /** Volunteers only: where shipped code runs (ray.join's default is 'origin', the task origin). */
  readonly isolation?: 'origin' | 'none';
  /** The head only: `ray.init({ verification })`. */
  readonly verification?: { readonly replicas?: number; readonly spotCheck?: number; readonly quarantineAfter?: number };
}

export interface ClusterNode {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly nodeId: string;
  /** Uncaught page errors since webray was imported (console errors are not collected: a dropped peer logs some). */
  readonly errors: string[];
}

export interface Cluster {
  readonly name: string;
  readonly token: string;
  readonly address: string;
  readonly head: ClusterNode;
  readonly volunteers: ClusterNode[];
  /** Adds a volunteer and waits until the coordinator lists it alive. */
  join(spec?: NodeSpec): Promise<ClusterNode>;
}

let clusterCount = 0;

/** A cluster name no other test (nor a parallel run on the same server) uses. */
export function uniqueClusterName(prefix = 'e2e'): string {
  clusterCount++;
  return `${prefix}-${process.pid}-${clusterCount}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Opens `path` in a fresh browser context and imports webray there as `globalThis.ray`. */
export async function openRayPage(browser: Browser, baseURL: string, path: string): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await page.goto(path);
  await page.evaluate(async () => {
    const url = '/webray.js';
    globalThis.ray = (await import(url)) as Ray;
    globalThis.rayNodeClosed = [];
  });
  // From here on: the page's own script is not under test, webray is.
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return { page, context, errors };
}

/** Makes `page` the coordinator of `name`; resolves with its node id. */
export function initHead(page: Page, name: string, token: string, spec: NodeSpec = {}): Promise<string> {
  return page.evaluate(
    async ({ name, token, spec }) => {
      const info = await globalThis.ray.init({
        address: location.origin,
        cluster: name,
        token,
        numCpus: spec.numCpus ?? 1,
        numGpus: 0,
        ...(spec.resources ? { resources: spec.resources } : {}),
        ...(spec.isolation ? { isolation: spec.isolation } : {}),
        ...(spec.verification ? { verification: spec.verification } : {}),
      });
      return info.nodeId;
    },
    { name, token, spec },
  );
}

/** Makes `page` a volunteer of `name`; resolves with its node id. */
export function joinAsVolunteer(page: Page, name: string, token: string, spec: NodeSpec = {}): Promise<string> {
  return page.evaluate(
    async ({ name, token, spec }) => {
      const node = await globalThis.ray.join({
        address: location.origin,
        cluster: name,
        token,
        numCpus: spec.numCpus ?? 1,
        numGpus: 0,
        ...(spec.resources ? { resources: spec.resources } : {}),
        ...(spec.label ? { label: spec.label } : {}),
        ...(spec.isolation ? { isolation: spec.isolation } : {}),
      });
      node.onClose((reason) => globalThis.rayNodeClosed.push(reason));
      globalThis.rayNode = node;
      return node.nodeId;
    },
    { name, token, spec },
  );
}

/** The ids of the nodes the coordinator in `head` lists as alive. */
export function aliveNodeIds(head: Page): Promise<string[]> {
  return head.evaluate(() =>
    globalThis.ray
      .nodes()
      .filter((n) => n.alive)
      .map((n) => n.nodeId as string)
      .sort(),
  );
}

/** Waits until the coordinator lists exactly `ids` as its alive nodes. */
export async function waitForAlive(head: Page, ids: readonly string[], timeout = 10_000): Promise<void> {
  await expect.poll(() => aliveNodeIds(head), { timeout, message: 'alive nodes in ray.nodes()' }).toEqual([...ids].sort());
}

/** Waits until the coordinator lists `nodeId` as dead; resolves with how long that took. */
export async function waitForDead(head: Page, nodeId: string, timeout = 10_000): Promise<number> {
  const t0 = Date.now();
  await expect
    .poll(() => head.evaluate((id) => globalThis.ray.nodes().find((n) => n.nodeId === id)?.alive, nodeId), {
      timeout,
      intervals: [50],
      message: `node ${nodeId} marked dead in ray.nodes()`,
    })
    .toBe(false);
  return Date.now() - t0;
}

/** Ids of the tasks the coordinator in `head` lists as running on `nodeId`. */
export function runningOn(head: Page, nodeId: string): Promise<string[]> {
  return head.evaluate(
    async (id) => (await globalThis.ray.tasks({ state: 'RUNNING' })).filter((t) => t.nodeId === id).map((t) => t.taskId as string),
    nodeId,
  );
}

interface ClusterFixtures {
  /** Starts a coordinator with `head` and one volunteer per entry of `volunteers`, all alive. */
  startCluster(opts?: { head?: NodeSpec; volunteers?: readonly NodeSpec[]; token?: string }): Promise<Cluster>;
  /** Opens a page with webray imported but not started (closed after the test). */
  openPage(path?: string): Promise<{ page: Page; context: BrowserContext; errors: string[] }>;
}

export const test = base.extend<ClusterFixtures>({
  openPage: async ({ browser, baseURL }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (path = '/') => {
      const opened = await openRayPage(browser, baseURL!, path);
      contexts.push(opened.context);
      return opened;
    });
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  },
  startCluster: async ({ openPage }, use) => {
    await use(async (opts = {}) => {
      const name = uniqueClusterName();
      const token = opts.token ?? `tok-${crypto.randomUUID()}`;
      const h = await openPage('/');
      const head: ClusterNode = { ...h, nodeId: await initHead(h.page, name, token, opts.head) };
      const volunteers: ClusterNode[] = [];
      const join = async (spec: NodeSpec = {}): Promise<ClusterNode> => {
        const v = await openPage('/join');
        const node: ClusterNode = { ...v, nodeId: await joinAsVolunteer(v.page, name, token, spec) };
        volunteers.push(node);
        await waitForAlive(head.page, [head.nodeId, ...volunteers.map((x) => x.nodeId)]);
        return node;
      };
      // Pages load in parallel; they join in the order given, so volunteers[i] is opts.volunteers[i].
      const specs = opts.volunteers ?? [];
      const pages = await Promise.all(specs.map(() => openPage('/join')));
      for (const [i, v] of pages.entries()) volunteers.push({ ...v, nodeId: await joinAsVolunteer(v.page, name, token, specs[i]) });
      await waitForAlive(head.page, [head.nodeId, ...volunteers.map((x) => x.nodeId)]);
      return { name, token, address: new URL(h.page.url()).origin, head, volunteers, join };
    });
  },
});

export { expect };
