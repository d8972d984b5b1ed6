// webray in Firefox as well as Chromium: local mode in Firefox; a Firefox volunteer in a cluster a
// Chromium tab coordinates (through `ray.join` and through the volunteer page's own `autojoin=1`);
// a Firefox coordinator with a Chromium volunteer. Each runs tasks, an actor and a 16 MiB object
// each way over a Chromium–Firefox data channel; a Firefox volunteer leaves mid-job and the job
// finishes. Firefox pages are driven by puppeteer-core (e2e/firefox.ts), Chromium pages by
// Playwright, all against the suite's server in its loopback-only namespace.
import type { Browser } from 'puppeteer-core';
import { expect, initHead, joinAsVolunteer, test, uniqueClusterName, waitForAlive, waitForDead } from './cluster-helpers.ts';
import { byteJob, byteJobInPage } from './net/pages.ts';
import { firefoxUnavailable, launchFirefox, openFirefoxPage, type FirefoxPage } from './firefox.ts';

const unavailable = firefoxUnavailable();
test.skip(unavailable !== undefined, `Firefox tests: ${unavailable}`);

let firefox: Browser | undefined;
const opened: FirefoxPage[] = [];

test.beforeAll(async () => {
  firefox = await launchFirefox();
});

test.afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()));
});

test.afterAll(async () => {
  await firefox?.close();
});

async function firefoxPage(url: string): Promise<FirefoxPage> {
  const p = await openFirefoxPage(firefox!, url);
  opened.push(p);
  return p;
}

const MiB = 1024 * 1024;

test('local mode in Firefox: tasks, an actor, a 16 MiB object through a task, and a task error that keeps its class', async ({ baseURL }) => {
  const ff = await firefoxPage(`${baseURL}/`);
  test.info().annotations.push({ type: 'browser', description: await firefox!.version() });
  const r = await ff.page.evaluate(async (size: number) => {
    const ray = globalThis.ray;
    const info = await ray.init({ numCpus: 2 });
    const square = ray.remote((x: number) => x * x);
    const squares = await ray.get([1, 2, 3, 4].map((x) => square.remote(x)));
    class Counter {
      n = 0;
      incr(by: number): number {
        this.n += by;
        return this.n;
      }
    }
    const counter = ray.remote(Counter).remote();
    counter.incr.remote(2);
    const count = await ray.get(counter.incr.remote(3));
    const big = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) big[i] = (i >>> 12) & 255;
    const ref = ray.put(big);
    const digest = ray.remote((b: Uint8Array) => {
      let sum = 0;
      for (let i = 0; i < b.length; i += 4096) sum = (sum + b[i]!) >>> 0;
      return { length: b.length, sum };
    });
    const seen = await ray.get(digest.remote(ref));
    let expected = 0;
    for (let i = 0; i < size; i += 4096) expected = (expected + big[i]!) >>> 0;
    const boom = ray.remote(() => {
      throw new TypeError('boom in Firefox');
    });
    const error = await ray.get(boom.remote()).then(
      () => null,
      (e: Error) => ({ name: e.name, isTypeError: e instanceof TypeError, causeName: (e.cause as Error | undefined)?.name, message: e.message }),
    );
    await ray.shutdown();
    return { mode: info.mode, squares, count, seen, expected, error, isolated: crossOriginIsolated };
  }, 16 * MiB);
  expect(r.mode).toBe('local');
  expect(r.squares).toEqual([1, 4, 9, 16]);
  expect(r.count).toBe(5);
  expect(r.seen).toEqual({ length: 16 * MiB, sum: r.expected });
  expect(r.error).toMatchObject({ name: 'RayTaskError', isTypeError: true, causeName: 'TypeError' });
  expect(r.error?.message).toContain('boom in Firefox');
  expect(r.isolated).toBe(true);
  expect(ff.errors).toEqual([]);
});

