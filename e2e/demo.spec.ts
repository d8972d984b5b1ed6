// The demo page (/) and the volunteer page (/join) driven the way a person uses them — by role
// and label, never through webray's API: start a cluster, open the invite link in more tabs,
// press Join, run the jobs, leave mid-job, download the timeline. Screenshots of both pages at a
// desktop and a phone size go to test-results/screenshots/ (or WEBRAY_SCREENSHOTS_DIR: Playwright
// empties test-results/ when any run starts, so concurrent runs may wipe them there).
import { readFile } from 'node:fs/promises';
import { test as base, expect, type Browser, type Page } from '@playwright/test';

const SCREENSHOTS = process.env['WEBRAY_SCREENSHOTS_DIR'] ?? 'test-results/screenshots';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

interface VolunteerSpec {
  readonly cpus?: number;
  readonly offerFallbackGpu?: boolean;
}

/** Starts a cluster on a fresh demo page and returns the page and its invite link. */
async function startCluster(page: Page, opts: { cpus?: number } = {}): Promise<string> {
  await page.goto('/');
  if (opts.cpus !== undefined) await page.getByLabel('CPUs this tab offers').fill(String(opts.cpus));
  await page.getByRole('button', { name: 'Start cluster' }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Cluster lab-\w+ is running/ })).toBeVisible({ timeout: 60_000 });
  const link = await page.getByLabel('Invite link').inputValue();
  expect(link).toMatch(/\/join\?cluster=lab-\w+&token=\w+$/);
  return link;
}

/** Opens the invite link in a new tab of its own browser context (like another machine) and presses Join. */
async function joinByLink(browser: Browser, link: string, spec: VolunteerSpec = {}): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  const cluster = new URL(link).searchParams.get('cluster')!;
  await expect(page.getByRole('status')).toHaveText(`Not joined yet: press Join to lend this tab to cluster ${cluster}.`);
  await page.getByLabel('CPUs to give').fill(String(spec.cpus ?? 1));
  if (spec.offerFallbackGpu) {
    await expect(page.getByLabel('Offer the fallback GPU')).toBeEnabled();
    await page.getByLabel('Offer the fallback GPU').check();
  }
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page.getByRole('status')).toContainText(`Joined cluster ${cluster} as node`, { timeout: 30_000 });
  await expect(page.getByRole('button', { name: 'Leave' })).toBeVisible();
  return page;
}

async function volunteersConnected(page: Page, n: number): Promise<void> {
  await expect(page.getByRole('status', { name: 'Volunteers connected' })).toHaveText(String(n), { timeout: 60_000 });
}

async function screenshot(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of [['1280x800', DESKTOP], ['390x844', PHONE]] as const) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `${SCREENSHOTS}/${name}-${size}.png`, fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

/** The estimate the page shows, as a number. */
async function estimate(page: Page): Promise<number> {
  return Number(await page.getByRole('status', { name: 'Estimate of π' }).textContent());
}

const test = base.extend<{ demo: Page }>({
  demo: async ({ page }, use) => {
    await page.setViewportSize(DESKTOP);
    await use(page);
  },
});

test.describe.configure({ timeout: 240_000 });

