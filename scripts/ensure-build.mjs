// Used by `npm start`: builds dist/ with `npm run build` when it is missing or older than its
// sources, so a fresh clone (or an edited one) serves what is in the work tree.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUTS = ['dist/index.html', 'dist/join.html', 'dist/webray.js', 'dist/webray-testing.js'];
const SOURCES = ['runtime', 'demo', 'vite.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json'];

/** Newest modification time (ms) under a file or folder, skipping tests and dot files. */
function newestMtime(p) {
  let info;
  try {
    info = statSync(p);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs; // a deleted file shows up as a newer folder
  for (const entry of readdirSync(p, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules' || /\.test\.ts$/.test(entry.name)) continue;
    newest = Math.max(newest, newestMtime(path.join(p, entry.name)));
  }
  return newest;
}

function oldestOutput() {
  let oldest = Infinity;
  for (const out of OUTPUTS) {
    try {
      oldest = Math.min(oldest, statSync(path.join(root, out)).mtimeMs);
    } catch {
      return undefined; // missing
    }
  }
  return oldest;
}

const builtAt = oldestOutput();
const changedAt = Math.max(...SOURCES.map((s) => newestMtime(path.join(root, s))));
if (builtAt !== undefined && builtAt >= changedAt) {
  console.log('dist/ is up to date.');
} else {
  console.log(builtAt === undefined ? 'dist/ is missing: building…' : 'Sources changed since the last build: building…');
  // Through npm so that `npm run build` stays the one definition of the build.
  const npmCli = process.env.npm_execpath;
  const result = npmCli
    ? spawnSync(process.execPath, [npmCli, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error('The build failed: see above.');
    process.exit(result.status ?? 1);
  }
}