test('the demo page in Firefox: local mode estimates π with the Monte Carlo button', async ({ baseURL }) => {
  const context = await firefox!.createBrowserContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(`${baseURL}/`, { waitUntil: 'load' });
    await page.click('#start-local');
    await page.waitForFunction(() => document.getElementById('session-status')?.textContent?.startsWith('Local mode: this tab alone'), { timeout: 30_000 });
    await page.waitForFunction(() => !(document.getElementById('run-pi') as HTMLButtonElement).disabled, { timeout: 30_000 });
    await page.select('#pi-samples', '10000000');
    await page.click('#run-pi');
    await page.waitForFunction(() => /π ≈ 3\.1\d+ .* from 10,000,000 samples/.test(document.getElementById('pi-status')?.textContent ?? ''), { timeout: 60_000 });
    expect(await page.evaluate(() => document.getElementById('pi-progress')?.getAttribute('aria-valuenow'))).toBe('100');
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
});

test('a Firefox volunteer in a Chromium cluster, joined through ray.join and through its page with autojoin=1: tasks, an actor, 16 MiB each way, and a volunteer that leaves mid-job', async ({ openPage, baseURL }) => {
  const name = uniqueClusterName('ff');
  const token = `tok-${crypto.randomUUID()}`;
  const head = await openPage('/');
  const headId = await initHead(head.page, name, token, { numCpus: 1 });

  // Through the API; two units of `firefox`: the actor below holds one while it lives (as in Ray).
  const viaApi = await firefoxPage(`${baseURL}/join`);
  const apiId = await viaApi.page.evaluate(
    async ({ name, token }: { name: string; token: string }) => {
      const node = await globalThis.ray.join({ address: location.origin, cluster: name, token, numCpus: 1, numGpus: 0, resources: { firefox: 2 } });
      node.onClose((reason) => globalThis.rayNodeClosed.push(reason));
      globalThis.rayNode = node;
      return node.nodeId;
    },
    { name, token },
  );
  // Through the volunteer page itself, as an invite link with autojoin=1 does.
  const viaPage = await firefoxPage(`${baseURL}/join?cluster=${name}&token=${token}&autojoin=1`);
  await viaPage.page.waitForFunction(() => document.getElementById('join-status')?.textContent?.startsWith('Joined cluster'), { timeout: 30_000 });
  const pageId = /as node (\S+?),/.exec((await viaPage.page.evaluate(() => document.getElementById('join-status')!.textContent)) ?? '')?.[1];
  expect(pageId).toBeDefined();
  await waitForAlive(head.page, [headId, apiId, pageId!]);

  const r = await head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const where = ray.remote({ resources: { firefox: 1 } }, () => ({ nodeId: ray.getRuntimeContext().nodeId as string, firefox: navigator.userAgent.includes('Firefox') }));
    const pinned = await ray.get(where.remote());
    class Tally {
      items: string[] = [];
      add(x: string): number {
        this.items.push(x);
        return this.items.length;
      }
      browser(): boolean {
        return navigator.userAgent.includes('Firefox');
      }
    }
    const tally = ray.remote({ resources: { firefox: 1 } }, Tally).remote();
    for (const x of ['a', 'b', 'c']) tally.add.remote(x);
    const actor = { count: await ray.get(tally.add.remote('d')), firefox: await ray.get(tally.browser.remote()) };
    // Spread over every node: the autojoined page runs some.
    const spread = ray.remote({ schedulingStrategy: 'SPREAD' }, (ms: number) => {
      const end = performance.now() + ms;
      let x = 0;
      while (performance.now() < end) x++;
      return { nodeId: ray.getRuntimeContext().nodeId as string, spun: x > 0 };
    });
    const spreadNodes = [...new Set((await ray.get(Array.from({ length: 9 }, () => spread.remote(20)))).map((x) => x.nodeId))].sort();
    return { pinned, actor, spreadNodes };
  });
  expect(r.pinned).toEqual({ nodeId: apiId, firefox: true });
  expect(r.actor).toEqual({ count: 4, firefox: true });
  expect(r.spreadNodes).toContain(pageId);

  expect(await byteJob(head.page, 16 * MiB, 'firefox')).toEqual({ nodeId: apiId, length: 16 * MiB, sumMatches: true, outLength: 16 * MiB, wrongBytes: 0 });

  // The API volunteer leaves while it runs tasks of a job: the job finishes on the other nodes.
  await head.page.evaluate(() => {
    const ray = globalThis.ray;
    const busy = ray.remote({ schedulingStrategy: 'SPREAD' }, (ms: number) => {
    const end = performance.now() + ms;
    let x = 0;
    while (performance.now() < end) x++;
    return { nodeId: ray.getRuntimeContext().nodeId as string, spun: x > 0 };
  });
    globalThis.e2eRefs = Array.from({ length: 12 }, () => busy.remote(400));
  });
  await expect.poll(() => head.page.evaluate(async (id) => (await globalThis.ray.tasks({ state: 'RUNNING' })).some((t) => t.nodeId === id), apiId), { timeout: 20_000 }).toBe(true);
  await viaApi.page.evaluate(() => globalThis.rayNode!.leave());
  await waitForDead(head.page, apiId);
  const done = await head.page.evaluate(async () => (await globalThis.ray.get(globalThis.e2eRefs)) as { nodeId: string; spun: boolean }[]);
  expect(done).toHaveLength(12);
  expect(done.every((d) => d.spun)).toBe(true);
  expect(await viaApi.page.evaluate(() => globalThis.rayNodeClosed)).toEqual([expect.stringContaining('left')]);
  expect([...head.errors, ...viaApi.errors, ...viaPage.errors]).toEqual([]);
});