test('a cluster with two volunteers joined by the invite link runs Monte Carlo π to 100% within 0.01 of π, on every node; the timeline downloads as a Chrome trace', async ({ demo, browser }) => {
  const link = await startCluster(demo);
  await screenshot(demo, 'demo-idle-cluster');
  const volunteers = [await joinByLink(browser, link), await joinByLink(browser, link)];
  await volunteersConnected(demo, 2);

  // The cluster view lists the coordinator and both volunteers, alive.
  const rows = demo.getByRole('table', { name: 'Nodes' }).getByRole('row');
  await expect(rows).toHaveCount(4); // header + 3 nodes
  await expect(rows.filter({ hasText: 'volunteer' }).filter({ has: demo.getByRole('cell', { name: 'alive', exact: true }) })).toHaveCount(2);

  await demo.getByLabel('Samples', { exact: true }).selectOption({ label: '100 million' });
  await demo.getByRole('button', { name: 'Run Monte Carlo π' }).click();
  const bar = demo.getByRole('progressbar', { name: 'Monte Carlo π progress' });
  const status = demo.getByRole('status', { name: 'Monte Carlo π status' });
  await expect(status).toContainText(/π ≈ 3\.\d+ .* from 100,000,000 samples in \d+ tasks/, { timeout: 150_000 });
  await expect(status).toContainText(/Elapsed: [\d.]+ (ms|s)/);
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  expect(Math.abs((await estimate(demo)) - Math.PI)).toBeLessThan(0.01);

  // Every node sampled: a row per node in the per-node table.
  const perNode = demo.getByRole('table', { name: 'Samples per node' }).getByRole('row');
  await expect(perNode).toHaveCount(4);
  await expect(perNode.filter({ hasText: 'coordinator' })).toHaveCount(1);

  // A volunteer saw the work: tasks run and data sent (its figures refresh every 500 ms).
  for (const v of volunteers) {
    await expect(v.getByRole('definition').first()).not.toHaveText('0', { timeout: 30_000 });
  }

  // Task counts by state include the finished sampling tasks; the throughput chart has a figure.
  await expect(demo.getByRole('term').filter({ hasText: /^Finished$/ })).toBeVisible();
  await expect(demo.getByRole('img', { name: /Tasks finished per second/ })).toHaveAttribute('aria-label', /[1-9]\d* in the last minute/);

  // The on-page timeline draws lanes per node and worker.
  await demo.getByRole('button', { name: 'Refresh timeline' }).click();
  await expect(demo.getByRole('img', { name: /^Timeline: \d+ tasks on \d+ workers/ })).toBeVisible();

  // The download is a Chrome trace: a JSON array of events with ph, ts, pid and tid.
  const downloadPromise = demo.waitForEvent('download');
  await demo.getByRole('button', { name: 'Download timeline (.json)' }).click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toMatch(/^webray-timeline-.*\.json$/);
  const trace = JSON.parse(await readFile(await download.path(), 'utf8')) as unknown;
  expect(Array.isArray(trace)).toBe(true);
  const events = trace as Record<string, unknown>[];
  for (const e of events) {
    expect(typeof e['ph']).toBe('string');
    expect(typeof e['ts']).toBe('number');
    expect(['string', 'number']).toContain(typeof e['pid']);
    expect(['string', 'number']).toContain(typeof e['tid']);
  }
  const tasks = events.filter((e) => e['ph'] === 'X' && e['name'] === 'samplingTask');
  expect(tasks.length).toBeGreaterThanOrEqual(8);
  expect(new Set(tasks.map((e) => e['pid'])).size).toBe(3);
  expect(events.some((e) => e['ph'] === 'M' && e['name'] === 'process_name')).toBe(true);

  await screenshot(demo, 'demo-after-pi');
  await screenshot(volunteers[0]!, 'volunteer-joined');
});

test('“Verify results” runs every sampling task on two nodes: π comes out right, and the cluster view shows each node’s verified replicas', async ({ demo, browser }) => {
  const link = await startCluster(demo, { cpus: 1 });
  await Promise.all([joinByLink(browser, link), joinByLink(browser, link)]);
  await volunteersConnected(demo, 2);
  await demo.getByLabel('Samples', { exact: true }).selectOption({ label: '10 million' });
  await demo.getByLabel('Verify results (each task on 2 nodes)').check();
  await demo.getByRole('button', { name: 'Run Monte Carlo π' }).click();
  const status = demo.getByRole('status', { name: 'Monte Carlo π status' });
  await expect(status).toContainText(/π ≈ 3\.\d+ .* from 10,000,000 samples in \d+ tasks; every count agreed on by two nodes/, { timeout: 150_000 });
  expect(Math.abs((await estimate(demo)) - Math.PI)).toBeLessThan(0.01);
  // Every node took part in the votes and agreed: its "Verified" cell counts them, with no mismatch.
  const rows = demo.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ has: demo.getByRole('cell', { name: 'alive', exact: true }) });
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) await expect(row.getByRole('cell', { name: /^[1-9]\d* ✓ \/ 0 ✗$/ })).toBeVisible({ timeout: 10_000 });
  await screenshot(demo, 'demo-after-verified-pi');
});

