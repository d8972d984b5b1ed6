// Shared Playwright fixtures: `rayPage` is the demo page with webray imported from /webray.js
// (as docs/api.md says any page may) and started in local mode; it is exposed to page code as
// `globalThis.ray`, and shut down after the test.
import { test as base, expect, type Page } from '@playwright/test';
import type * as RayModule from '../runtime/index.ts';

type Ray = typeof RayModule;

declare global {
  // Set by the rayPage fixture inside the page.
  var ray: Ray;
}

/** Page errors and console errors seen during the test. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

export const test = base.extend<{ rayPage: Page; initOptions: Record<string, unknown> | undefined; isolation: 'origin' | 'none' }>({
  initOptions: [undefined, { option: true }],
  // Where the rayPage's task code runs. 'none' (this page's own workers) by default: these specs
  // check tasks, actors and objects, and their task code posts marks and waits at gates over a
  // BroadcastChannel (state-waits.ts), which only reaches the page from workers of its own origin —
  // task code on the task origin would post to that origin's channel, which the page cannot hear.
  // It is local mode's default too; a spec that wants isolated task code passes 'origin'.
  isolation: ['none', { option: true }],
  rayPage: async ({ page, initOptions, isolation }, use) => {
    await page.goto('/');
    await page.evaluate(async (opts) => {
      const url = '/webray.js';
      const ray = (await import(url)) as Ray;
      await ray.init(opts);
      globalThis.ray = ray;
    }, { isolation, ...initOptions });
    await use(page);
    await page.evaluate(async () => {
      await globalThis.ray?.shutdown();
    });
  },
});

export { expect };
