// Headless Chromium for the benchmarks, and the bench page: the server's `/` page with the
// harness (page/measure.js), workerpool's browser build and every group file injected.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.mjs';

/** Group files run in this order (each baseline group before the group measured against it);
 *  any other file in bench/groups/ follows, by name. */
const GROUP_ORDER = ['raw-worker.js', 'workerpool.js', 'webray.js', 'raw-datachannel.js', 'webray-cluster.js'];

export async function launchBrowser() {
  // CHROMIUM_PATH or Debian's chromium; else Playwright's own.
  // Precise heap figures and gc() for the heap soak row (webray group, tasks_1m_heap_soak).
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'] });
}

/** The page scripts to inject, read once from disk. */
export function loadPageAssets(benchDir) {
  const require = createRequire(import.meta.url);
  const workerpoolSource = readFileSync(require.resolve('workerpool/dist/workerpool.min.js'), 'utf8');
  const groupsDir = join(benchDir, 'groups');
  const files = readdirSync(groupsDir).filter((f) => f.endsWith('.js'));
  const ordered = [
    ...GROUP_ORDER.filter((f) => files.includes(f)),
    ...files.filter((f) => !GROUP_ORDER.includes(f)).sort(),
  ];
  return {
    harness: readFileSync(join(benchDir, 'page', 'measure.js'), 'utf8'),
    workerpoolSource,
    groups: ordered.map((f) => ({ file: f, source: readFileSync(join(groupsDir, f), 'utf8') })),
  };
}

/**
 * Opens the bench page in a fresh context (its own renderer and storage, like another tab of its
 * own). CSP is bypassed because the harness is injected as inline scripts into whatever `/`
 * serves; the code under test is still loaded from the server. `onPageCall(index, group, helper,
 * arg)`, when given, backs `webrayBench.onPage` in this page (the way to the run's other pages).
 */
export async function openBenchPage(browser, url, assets, { onPageError, onConsole, onPageCall }) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (err) => onPageError?.(err));
  page.on('console', (msg) => onConsole?.(msg));
  if (onPageCall) await page.exposeFunction('webrayBenchOnPage', onPageCall);
  // The page's main-thread busy time so far (CDP Performance.getMetrics TaskDuration, ms): rows that
  // report what each task costs the coordinator's main thread read it before and after.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.exposeFunction('webrayBenchMainThreadMs', async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const task = metrics.find((m) => m.name === 'TaskDuration');
    if (!task) throw new Error('Performance.getMetrics reported no TaskDuration');
    return task.value * 1000;
  });
  // `/` is the demo page, which initialises nothing; any status will do, only the origin matters.
  await page.goto(`${url}/`, { waitUntil: 'load' });
  await page.addScriptTag({ content: assets.harness });
  await page.addScriptTag({ content: assets.workerpoolSource });
  for (const g of assets.groups) {
    await page.addScriptTag({ content: `${g.source}\n//# sourceURL=bench/groups/${g.file}` });
  }
  const hasHarness = await page.evaluate(() => typeof globalThis.webrayBench?.runBenchmark === 'function');
  if (!hasHarness) throw new Error('bench harness did not load into the page');
  return { context, page };
}

/** Runs `pageHelpers[helper]` of `group` in a bench page (the other end of `webrayBench.onPage`). */
export function runPageHelper(page, group, helper, arg) {
  return page.evaluate(([g, h, a]) => webrayBench.runHelper(g, h, a), [group, helper, arg]);
}
