// Builds the library when dist/ is missing or stale, and starts the project's own server
// (signaling/server.ts, loaded through tsx) on 127.0.0.1, port 0.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Makes sure dist/ holds a current build: through the project's scripts/ensure-build.mjs (which
 * rebuilds when dist/ is missing or older than its sources, as `npm start` does), else by running
 * `vite build` when dist/webray.js is missing. Returns a warning text, or null when the library
 * is there. A failed build is not fatal: the baselines still run without it.
 */
export function ensureBuilt(root, log) {
  const lib = join(root, 'dist', 'webray.js');
  const ensureScript = join(root, 'scripts', 'ensure-build.mjs');
  let result;
  if (existsSync(ensureScript)) {
    result = spawnSync(process.execPath, [ensureScript], {
      cwd: root,
      stdio: ['ignore', process.stderr, process.stderr],
    });
  } else if (!existsSync(lib)) {
    log('dist/webray.js missing: running vite build');
    const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    result = spawnSync(process.execPath, [vite, 'build'], {
      cwd: root,
      stdio: ['ignore', process.stderr, process.stderr],
    });
  }
  if (result?.error) return `the build could not start: ${result.error.message}`;
  if (result && result.status !== 0) return `the build failed (exit ${result.status})`;
  if (!existsSync(lib)) return 'no dist/webray.js after the build';
  return null;
}

/** Starts signaling/server.ts in this process. Returns { url, close }. */
export async function startProjectServer(root) {
  const entry = join(root, 'signaling', 'server.ts');
  if (!existsSync(entry)) throw new Error(`no server at ${entry} (signaling/server.ts not written yet?)`);
  const { tsImport } = await import('tsx/esm/api');
  const mod = await tsImport(pathToFileURL(entry).href, import.meta.url);
  if (typeof mod.startServer !== 'function') throw new Error('signaling/server.ts exports no startServer');
  // testEntry: the object-store group loads /webray-testing.js for the store classes.
  const server = await mod.startServer({ host: '127.0.0.1', port: 0, distDir: join(root, 'dist'), testEntry: true });
  const url = String(server.url ?? `http://127.0.0.1:${server.port}`).replace(/\/+$/, '');
  return { url, close: () => server.close?.() };
}
