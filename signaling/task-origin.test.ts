import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './raw-request.fixture.ts';
import { listen, startServer, type RunningServer } from './server.ts';
import { runnerFiles, startTaskOrigin, type RunningTaskOrigin } from './task-origin.ts';
import { fakeDist } from './fake-dist.fixture.ts';

/** Closes a probe listener. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

/**
 * A loopback port that is free and whose successor is free too, found by listening on both; the
 * probes are closed before it returns. Throws (never returns a guess) when no pair turns up.
 */
async function consecutiveFreePorts(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const low = createServer();
    const base = await listen(low, 0, '127.0.0.1');
    const high = createServer();
    const pair = base < 65535 && (await listen(high, base + 1, '127.0.0.1').then(() => true, () => false));
    await closeServer(low);
    if (pair) {
      await closeServer(high);
      return base;
    }
  }
  throw new Error('no two consecutive free loopback ports in 20 tries');
}


/**
 * The headers the README's isolation model rests on, spelled out here rather than read from
 * TASK_ORIGIN_HEADERS so that a change to that table has to change this test too. The task origin
 * sends them on every response, errors included.
 */
const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  // Its own agent cluster, hence (Chromium) a renderer process apart from the volunteer page.
  'origin-agent-cluster': '?1',
  // Embeddable by the cross-origin-isolated volunteer page, and cross-origin isolated itself
  // (SharedArrayBuffer in task workers).
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'cross-origin',
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/**
 * The runner's Content-Security-Policy, directive by directive: scripts from itself, Blob URLs and
 * `new Function` only (no other origin's scripts), workers from itself and Blob URLs, network
 * access anywhere, no plugins, no <base> or form posts.
 */
const RUNNER_CSP: Readonly<Record<string, string[]>> = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'unsafe-eval'", 'blob:'],
  'worker-src': ["'self'", 'blob:'],
  'connect-src': ['*', 'blob:', 'data:'],
  'img-src': ['*', 'blob:', 'data:'],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
};

/** A CSP header as directive name → sorted sources; a repeated directive (browsers ignore all but the first) fails. */
function cspDirectives(header: unknown): Record<string, string[]> {
  expect(typeof header, 'content-security-policy').toBe('string');
  const directives: Record<string, string[]> = {};
  for (const part of String(header).split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name === undefined || name === '') continue;
    expect(directives, `directive ${name} given twice`).not.toHaveProperty(name.toLowerCase());
    directives[name.toLowerCase()] = sources.sort();
  }
  return directives;
}

