// Smoke test of what the server serves: the demo page, the volunteer page and the library, and
// that loading a page initialises nothing (docs/api.md, "Loading it").
import { expect, test, type Page } from '@playwright/test';

/** Collects uncaught page errors and console errors, which a clean page must not produce. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

/** Imports /webray.js in the page the way any page of the origin may, and reports its state. */
function probeLibrary(page: Page): Promise<{ isInitialized: boolean; hasInit: boolean }> {
  return page.evaluate(async () => {
    const url = '/webray.js';
    const ray = (await import(url)) as { isInitialized(): boolean; init?: unknown };
    return { isInitialized: ray.isInitialized(), hasInit: typeof ray.init === 'function' };
  });
}

test('the demo page loads cross-origin isolated, with its title and start buttons; jobs wait for a session', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('webray');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('webray');
  await expect(page.getByRole('button', { name: 'Start cluster' })).toBeEnabled();
  await expect(page.getByRole('button', { name: 'Run in local mode' })).toBeEnabled();
  await expect(page.getByRole('button', { name: 'Run Monte Carlo π' })).toBeDisabled();
  // Name and token are prefilled with random values.
  await expect(page.getByLabel('Cluster name')).toHaveValue(/^lab-\w+$/);
  await expect(page.getByLabel('Token')).toHaveValue(/^\w{20}$/);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(errors).toEqual([]);
});

test('the join page shows the cluster from the link and joins only when asked', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto('/join?cluster=lab&token=s3cret');
  expect(response?.status()).toBe(200);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Join a webray cluster');
  await expect(page.getByRole('status')).toHaveText('Not joined yet: press Join to lend this tab to cluster lab.');
  await expect(page.getByLabel('Cluster name')).toHaveValue('lab');
  await expect(page.getByRole('button', { name: 'Join' })).toBeEnabled();
  expect(errors).toEqual([]);
});

test('autojoin=1 joins at once, and a cluster nobody started is refused with what to do', async ({ page }) => {
  await page.goto('/join?cluster=nobody-started-this&token=s3cret&autojoin=1');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Could not join');
  await expect(alert).toContainText('no coordinator is running cluster nobody-started-this');
  await expect(page.getByRole('status')).toHaveText('Not joined.');
  await expect(page.getByRole('button', { name: 'Join' })).toBeEnabled();
});

test('/webray.js is served as JavaScript', async ({ request }) => {
  const response = await request.get('/webray.js');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toMatch(/^text\/javascript\b/);
});

test('pages import /webray.js and are not initialised on load', async ({ page }) => {
  const errors = watchErrors(page);
  for (const path of ['/', '/join']) {
    await page.goto(path);
    expect((await probeLibrary(page)).isInitialized, path).toBe(false);
  }
  expect(errors).toEqual([]);
});

test('in local mode the Monte Carlo button estimates π in this tab alone', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Run in local mode' }).click();
  await expect(page.getByText(/^Local mode: this tab alone/)).toBeVisible();
  await page.getByLabel('Samples', { exact: true }).selectOption({ label: '10 million' });
  await page.getByRole('button', { name: 'Run Monte Carlo π' }).click();
  const result = page.getByRole('status', { name: 'Monte Carlo π status' });
  await expect(result).toContainText(/π ≈ 3\.1\d+ .* from 10,000,000 samples/, { timeout: 45_000 });
  await expect(result).toContainText(/Elapsed: [\d.]+ m?s/);
  await expect(page.getByRole('progressbar', { name: 'Monte Carlo π progress' })).toHaveAttribute('aria-valuenow', '100');
});
