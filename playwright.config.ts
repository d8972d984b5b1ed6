// End-to-end tests: real Chromium tabs against the real server. `npm run test:e2e` builds dist/
// and runs this inside a loopback-only network namespace (scripts/e2e.sh); Playwright starts
// the server itself, so it runs inside the namespace too.
import { existsSync } from 'node:fs';
import { chromium, defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumPath } from './scripts/chromium.mjs';

const PORT = Number(process.env['WEBRAY_E2E_PORT'] ?? 8787);
const BASE_URL = `http://127.0.0.1:${PORT}`;

/** Debian's Chromium when present (Playwright cannot download browsers everywhere), else Playwright's own. */
function chromiumExecutable(): string | undefined {
  const found = chromiumPath();
  if (found) return found;
  if (existsSync(chromium.executablePath())) return undefined;
  throw new Error(
    'No Chromium for the browser tests. Install one: `apt-get install chromium` (Debian/Ubuntu, ' +
      'found at /usr/bin/chromium) or `npx playwright install chromium`; or set CHROMIUM_PATH.',
  );
}

export default defineConfig({
  testDir: 'e2e',
  // A 2-core machine: two spec files at a time, tests of one file in order.
  workers: 2,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  forbidOnly: !!process.env['CI'],
  // No retries, in CI or not: a test that fails once is a race or a bug to fix, never noise to
  // hide. `npm test` fails on the first flaky run.
  retries: 0,
  reporter: 'list',
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromiumExecutable(),
      // The project's Chromium flags (scripts/chromium.mjs), plus gc() for the leak tests.
      args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'],
    },
  },
  projects: [{ name: 'chromium' }],
  webServer: {
    command: 'node --import tsx signaling/server.ts',
    url: `${BASE_URL}/webray.js`,
    // WEBRAY_TEST_ENTRY: the specs that need test hooks load /webray-testing.js (runtime/testing.ts).
    env: { HOST: '127.0.0.1', PORT: String(PORT), WEBRAY_TEST_ENTRY: '1' },
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
