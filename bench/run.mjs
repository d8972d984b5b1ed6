// `npm run bench`: webray's microbenchmarks under Ray's names (ray_perf.py), with raw browser
// baselines and workerpool measured beside them in the same page of the same run.
// Steps: re-run inside a loopback-only network namespace when possible, build dist/webray.js if
// missing, start signaling/server.ts on 127.0.0.1:0, open its `/` page in headless Chromium,
// inject bench/page/measure.js and bench/groups/*.js, run every group's benchmarks one by one,
// print a table and write bench/results.json. Groups that declare `pages: N` (WebRTC between
// tabs, cluster mode) also get N − 1 other pages of the same browser, opened when the first such
// group starts and kept for the later ones (so raw and webray rows use the same pair of pages).
// Exit code: 0 when the harness and its baselines ran (a webray row may have failed: its error is
// in its row), 1 on a harness failure, 2 on bad options.
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, loadPageAssets, openBenchPage, runPageHelper } from './lib/browser.mjs';
import { insideNetns, reexecInNetns } from './lib/netns.mjs';
import { matchesFilters, parseOptions, USAGE } from './lib/options.mjs';
import { renderTable, renderTargets, withComparisons, writeResults } from './lib/report.mjs';
import { ensureBuilt, startProjectServer } from './lib/server.mjs';

const scriptPath = fileURLToPath(import.meta.url);
const benchDir = dirname(scriptPath);
const root = resolve(benchDir, '..');

const GROUP_SETUP_TIMEOUT_MS = 60_000;
const GROUP_TEARDOWN_TIMEOUT_MS = 30_000;
/** Slack on top of a row's nominal time, for a slow first batch or a slow prepare. */
const ROW_SLACK_MS = 30_000;

const log = (msg) => console.log(`[bench] ${msg}`);
const warn = (msg) => console.error(`[bench] warning: ${msg}`);

class TimeoutError extends Error {}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** False when the page is closed, crashed or its main thread is stuck. */
async function responsive(page) {
  if (page.isClosed()) return false;
  return withTimeout(page.evaluate(() => true), 5_000, 'liveness check').catch(() => false);
}

/** Playwright wraps page errors in "page.evaluate: Error: …\n    at …": keep the useful part. */
function errorText(err) {
  const msg = String(err?.message ?? err);
  return msg.replace(/^page\.evaluate: /, '').split('\n    at ')[0].trim();
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (options.netns && !insideNetns()) {
    const code = reexecInNetns(scriptPath, process.argv.slice(2), log);
    if (code !== null) return code;
  }
  const outPath = resolve(options.out ?? join(benchDir, 'results.json'));
  const timing = { durationMs: options.durationMs, warmupMs: options.warmupMs, repeats: options.repeats };
  log(
    `timing: warm-up ${timing.warmupMs} ms, ${timing.repeats} × ${timing.durationMs} ms per benchmark` +
      `${options.quick ? ' (--quick)' : ''}; network: ${insideNetns() ? 'loopback-only namespace' : 'host'}`,
  );

  const buildWarning = ensureBuilt(root, log);
  const loadAtStart = os.loadavg()[0];
  if (loadAtStart > os.cpus().length / 2) {
    warn(`load average ${loadAtStart.toFixed(1)} on ${os.cpus().length} cores: other work is running, figures will be low and noisy`);
  }
  if (buildWarning) warn(`${buildWarning}; webray rows will fail, baselines still run`);

  let server;
  let browser;
  try {
    server = await startProjectServer(root);
    log(`server at ${server.url}`);
    browser = await launchBrowser();
    log(`chromium ${browser.version()}`);
    return await runAll({ options, timing, outPath, server, browser, loadAtStart });
  } catch (err) {
    console.error(`[bench] harness failure: ${err?.stack ?? err}`);
    return 1;
  } finally {
    await browser?.close().catch(() => {});
    await Promise.resolve(server?.close()).catch(() => {});
  }
}

