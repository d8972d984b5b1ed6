// webray as a package another project installs (issue 14): `npm pack` makes the tarball; a
// temporary app — its own package.json, page and Vite build, outside this repository — gets it
// unpacked as node_modules/webray, with its dependencies linked from this repository's
// node_modules (the test must not reach the registry: it runs in a loopback-only namespace).
// The app's page does `import * as ray from 'webray'` and is bundled by Vite; its types come from
// the package's `exports`; `webray serve` runs from the package's bin. The app's page runs a
// local-mode task, then coordinates a cluster through `webray serve` with one volunteer.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import type * as RayModule from '../runtime/index.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let dir: string;
let appDir: string;
let serveProc: ChildProcess | undefined;
let appServer: Server | undefined;
let appUrl = '';
let serveUrl = '';

test.describe.configure({ mode: 'serial', timeout: 180_000 });

/** A port nothing listens on now (held and released: the server binds it a moment later). */
function freePort(): Promise<number> {
  const probe = createServer();
  return new Promise((resolve) =>
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    }),
  );
}

test.beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'webray-package-'));
  appDir = path.join(dir, 'app');
  const modules = path.join(appDir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  // The package as npm publishes it (dist/ is the build the suite just made).
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8' })) as { filename: string }[];
  mkdirSync(path.join(modules, 'webray'));
  execFileSync('tar', ['-xzf', path.join(dir, packed!.filename), '-C', path.join(modules, 'webray'), '--strip-components=1']);
  for (const name of readdirSync(path.join(REPO, 'node_modules'))) {
    if (name !== 'webray' && name !== '.bin') symlinkSync(path.join(REPO, 'node_modules', name), path.join(modules, name));
  }
});