test('pressing Leave on a volunteer mid-job leaves at once; the job still completes and the node stays listed as left', async ({ demo, browser }) => {
  const link = await startCluster(demo, { cpus: 1 });
  const [stays, leaves] = [await joinByLink(browser, link), await joinByLink(browser, link)];
  await volunteersConnected(demo, 2);

  await demo.getByLabel('Samples', { exact: true }).selectOption({ label: '1 billion' });
  await demo.getByRole('button', { name: 'Run Monte Carlo π' }).click();
  const bar = demo.getByRole('progressbar', { name: 'Monte Carlo π progress' });
  // Leave while the leaving volunteer runs a task, before the job ends.
  await expect(leaves.getByText(/^Running \d+ tasks? right now/)).toBeVisible({ timeout: 60_000 });
  await leaves.getByRole('button', { name: 'Leave' }).click();
  expect(Number(await bar.getAttribute('aria-valuenow'))).toBeLessThan(100);
  // Shown within ms of the click; the cap only bounds the wait on a loaded machine.
  await expect(leaves.getByRole('status')).toContainText('You left cluster', { timeout: 30_000 });
  await expect(leaves.getByRole('button', { name: 'Join again' })).toBeVisible();
  await screenshot(leaves, 'volunteer-left');

  await volunteersConnected(demo, 1);
  const status = demo.getByRole('status', { name: 'Monte Carlo π status' });
  await expect(status).toContainText(/π ≈ 3\.\d+ .* from 1,000,000,000 samples/, { timeout: 200_000 });
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  expect(Math.abs((await estimate(demo)) - Math.PI)).toBeLessThan(0.01);

  // The departed node is still in the cluster view, marked left.
  const rows = demo.getByRole('table', { name: 'Nodes' }).getByRole('row');
  const withStatus = (s: string) => ({ has: demo.getByRole('cell', { name: s, exact: true }) });
  await expect(rows.filter({ hasText: 'volunteer' }).filter(withStatus('left'))).toHaveCount(1);
  await expect(rows.filter({ hasText: 'volunteer' }).filter(withStatus('alive'))).toHaveCount(1);
  await expect(stays.getByRole('status')).toContainText('Joined cluster');
});

test('the GPU job says how to get a GPU when no node has one, then runs on a volunteer offering the fallback GPU and matches the CPU', async ({ demo, browser }) => {
  const link = await startCluster(demo);
  const status = demo.getByRole('status', { name: 'GPU job status' });
  await demo.getByRole('button', { name: 'Run GPU job' }).click();
  await expect(status).toContainText('No node of this cluster offers a GPU');
  await expect(status).toContainText('Offer the fallback GPU');

  await joinByLink(browser, link, { offerFallbackGpu: true });
  await volunteersConnected(demo, 1);
  await expect(demo.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'GPU 1 (fallback)' })).toHaveCount(1);
  await demo.getByLabel('Matrix size (n × n)').selectOption('256');
  await demo.getByRole('button', { name: 'Run GPU job' }).click();
  await expect(status).toContainText(/256 × 256 product in \d+ GPU tasks matches the CPU ✓/, { timeout: 90_000 });
  await expect(status).toContainText(/Adapters: .*\(fallback\)/);
  await expect(status).toContainText(/Elapsed: /);
});

test('quicksort of a size the person picks matches Array.prototype.sort, and the playground runs presets with output and errors', async ({ demo, browser }) => {
  const link = await startCluster(demo);
  await joinByLink(browser, link);
  await volunteersConnected(demo, 1);

  await demo.getByLabel('Numbers to sort').fill('150000');
  await demo.getByRole('button', { name: 'Run quicksort' }).click();
  const sortStatus = demo.getByRole('status', { name: 'Quicksort status' });
  await expect(sortStatus).toContainText(/Sorted 150,000 numbers in \d+ quickSort tasks: matches Array\.prototype\.sort ✓/, { timeout: 90_000 });

  const output = demo.getByRole('log', { name: 'Program output' });
  await demo.getByLabel('Preset').selectOption({ label: 'Actors' });
  await expect(demo.getByLabel('Program', { exact: true })).toHaveValue(/class Counter/);
  await demo.getByRole('button', { name: 'Run program' }).click();
  await expect(output).toContainText('⇐ 11', { timeout: 30_000 });
  await expect(output).toContainText(/^2\n5\n/);

  await demo.getByLabel('Preset').selectOption({ label: 'Errors' });
  await demo.getByRole('button', { name: 'Run program' }).click();
  await expect(output).toContainText('caught RayTaskError — the remote error was a SyntaxError', { timeout: 30_000 });
  await expect(output).toContainText(/✗ RayTaskError: .*JSON/);

  // A program of the person's own, typed into the box.
  await demo.getByLabel('Program', { exact: true }).fill("const sq = ray.remote((x) => x * x);\nprint('squares');\nreturn await ray.get([1, 2, 3].map((x) => sq.remote(x)));");
  await demo.getByRole('button', { name: 'Run program' }).click();
  await expect(output).toContainText('squares\n⇐ [1, 4, 9]', { timeout: 30_000 });
});