async function runAll({ options, timing, outPath, server, browser, loadAtStart }) {
  const assets = loadPageAssets(benchDir);
  const pageErrors = [];
  const pageHandlers = (index) => {
    const tag = index === 0 ? 'page' : `page ${index}`;
    return {
      onPageError: (err) => {
        pageErrors.push(`${index === 0 ? '' : `${tag}: `}${err?.message ?? err}`);
        if (options.verbose) warn(`${tag} error: ${err?.message ?? err}`);
      },
      onConsole: (msg) => {
        if (options.verbose) console.error(`[${tag} ${msg.type()}] ${msg.text()}`);
      },
    };
  };
  // The other pages (1 … N − 1) of groups with `pages: N`, reached from the main page through
  // webrayBench.onPage → Node → page.evaluate.
  const others = [];
  const handlers = {
    ...pageHandlers(0),
    onPageCall: async (index, group, helper, arg) => {
      const other = others[index - 1];
      if (!other) throw new Error(`no page ${index}: group ${group} declares fewer pages`);
      try {
        return await runPageHelper(other.page, group, helper, arg);
      } catch (err) {
        throw new Error(`page ${index}, ${helper}: ${errorText(err)}`, { cause: err });
      }
    },
  };
  const ensurePages = async (count) => {
    while (others.length < count - 1) {
      others.push(await openBenchPage(browser, server.url, assets, pageHandlers(others.length + 1)));
    }
  };
  const closeOthers = async () => {
    const closing = others.splice(0).map((o) => o.context.close().catch(() => {}));
    await Promise.all(closing);
  };
  let session = await openBenchPage(browser, server.url, assets, handlers);
  // A wedged page may be any of them: start afresh with all pages (the others reopen on demand).
  const reopen = async () => {
    await session.context.close().catch(() => {});
    await closeOthers();
    session = await openBenchPage(browser, server.url, assets, handlers);
  };

  const groups = await session.page.evaluate(() => webrayBench.list());
  if (groups.length < assets.groups.length) {
    throw new Error(
      `only ${groups.length} of ${assets.groups.length} group files registered: ${pageErrors.join('; ') || 'see --verbose'}`,
    );
  }
  const env = await session.page.evaluate(() => ({
    hardwareConcurrency: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  }));
  const ctx = {
    timing,
    batch: options.batch,
    putBytes: options.putMb * 1024 * 1024,
    // object_transfer_64mib and its raw baseline move this much between two pages.
    transferBytes: 64 * 1024 * 1024,
    assets: { workerpoolSource: assets.workerpoolSource },
  };
  // A filtered run also runs the baseline and peer rows its rows are compared with.
  const selected = new Set();
  for (const b of groups.flatMap((g) => g.benchmarks)) {
    if (!matchesFilters(b.name, options.filters)) continue;
    selected.add(b.name);
    if (b.baseline) selected.add(b.baseline);
    if (b.peer) selected.add(b.peer);
  }
  const isSelected = (b) => selected.has(b.name);
  const planned = groups.flatMap((g) => g.benchmarks.filter(isSelected).map((b) => ({ g, b })));
  if (planned.length === 0) throw new Error(`no benchmark matches ${options.filters.join(', ')}`);
  const nominalRowMs = timing.warmupMs + timing.repeats * timing.durationMs;
  const rowTimeoutMs = Math.max(3 * nominalRowMs, nominalRowMs + ROW_SLACK_MS);
  log(`${planned.length} benchmarks, ~${Math.ceil((planned.length * nominalRowMs) / 1000)} s`);

  const rows = [];
  let index = 0;
  for (const g of groups) {
    const benches = g.benchmarks.filter(isSelected);
    if (benches.length === 0) continue;
    const record = (b, result, error) => {
      rows.push({
        group: g.name,
        subject: g.subject,
        name: b.name,
        description: b.description,
        unit: b.unit,
        value: result?.value ?? null,
        sd: result?.sd ?? null,
        samples: result?.samples ?? null,
        calls: result?.calls ?? null,
        error,
        cleanupError: result?.cleanupError ?? null,
        note: result?.note ?? null,
        baselineName: b.baseline,
        peerName: b.peer,
        target: b.target,
        targetRatio: b.targetRatio,
        ray: b.ray,
      });
    };
    let groupError = null;
    const setup = async (why) => {
      log(`group ${g.name}: setting up${why}`);
      try {
        await withTimeout(ensurePages(g.pages), GROUP_SETUP_TIMEOUT_MS, `opening ${g.pages} pages for group ${g.name}`);
        await withTimeout(
          session.page.evaluate(([name, c]) => webrayBench.setupGroup(name, c), [g.name, ctx]),
          GROUP_SETUP_TIMEOUT_MS,
          `setup of group ${g.name}`,
        );
        groupError = null;
      } catch (err) {
        groupError = `setup of group ${g.name} failed: ${errorText(err)}`;
        if (err instanceof TimeoutError) await reopen();
      }
    };
    await setup('');
    for (const [i, b] of benches.entries()) {
      index++;
      const label = `[${index}/${planned.length}] ${b.name}`;
      if (groupError) {
        log(`${label}: skipped (${groupError})`);
        record(b, null, groupError);
        continue;
      }
      log(`${label} …`);
      try {
        const result = await withTimeout(
          session.page.evaluate(([gn, bn, c]) => webrayBench.runBenchmark(gn, bn, c), [g.name, b.name, ctx]),
          Math.max(rowTimeoutMs, b.timeoutMs ?? 0),
          b.name,
        );
        const sdPct = result.value ? ` ±${((100 * result.sd) / result.value).toFixed(1)}%` : '';
        log(`${label}: ${formatForLog(result.value, b.unit)} ${b.unit}${sdPct}${result.note ? ` (${result.note})` : ''}`);
        if (result.cleanupError) warn(`${b.name}: cleanup failed: ${result.cleanupError}`);
        record(b, result, null);
      } catch (err) {
        const text = errorText(err);
        log(`${label}: ERROR ${text}`);
        record(b, null, text);
        if (err instanceof TimeoutError || !(await responsive(session.page))) {
          // The page is wedged or crashed: carry on in a fresh page with the group set up again.
          await reopen();
          if (i < benches.length - 1) await setup(` again in a fresh page after ${b.name} failed`);
          else groupError = 'page reopened';
        }
      }
    }
    if (!groupError) {
      try {
        await withTimeout(
          session.page.evaluate((name) => webrayBench.teardownGroup(name), g.name),
          GROUP_TEARDOWN_TIMEOUT_MS,
          `teardown of group ${g.name}`,
        );
      } catch (err) {
        warn(`teardown of group ${g.name} failed: ${errorText(err)}`);
        if (err instanceof TimeoutError) await reopen();
      }
    }
  }
  await session.context.close().catch(() => {});
  await closeOthers();

  const finalRows = withComparisons(rows);
  const results = {
    date: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      chromium: browser.version(),
      ...env,
      network: insideNetns() ? 'loopback-only namespace' : 'host',
      // 1-minute load average before and after: a busy machine explains low, noisy figures.
      loadAverage: { start: round2(loadAtStart), end: round2(os.loadavg()[0]) },
    },
    options: { ...timing, quick: options.quick, batch: options.batch, putMb: options.putMb, filters: options.filters },
    server: server.url,
    rows: finalRows,
    pageErrors,
  };
  writeResults(outPath, results);

  console.log('');
  console.log(renderTable(finalRows));
  const targets = renderTargets(finalRows);
  if (targets) console.log(`\nTargets (webray issue):\n${targets}`);
  console.log(
    `\n${results.machine.cores} cores (${results.machine.cpuModel}), hardwareConcurrency ${env.hardwareConcurrency}, ` +
      `Chromium ${results.machine.chromium}, load average ${results.machine.loadAverage.start} → ` +
      `${results.machine.loadAverage.end}, ${results.date}`,
  );
  log(`wrote ${outPath}`);

  const harnessRowsFailed = finalRows.filter((r) => !r.subject && r.error !== null);
  if (harnessRowsFailed.length > 0) {
    console.error(`[bench] harness failure: baseline rows failed: ${harnessRowsFailed.map((r) => r.name).join(', ')}`);
    return 1;
  }
  return 0;
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function formatForLog(value, unit) {
  if (unit === 'GB/s') return value.toFixed(2);
  if (unit === 'MB/s') return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`[bench] harness failure: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