test('a Firefox coordinator with a Chromium volunteer: tasks, an actor and 16 MiB each way', async ({ openPage, baseURL }) => {
  const name = uniqueClusterName('ffhead');
  const token = `tok-${crypto.randomUUID()}`;
  const head = await firefoxPage(`${baseURL}/`);
  const headId = await head.page.evaluate(
    async ({ name, token }: { name: string; token: string }) => (await globalThis.ray.init({ address: location.origin, cluster: name, token, numCpus: 1, numGpus: 0 })).nodeId as string,
    { name, token },
  );
  // Two units of `chromium`: the actor below holds one while it lives (as in Ray).
  const vol = await openPage('/join');
  const volId = await joinAsVolunteer(vol.page, name, token, { resources: { chromium: 2 } });
  await expect
    .poll(() => head.page.evaluate(() => globalThis.ray.nodes().filter((n) => n.alive).map((n) => n.nodeId as string).sort()), { timeout: 15_000 })
    .toEqual([headId, volId].sort());

  const r = await head.page.evaluate(async () => {
    const ray = globalThis.ray;
    const where = ray.remote({ resources: { chromium: 1 } }, (x: number) => ({ nodeId: ray.getRuntimeContext().nodeId as string, chrome: navigator.userAgent.includes('Chrome'), x: x * 2 }));
    const pinned = await ray.get([1, 2, 3].map((x) => where.remote(x)));
    class Counter {
      n = 0;
      incr(): number {
        return ++this.n;
      }
    }
    const counter = ray.remote({ resources: { chromium: 1 } }, Counter).remote();
    counter.incr.remote();
    return { pinned, count: await ray.get(counter.incr.remote()) };
  });
  expect(r.pinned).toEqual([1, 2, 3].map((x) => ({ nodeId: volId, chrome: true, x: x * 2 })));
  expect(r.count).toBe(2);
  expect(await head.page.evaluate(byteJobInPage, { size: 16 * MiB, resource: 'chromium' })).toEqual({
    nodeId: volId,
    length: 16 * MiB,
    sumMatches: true,
    outLength: 16 * MiB,
    wrongBytes: 0,
  });
  expect([...head.errors, ...vol.errors]).toEqual([]);
});