describe('task origin', () => {
  let root: string;
  let dist: string;
  let origin: RunningTaskOrigin;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'webray-task-origin-test-'));
    dist = await fakeDist(root);
    origin = await startTaskOrigin({ host: '127.0.0.1', port: 0, distDir: dist });
  });

  afterAll(async () => {
    await origin.close();
    await rm(root, { recursive: true, force: true });
  });

  it('lists the runner page and the chunks the manifest says it loads, nothing else', async () => {
    const files = await runnerFiles(dist);
    expect([...files.keys()].sort()).toEqual([
      '/assets/modulepreload-polyfill-XyZ2.js',
      '/assets/runner-AbC1.js',
      '/runner.html',
    ]);
    expect(files.get('/runner.html')).toBe(path.join(dist, 'runner.html'));
  });

  it('serves /runner.html as HTML (its headers: see the isolation test below)', async () => {
    const res = await fetch(`${origin.url}/runner.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('<title>webray task runner</title>');
  });

  it('sends the isolation headers, Origin-Agent-Cluster included, on every response', async () => {
    const responses = {
      'GET /runner.html': await rawRequest(origin.url, '/runner.html'),
      'HEAD /runner.html': await rawRequest(origin.url, '/runner.html', 'HEAD'),
      'GET runner script': await rawRequest(origin.url, '/assets/runner-AbC1.js'),
      'GET 404': await rawRequest(origin.url, '/index.html'),
      'POST 405': await rawRequest(origin.url, '/runner.html', 'POST'),
    };
    expect(Object.values(responses).map((r) => r.status)).toEqual([200, 200, 200, 404, 405]);
    for (const [what, res] of Object.entries(responses)) {
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) expect(res.headers[name], `${what}: ${name}`).toBe(value);
      expect(cspDirectives(res.headers['content-security-policy']), what).toEqual(RUNNER_CSP);
    }
  });

  it('serves the runner script and its imports as JavaScript, and answers HEAD', async () => {
    for (const file of ['/assets/runner-AbC1.js', '/assets/modulepreload-polyfill-XyZ2.js']) {
      const res = await fetch(`${origin.url}${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    }
    const head = await fetch(`${origin.url}/runner.html?x=1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('answers 404 for every page and file of the main origin, and for anything else', async () => {
    const paths = [
      '/',
      '/join',
      '/index.html',
      '/join.html',
      '/webray.js',
      '/config.json',
      '/assets/index-QrS3.js',
      '/assets/style-TuV4.css',
      '/.vite/manifest.json',
      '/socket.io/?EIO=4&transport=polling',
      '/runner.html/',
      '/RUNNER.HTML',
      '/%72unner.html',
      '/assets/../runner.html',
      '/../secret.json',
      '/assets/%2e%2e/%2e%2e/secret.json',
      '/assets/..%2f..%2fsecret.json',
      '//runner.html',
    ];
    for (const p of paths) {
      const res = await rawRequest(origin.url, p);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain('secret');
      expect(res.body, p).not.toContain('demo page');
    }
  });

  it('refuses methods other than GET and HEAD', async () => {
    const res = await rawRequest(origin.url, '/runner.html', 'POST');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
  });

  it('answers 404 for the runner when dist/ has no build, saying how to make one', async () => {
    const empty = await startTaskOrigin({ host: '127.0.0.1', port: 0, distDir: path.join(root, 'nothing') });
    try {
      const res = await rawRequest(empty.url, '/runner.html');
      expect(res.status).toBe(404);
      expect(res.body).toContain('npm run build');
    } finally {
      await empty.close();
    }
  });

  it('closes idempotently', async () => {
    const extra = await startTaskOrigin({ host: '127.0.0.1', port: 0, distDir: dist });
    await Promise.all([extra.close(), extra.close()]);
    await expect(fetch(`${extra.url}/runner.html`)).rejects.toThrow();
  });
});

describe('webray server with its task origin', () => {
  let root: string;
  let server: RunningServer;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'webray-task-origin-server-test-'));
    const dist = await fakeDist(root);
    server = await startServer({ host: '127.0.0.1', port: 0, distDir: dist, log: () => {} });
  });

  afterAll(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('listens on a second free port that serves the runner, not the main pages', async () => {
    expect(server.taskPort).toBeGreaterThan(0);
    expect(server.taskPort).not.toBe(server.port);
    expect(server.taskUrl).toBe(`http://127.0.0.1:${server.taskPort}`);
    expect((await fetch(`${server.taskUrl}/runner.html`)).status).toBe(200);
    expect((await fetch(`${server.taskUrl}/join`)).status).toBe(404);
    expect((await fetch(`${server.url}/join`)).status).toBe(200);
  });

  it('advertises the task origin in /config.json, on the host name the page used', async () => {
    const res = await fetch(`${server.url}/config.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(await res.json()).toEqual({ taskOrigin: server.taskUrl });

    const viaLocalhost = await rawRequest(server.url, '/config.json', 'GET', { host: `localhost:${server.port}` });
    expect(JSON.parse(viaLocalhost.body)).toEqual({ taskOrigin: `http://localhost:${server.taskPort}` });
  });

  it('advertises the configured ICE servers in /config.json, TURN credentials minted per request and never stored', async () => {
    const secret = 'a-long-shared-secret-for-coturn';
    const withIce = await startServer({
      host: '127.0.0.1',
      port: 0,
      taskPort: 0,
      distDir: path.join(root, 'dist'),
      log: () => {},
      iceServers: [{ urls: 'stun:stun.example.org:3478' }],
      turn: { urls: ['turn:turn.example.org:3478'], secret, ttlSeconds: 600 },
    });
    try {
      const before = Math.floor(Date.now() / 1000);
      const res = await fetch(`${withIce.url}/config.json`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { taskOrigin: string; iceServers: { urls: unknown; username?: string; credential?: string }[] };
      expect(body.taskOrigin).toBe(withIce.taskUrl);
      expect(body.iceServers[0]).toEqual({ urls: 'stun:stun.example.org:3478' });
      const turn = body.iceServers[1]!;
      expect(turn.urls).toEqual(['turn:turn.example.org:3478']);
      const expiry = Number(turn.username!.split(':')[0]);
      expect(expiry).toBeGreaterThanOrEqual(before + 600);
      expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600);
      expect(turn.credential).toBe(createHmac('sha1', secret).update(turn.username!).digest('base64'));
    } finally {
      await withIce.close();
    }
    await expect(startServer({ host: '127.0.0.1', port: 0, distDir: path.join(root, 'dist'), log: () => {}, iceServers: [{ urls: 'turn:t' }] })).rejects.toThrow(
      'iceServers (WEBRAY_ICE_SERVERS)[0] is a TURN server (turn:t) without username',
    );
  });

  it('lets a page of an allowed origin read /config.json (an app with its own bundle), and no other', async () => {
    const app = 'http://127.0.0.1:5173';
    const withApp = await startServer({ host: '127.0.0.1', port: 0, taskPort: 0, distDir: path.join(root, 'dist'), log: () => {}, allowedOrigins: [app] });
    try {
      const allowed = await rawRequest(withApp.url, '/config.json', 'GET', { origin: app });
      expect(allowed.headers['access-control-allow-origin']).toBe(app);
      expect(allowed.headers['vary']).toBe('Origin');
      const other = await rawRequest(withApp.url, '/config.json', 'GET', { origin: 'https://evil.example' });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await withApp.close();
    }
  });

  it('gives the task origin no CORS access to the main origin', async () => {
    // Task code runs as the task origin; what the main origin serves must stay unreadable to it.
    const paths = ['/', '/join', '/webray.js', '/config.json', '/socket.io/?EIO=4&transport=polling'];
    for (const p of paths) {
      const res = await rawRequest(server.url, p, 'GET', { origin: server.taskUrl });
      // The socket server refuses the task origin outright: it is not one of the allowed origins.
      expect(res.status, p).toBe(p.startsWith('/socket.io/') ? 403 : 200);
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-')), p).toEqual([]);
    }
  });

  it('uses port + 1 by default, an explicit taskPort, and an explicit public task origin', async () => {
    const explicit = await startServer({
      host: '127.0.0.1',
      port: 0,
      taskPort: 0,
      taskOrigin: 'https://tasks.example.org',
      distDir: path.join(root, 'dist'),
      log: () => {},
    });
    try {
      expect(await (await fetch(`${explicit.url}/config.json`)).json()).toEqual({ taskOrigin: 'https://tasks.example.org' });
    } finally {
      await explicit.close();
    }
    // port + 1: the server must take `base` and `base + 1`. Both are held while probed and released
    // just before the server binds them; should another process take one in that instant, the
    // server fails to start and so does this test, loudly.
    const base = await consecutiveFreePorts();
    const next = await startServer({ host: '127.0.0.1', port: base, distDir: path.join(root, 'dist'), log: () => {} });
    try {
      expect(next.port).toBe(base);
      expect(next.taskPort).toBe(base + 1);
      expect((await fetch(`${next.taskUrl}/runner.html`)).status).toBe(200);
    } finally {
      await next.close();
    }
  });

  it('closes both listeners', async () => {
    const s = await startServer({ host: '127.0.0.1', port: 0, distDir: path.join(root, 'dist'), log: () => {} });
    await s.close();
    await expect(fetch(`${s.taskUrl}/runner.html`)).rejects.toThrow();
    await expect(fetch(`${s.url}/join`)).rejects.toThrow();
  });
});
