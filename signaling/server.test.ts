import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRequestPath, startServer, type RunningServer } from './server.ts';
import { rawRequest } from './raw-request.fixture.ts';


describe('webray server', () => {
  let root: string;
  let server: RunningServer;

  beforeAll(async () => {
    // A stand-in for dist/, with a secret beside it that traversal must not reach.
    root = await mkdtemp(path.join(tmpdir(), 'webray-server-test-'));
    const dist = path.join(root, 'dist');
    await mkdir(path.join(dist, 'assets'), { recursive: true });
    await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>webray</title>');
    await writeFile(path.join(dist, 'join.html'), '<!doctype html><title>join</title>');
    await writeFile(path.join(dist, 'webray.js'), 'export function isInitialized() { return false; }');
    await writeFile(path.join(dist, 'webray-testing.js'), 'export const __objectStoreTestHooks = {};');
    await writeFile(path.join(dist, 'assets', 'app-1234.css'), 'body{}');
    await writeFile(path.join(dist, '.hidden'), 'hidden');
    await writeFile(path.join(root, 'secret.json'), '{"secret":true}');
    server = await startServer({ host: '127.0.0.1', port: 0, distDir: dist });
  });

  afterAll(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('listens on the free port it picked and reports its URL', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('serves the demo page at / with isolation and no-cache headers', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<title>webray</title>');
  });

  it('serves the volunteer page at /join, ignoring the query string', async () => {
    const res = await fetch(`${server.url}/join?cluster=lab&token=s3cret&autojoin=1`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>join</title>');
  });

  it('serves the library at /webray.js as JavaScript', async () => {
    const res = await fetch(`${server.url}/webray.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await res.text()).toContain('isInitialized');
  });

  it('refuses the test entry unless started with testEntry, however its path is spelled', async () => {
    for (const p of ['/webray-testing.js', '/webray-testing.js?x=1', '/webray%2Dtesting.js', '/assets/../webray-testing.js']) {
      const res = await rawRequest(server.url, p);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain('__objectStoreTestHooks');
    }
    expect((await rawRequest(server.url, '/webray-testing.js')).body).toContain('WEBRAY_TEST_ENTRY=1');
    const testing = await startServer({ host: '127.0.0.1', port: 0, distDir: path.join(root, 'dist'), testEntry: true });
    try {
      const res = await fetch(`${testing.url}/webray-testing.js`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(await res.text()).toContain('__objectStoreTestHooks');
    } finally {
      await testing.close();
    }
  });

  it('serves built assets with their content type, and HEAD without a body', async () => {
    const res = await fetch(`${server.url}/assets/app-1234.css`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const head = await fetch(`${server.url}/assets/app-1234.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('6');
    expect(await head.text()).toBe('');
  });

  it('answers 404 for unknown paths, folders and dot files', async () => {
    for (const p of ['/nope', '/assets', '/assets/', '/.hidden', '/join/extra']) {
      const res = await fetch(`${server.url}${p}`);
      expect(res.status, p).toBe(404);
    }
  });

  it('refuses other methods', async () => {
    const res = await fetch(`${server.url}/`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('never serves files outside dist/, however the path is spelled', async () => {
    const attempts = [
      '/../secret.json',
      '/assets/../../secret.json',
      '/%2e%2e/secret.json',
      '/..%2fsecret.json',
      '/%2e%2e%2fsecret.json',
      '/assets/..%2f..%2fsecret.json',
      '/..%5csecret.json',
      '/%00/secret.json',
      '/%E0%A4%A',
    ];
    for (const p of attempts) {
      const res = await rawRequest(server.url, p);
      expect([400, 404], p).toContain(res.status);
      expect(res.body, p).not.toContain('secret');
    }
  });

  it('maps request paths inside dist only', () => {
    const dist = path.resolve('/srv/dist');
    expect(resolveRequestPath(dist, '/')).toBe(path.join(dist, 'index.html'));
    expect(resolveRequestPath(dist, '/join?x=1')).toBe(path.join(dist, 'join.html'));
    expect(resolveRequestPath(dist, '/assets/a%20b.js')).toBe(path.join(dist, 'assets', 'a b.js'));
    expect(resolveRequestPath(dist, '/../x')).toBeUndefined();
    expect(resolveRequestPath(dist, '/..%2fx')).toBeUndefined();
    expect(resolveRequestPath(dist, '/%ZZ')).toBe('bad-request');
  });

  it('hosts socket.io beside the pages', async () => {
    const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^0\{"sid"/);
  });
});
