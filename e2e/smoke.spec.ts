// Smoke test of what the server serves: the demo page, the volunteer page and the library, and
// that loading a page initialises nothing (API.md, "Loading it").
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

test('the demo page loads cross-origin isolated, with its title and run button', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('webray');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('webray');
  await expect(page.getByRole('button', { name: 'Run Monte Carlo π (local mode)' })).toBeEnabled();
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(errors).toEqual([]);
});

test('the join page loads and says plainly that joining is not available yet', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto('/join?cluster=lab&token=s3cret&autojoin=1');
  expect(response?.status()).toBe(200);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Join a webray cluster');
  await expect(page.getByRole('status')).toContainText('Not available yet');
  expect(errors).toEqual([]);
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

test('the Monte Carlo button estimates π, or says clearly why it cannot', async ({ page }) => {
  await page.goto('/');
  const { hasInit } = await probeLibrary(page);
  await page.getByRole('button', { name: 'Run Monte Carlo π (local mode)' }).click();
  const output = page.locator('#pi-result');
  if (hasInit) {
    await expect(output).toContainText(/π ≈ 3\.1\d+/, { timeout: 45_000 });
    await expect(output).toContainText(/8 tasks × 2,000,000 samples in \d+ ms/);
  } else {
    // The runtime is still a placeholder without init(): the page must show the failure.
    await expect(output).toContainText('Monte Carlo π failed:');
  }
});