test.afterAll(async () => {
  serveProc?.kill('SIGTERM');
  await new Promise<void>((r) => (appServer ? appServer.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('npm pack holds the library, its types, the server and its command, and no tests', () => {
  const listing = execFileSync('tar', ['-tzf', path.join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!)], { encoding: 'utf8' }).split('\n');
  for (const f of ['package/dist/webray.js', 'package/dist/types/index.d.ts', 'package/bin/webray.mjs', 'package/signaling/server.ts', 'package/signaling/cli.ts', 'package/runtime/protocol/signaling.ts', 'package/dist/runner.html']) {
    expect(listing, f).toContain(f);
  }
  expect(listing.filter((f) => /\.(test|fixture)\.ts$/.test(f))).toEqual([]);
});

test("an app's own page imports webray from the package, typechecks against its types, is bundled by Vite and runs a task in local mode", async ({ page }) => {
  writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'an-app', private: true, type: 'module', dependencies: { webray: '0.1.0' } }));
  writeFileSync(
    path.join(appDir, 'main.ts'),
    `import * as ray from 'webray';
const double = ray.remote((x: number) => x * 2);
export async function run(): Promise<number[]> {
  await ray.init({ numCpus: 2 });
  const out: number[] = await ray.get([1, 2, 3].map((x) => double.remote(x)));
  await ray.shutdown();
  return out;
}
export async function cluster(address: string, name: string, token: string): Promise<{ nodes: number; where: string[] }> {
  await ray.init({ address, cluster: name, token, numCpus: 1, numGpus: 0 });
  while (ray.nodes().filter((n) => n.alive).length < 2) await new Promise((r) => setTimeout(r, 50));
  // Task code reaches webray through the worker's global \`ray\`: a bundler renames the imported
  // namespace in the app's code, so the shipped source must not name it (docs/api.md).
  const where = ray.remote({ resources: { volunteer: 1 } }, () => String((globalThis as unknown as { ray: typeof ray }).ray.getRuntimeContext().nodeId));
  const ran = await ray.get([where.remote(), where.remote()]);
  const nodes = ray.nodes().filter((n) => n.alive).length;
  await ray.shutdown();
  return { nodes, where: ran };
}
Object.assign(globalThis, { appRun: run, appCluster: cluster });
`,
  );
  writeFileSync(path.join(appDir, 'index.html'), '<!doctype html><title>an app</title><script type="module" src="./main.ts"></script>');
  writeFileSync(
    path.join(appDir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2023', 'DOM'] }, files: ['main.ts'] }),
  );
  // Its types resolve through the package's exports.
  execFileSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', appDir], { encoding: 'utf8' });
  // Its own bundle (the app's Vite build, not webray's server).
  execFileSync(process.execPath, [path.join(REPO, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: appDir, encoding: 'utf8' });
  const distDir = path.join(appDir, 'dist');
  appServer = createServer((req, res) => {
    const file = path.join(distDir, (req.url ?? '/') === '/' ? 'index.html' : path.normalize(req.url!).replace(/^\/+/, ''));
    readFile(file).then(
      (body) => {
        res.writeHead(200, {
          'Content-Type': file.endsWith('.js') ? 'text/javascript' : 'text/html',
          // Cross-origin isolated, as webray's own pages are (its docs ask an app for the same).
          'Cross-Origin-Opener-Policy': 'same-origin',
          'Cross-Origin-Embedder-Policy': 'require-corp',
        });
        res.end(body);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((r) => appServer!.listen(0, '127.0.0.1', r));
  appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/`;
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(appUrl);
  await page.waitForFunction(() => typeof (globalThis as { appRun?: unknown }).appRun === 'function');
  expect(await page.evaluate(() => (globalThis as unknown as { appRun: () => Promise<number[]> }).appRun())).toEqual([2, 4, 6]);
  expect(errors).toEqual([]);
});

test("the package's `webray serve` starts the server: its pages and the task origin answer", async ({ request }) => {
  // The app's page coordinates through it: its origin is allowed, with the server's own (its /join page).
  const [port, taskPort] = [await freePort(), await freePort()];
  serveProc = spawn(
    process.execPath,
    [
      path.join(appDir, 'node_modules', 'webray', 'bin', 'webray.mjs'),
      'serve',
      '--port',
      String(port),
      '--task-port',
      String(taskPort),
      '--allowed-origins',
      `${new URL(appUrl).origin},http://127.0.0.1:${port}`,
    ],
    { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`webray serve did not start within 30 s:\n${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /webray server listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    serveProc!.stdout!.on('data', onData);
    serveProc!.stderr!.on('data', onData);
    serveProc!.once('exit', (code) => reject(new Error(`webray serve exited (${code}):\n${out}`)));
  });
  serveUrl = url;
  const config = (await (await request.get(`${url}/config.json`)).json()) as { taskOrigin: string };
  expect((await request.get(`${url}/webray.js`)).status()).toBe(200);
  expect((await request.get(`${config.taskOrigin}/runner.html`)).status()).toBe(200);
});

test("the app's page coordinates a cluster through `webray serve`, with a volunteer from the server's /join page", async ({ page, browser }) => {
  const name = `pkg-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const token = `tok-${crypto.randomUUID()}`;
  await page.goto(appUrl);
  await page.waitForFunction(() => typeof (globalThis as { appCluster?: unknown }).appCluster === 'function');
  const result = page.evaluate(
    ({ address, name, token }) => (globalThis as unknown as { appCluster: (a: string, n: string, t: string) => Promise<{ nodes: number; where: string[] }> }).appCluster(address, name, token),
    { address: serveUrl, name, token },
  );
  // The volunteer: the server's own page, joining as an invite link with autojoin does (a custom resource through the API).
  const volunteer = await (await browser.newContext()).newPage();
  await volunteer.goto(`${serveUrl}/join`);
  let volId: string | undefined;
  for (let tries = 0; volId === undefined; tries++) {
    volId = await volunteer
      .evaluate(
        async ({ name, token }) => {
          const url = '/webray.js';
          const ray = (await import(url)) as typeof RayModule;
          return String((await ray.join({ address: location.origin, cluster: name, token, numCpus: 1, numGpus: 0, resources: { volunteer: 1 } })).nodeId);
        },
        { name, token },
      )
      .catch((e: Error) => {
        // The app's cluster may not be started yet: "no coordinator is running cluster …".
        if (tries >= 50 || !/no coordinator/.test(e.message)) throw e;
        return undefined;
      });
    if (volId === undefined) await new Promise((r) => setTimeout(r, 200));
  }
  const r = await result;
  expect(r.nodes).toBe(2);
  expect(r.where).toEqual([volId, volId]);
  await volunteer.context().close();
});