test('a volunteer is told when the coordinator goes away and can join again; a wrong token is refused with what to do', async ({ demo, browser }) => {
  const link = await startCluster(demo);
  const volunteer = await joinByLink(browser, link);
  await volunteersConnected(demo, 1);

  const wrong = new URL(link);
  wrong.searchParams.set('token', 'not-the-token');
  const intruder = await (await browser.newContext()).newPage();
  await intruder.goto(wrong.href);
  await intruder.getByRole('button', { name: 'Join' }).click();
  await expect(intruder.getByRole('alert')).toContainText('wrong token');
  await expect(intruder.getByRole('alert')).toContainText('Check that the token matches the invite link');
  await expect(intruder.getByRole('status')).toHaveText('Not joined.');

  await demo.getByRole('button', { name: 'Stop' }).click();
  await expect(volunteer.getByRole('status')).toContainText('went away', { timeout: 30_000 });
  await expect(volunteer.getByRole('button', { name: 'Join again' })).toBeEnabled();
  await expect(volunteer.getByRole('button', { name: 'Leave' })).toBeHidden();
  await screenshot(volunteer, 'volunteer-coordinator-gone');

  // Press Join again while nobody runs the cluster: refused, with what to do.
  await volunteer.getByRole('button', { name: 'Join again' }).click();
  await expect(volunteer.getByRole('alert')).toContainText('ask whoever invited you to start it');
});

test('the coordinator tab reloads: the demo starts its cluster again with the same invite, and a volunteer joined by the link joins again on its own', async ({ demo, browser }) => {
  const link = await startCluster(demo);
  const volunteer = await joinByLink(browser, link);
  await volunteersConnected(demo, 1);
  const firstJoin = await volunteer.getByRole('status').textContent();

  await demo.reload();
  // The page restarts the cluster it ran (name, token and the seat's secret from sessionStorage).
  await expect(demo.getByRole('status').filter({ hasText: /^Cluster lab-\w+ is running/ })).toBeVisible({ timeout: 60_000 });
  expect(await demo.getByLabel('Invite link').inputValue()).toBe(link);
  // The volunteer page, which nobody touches, is a member again: a new membership, listed by the new coordinator.
  await expect(volunteer.getByRole('status')).toContainText('Joined cluster', { timeout: 60_000 });
  expect(await volunteer.getByRole('status').textContent()).not.toBe(firstJoin);
  await volunteersConnected(demo, 1);

  // Stopped on purpose, then reloaded: offered in the form, not restarted.
  await demo.getByRole('button', { name: 'Stop' }).click();
  await expect(volunteer.getByRole('status')).toContainText('went away', { timeout: 30_000 });
  await demo.reload();
  await expect(demo.getByRole('button', { name: 'Start cluster' })).toBeVisible();
  expect(await demo.getByLabel('Cluster name').inputValue()).toBe(new URL(link).searchParams.get('cluster'));
});

test('local mode runs the jobs in this tab alone, the GPU job on the fallback adapter it was told to offer; screenshots of the idle pages', async ({ demo }) => {
  await demo.goto('/');
  await screenshot(demo, 'demo-start');
  const join = await (await demo.context().browser()!.newContext()).newPage();
  await join.goto('/join?cluster=lab-demo&token=s3cret');
  await screenshot(join, 'volunteer-before-join');

  // This tab offers the fallback GPU, which it must be told to.
  await expect(demo.getByLabel('Offer the fallback GPU from this tab')).not.toBeChecked();
  await demo.getByLabel('Offer the fallback GPU from this tab').check();
  await demo.getByRole('button', { name: 'Run in local mode' }).click();
  await expect(demo.getByRole('status').filter({ hasText: /^Local mode/ })).toBeVisible();
  await expect(demo.getByLabel('Invite link')).toBeHidden();
  await expect(demo.getByRole('table', { name: 'Nodes' }).getByRole('row').filter({ hasText: 'GPU 1 (fallback)' })).toHaveCount(1);
  await demo.getByLabel('Numbers to sort').fill('50000');
  await demo.getByRole('button', { name: 'Run quicksort' }).click();
  await expect(demo.getByRole('status', { name: 'Quicksort status' })).toContainText('matches Array.prototype.sort ✓', { timeout: 60_000 });
  await demo.getByRole('button', { name: 'Run GPU job' }).click();
  await expect(demo.getByRole('status', { name: 'GPU job status' })).toContainText('matches the CPU ✓', { timeout: 60_000 });
});
