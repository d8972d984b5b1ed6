#!/usr/bin/env node
// `npm run demo`: the demo without a browser window. Starts the server and headless Chromium,
// opens the demo page as coordinator and N volunteer tabs by its invite link, runs Monte Carlo π
// across them through the page itself (the same buttons a person presses), shows its progress in
// the terminal, and prints the estimate, the elapsed time and the samples each node computed.
// Everything stays on loopback (inside a loopback-only network namespace where one can be made).
/* global document, Option -- used only in code that runs in the page (page.evaluate) */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuilt, startProjectServer } from '../bench/lib/server.mjs';
import { insideNetns, reexecInNetns } from '../bench/lib/netns.mjs';
import { CHROMIUM_ARGS, chromiumPath as findChromium } from './chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run demo -- [--volunteers N] [--cpus N] [--samples N] [--no-netns]
  --volunteers N  volunteer tabs to open (default 3)
  --cpus N        CPUs each volunteer offers (default 1)
  --samples N     Monte Carlo samples in all (default 100000000)
  --no-netns      run in the host network instead of a loopback-only namespace`;

function fail(message, code = 1) {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(code);
}

let opts;
try {
  const { values } = parseArgs({
    options: {
      volunteers: { type: 'string', default: '3' },
      cpus: { type: 'string', default: '1' },
      samples: { type: 'string', default: '100000000' },
      'no-netns': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  opts = {
    volunteers: Number(values.volunteers),
    cpus: Number(values.cpus),
    samples: Number(values.samples),
    netns: !values['no-netns'],
  };
  for (const [k, v] of Object.entries(opts)) {
    if (k !== 'netns' && (!Number.isInteger(v) || v < (k === 'volunteers' ? 0 : 1))) throw new Error(`--${k} must be a whole number, got ${v}`);
  }
} catch (e) {
  fail(`${e.message}\n${USAGE}`, 2);
}

const log = (msg) => process.stdout.write(`${msg}\n`);

if (opts.netns && !insideNetns()) {
  const code = reexecInNetns(fileURLToPath(import.meta.url), process.argv.slice(2), log);
  if (code !== null) process.exit(code);
}

/** Debian's Chromium, installed on the spot when this machine has none (as .ci/run does). */
function chromiumPath() {
  const found = findChromium();
  if (found) return found;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    log('No Chromium found: installing Debian\'s chromium package for the headless demo…');
    const r = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], { stdio: 'inherit' });
    if (r.status === 0 && existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  }
  return undefined; // Playwright's own Chromium, if `npx playwright install chromium` put one there
}

function bar(fraction, width = 40) {
  const n = Math.round(fraction * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}


async function main() {
  const buildProblem = ensureBuilt(root, log);
  if (buildProblem) fail(`cannot build the pages: ${buildProblem}`);
  const { chromium } = await import('playwright-core');
  const server = await startProjectServer(root);
  let browser;
  try {
    const executablePath = chromiumPath();
    try {
      browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    } catch (e) {
      fail(`cannot start Chromium (${e.message.split('\n')[0]}); install it: apt-get install chromium, or npx playwright install chromium`);
    }
    const errors = [];
    const coordinator = await browser.newPage();
    coordinator.on('pageerror', (e) => errors.push(e.message));
    await coordinator.goto(`${server.url}/`);
    await coordinator.getByLabel('CPUs this tab offers').fill('1');
    await coordinator.getByRole('button', { name: 'Start cluster' }).click();
    await coordinator.getByRole('status').filter({ hasText: /^Cluster \S+ is running/ }).waitFor({ timeout: 30_000 });
    const link = await coordinator.getByLabel('Invite link').inputValue();
    log(`Coordinator started: ${link.split('?')[0].replace(/\/join$/, '/')} — invite link ${link}`);

    for (let i = 0; i < opts.volunteers; i++) {
      // Each volunteer in a context of its own, like another machine, joining as a person would.
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(`volunteer ${i + 1}: ${e.message}`));
      await page.goto(link);
      await page.getByLabel('CPUs to give').fill(String(opts.cpus));
      await page.getByRole('button', { name: 'Join' }).click();
      await page.getByRole('status').filter({ hasText: /Joined cluster/ }).waitFor({ timeout: 30_000 });
      log(`Volunteer ${i + 1} joined`);
    }
    await coordinator.waitForFunction(
      (n) => document.querySelector('#volunteer-count')?.textContent === String(n),
      opts.volunteers,
      { timeout: 30_000 },
    );

    // Ask for exactly the samples requested: add the choice to the page's list when it is not there.
    await coordinator.evaluate((samples) => {
      const select = document.querySelector('#pi-samples');
      if (![...select.options].some((o) => o.value === String(samples))) {
        select.add(new Option(`${samples.toLocaleString('en-US')} samples`, String(samples)));
      }
    }, opts.samples);
    await coordinator.getByLabel('Samples', { exact: true }).selectOption(String(opts.samples));
    log(`Running Monte Carlo π with ${opts.samples.toLocaleString('en-US')} samples on ${opts.volunteers + 1} nodes…`);
    await coordinator.getByRole('button', { name: 'Run Monte Carlo π' }).click();

    const status = coordinator.getByRole('status', { name: 'Monte Carlo π status' });
    const progress = coordinator.getByRole('progressbar', { name: 'Monte Carlo π progress' });
    const tty = process.stdout.isTTY;
    let last = -1;
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      const text = (await status.textContent()) ?? '';
      const pct = Number(await progress.getAttribute('aria-valuenow')) || 0;
      if (pct !== last) {
        last = pct;
        if (tty) process.stdout.write(`\r${bar(pct / 100)}`);
        else if (pct % 10 === 0) log(bar(pct / 100));
      }
      if (/π ≈/.test(text) && pct >= 100) break;
      if (/fail|error/i.test(text)) {
        if (tty) process.stdout.write('\n');
        fail(`the job failed: ${text}`);
      }
      if (Date.now() > deadline) fail('the job did not finish within 15 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    if (tty) process.stdout.write('\n');

    const estimate = Number(await coordinator.getByRole('status', { name: 'Estimate of π' }).textContent());
    const text = (await status.textContent()) ?? '';
    const elapsed = /Elapsed: ([\d.]+ (?:ms|s))/.exec(text)?.[1] ?? '?';
    const rows = await coordinator.getByRole('table', { name: 'Samples per node' }).locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent.trim())),
    );
    log(`π ≈ ${estimate} (error ${Math.abs(estimate - Math.PI).toExponential(2)}), elapsed ${elapsed}`);
    log('Samples per node:');
    for (const cells of rows) log(`  ${cells.join('  ')}`);
    if (errors.length > 0) log(`Page errors seen: ${errors.join('; ')}`);
    if (!Number.isFinite(estimate) || Math.abs(estimate - Math.PI) > 0.05) fail(`the estimate ${estimate} is not close to π`);
  } finally {
    await browser?.close();
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => fail(e.stack ?? String(e)),
);
