// The server's own origins: who may open a socket, what /config.json and the pages' CSP name.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originAllowed, ownOrigins, parseAllowedOrigins, requestOrigin } from './origins.ts';
import { startServer, type RunningServer } from './server.ts';
import { rawRequest } from './raw-request.fixture.ts';


/** Connects a socket.io client sending `origin` (none when undefined); resolves whether the server let it in. */
async function tryConnect(url: string, origin: string | undefined): Promise<'connected' | 'refused'> {
  const s: Socket = connect(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(origin === undefined ? {} : { extraHeaders: { origin } }),
  });
  try {
    return await new Promise((resolve) => {
      s.once('connect', () => resolve('connected'));
      s.once('connect_error', () => resolve('refused'));
    });
  } finally {
    s.close();
  }
}

function csp(header: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(header).split(';')) {
    const [name, ...rest] = part.trim().split(/\s+/);
    if (name) out[name] = rest.join(' ');
  }
  return out;
}

describe('the server’s origins', () => {
  let root: string;
  let dist: string;
  let server: RunningServer;
  let logs: string[];

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'webray-origins-test-'));
    dist = path.join(root, 'dist');
    await mkdir(dist, { recursive: true });
    await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>webray</title>');
    await writeFile(path.join(dist, 'join.html'), '<!doctype html><title>join</title>');
    logs = [];
    server = await startServer({ host: '127.0.0.1', port: 0, distDir: dist, log: (l) => logs.push(l) });
  });

  afterAll(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  it('admits socket connections from its own origins and from non-browser clients, not from other sites', async () => {
    const p = server.port;
    expect(server.allowedOrigins).toEqual([`http://127.0.0.1:${p}`, `http://localhost:${p}`, `http://[::1]:${p}`]);
    for (const origin of [undefined, server.url, `http://localhost:${p}`]) expect(await tryConnect(server.url, origin), String(origin)).toBe('connected');
    const foreign = ['https://evil.example', `http://127.0.0.1:${p + 1}`, server.taskUrl, 'null', `http://127.0.0.1.evil.example:${p}`, `https://127.0.0.1:${p}`];
    for (const origin of foreign) expect(await tryConnect(server.url, origin), origin).toBe('refused');
    expect(logs.some((l) => l.includes('refused a connection from origin "https://evil.example"'))).toBe(true);
  });

  it('takes the allow-list from configuration instead, when given', async () => {
    const s = await startServer({ host: '127.0.0.1', port: 0, distDir: dist, log: () => {}, allowedOrigins: ['https://webray.example.org'] });
    try {
      expect(await tryConnect(s.url, 'https://webray.example.org')).toBe('connected');
      expect(await tryConnect(s.url, s.url)).toBe('refused');
    } finally {
      await s.close();
    }
  });

  it('never echoes a Host header it was not configured with into /config.json', async () => {
    const fallback = { taskOrigin: `http://127.0.0.1:${server.taskPort}` };
    for (const host of ['evil.example', `evil.example:${server.port}`, `127.0.0.1:${server.port}@evil.example`, `localhost:${server.port + 5}`, '[::1', '']) {
      const res = await rawRequest(server.url, '/config.json', 'GET', { host });
      if (res.status === 400) continue; // Node refuses some malformed Host headers itself
      expect(JSON.parse(res.body), host).toEqual(fallback);
    }
    // A Host that is one of its own origins picks that host name for the task origin.
    const viaV6 = await rawRequest(server.url, '/config.json', 'GET', { host: `[::1]:${server.port}` });
    expect(JSON.parse(viaV6.body)).toEqual({ taskOrigin: `http://[::1]:${server.taskPort}` });
  });

  it('sends the pages with a CSP that forbids framing them and frames only the task origin', async () => {
    for (const page of ['/', '/join', '/join?cluster=lab&token=x&autojoin=1']) {
      const res = await rawRequest(server.url, page, 'GET', { host: `evil.example:${server.port}` });
      expect(res.status, page).toBe(200);
      const d = csp(res.headers['content-security-policy']);
      expect(d, page).toMatchObject({
        'frame-ancestors': "'none'",
        'frame-src': `http://127.0.0.1:${server.taskPort}`,
        'script-src': "'self' 'unsafe-eval' blob:",
        'worker-src': "'self' blob:",
        'style-src': "'self'",
        'object-src': "'none'",
        'base-uri': "'none'",
      });
      expect(res.headers['x-frame-options'], page).toBe('DENY');
      expect(String(res.headers['content-security-policy'])).not.toContain('evil');
    }
  });
});

describe('origin helpers', () => {
  it('lists own origins: the bind address, loopback names for loopback and wildcard binds, interfaces for wildcard', () => {
    expect(ownOrigins('192.168.1.5', 80)).toEqual(['http://192.168.1.5:80']);
    expect(ownOrigins('::1', 8080)).toEqual(['http://[::1]:8080', 'http://localhost:8080', 'http://127.0.0.1:8080']);
    expect(ownOrigins('0.0.0.0', 8080, () => ['10.0.0.7', 'fe80::1'])).toEqual([
      'http://localhost:8080',
      'http://127.0.0.1:8080',
      'http://[::1]:8080',
      'http://10.0.0.7:8080',
      'http://[fe80::1]:8080',
    ]);
  });

  it('parses ALLOWED_ORIGINS, refusing anything that is not exactly an origin', () => {
    expect(parseAllowedOrigins(undefined)).toBeUndefined();
    expect(parseAllowedOrigins(' ')).toBeUndefined();
    expect(parseAllowedOrigins('https://a.example, http://10.0.0.7:8080/')).toEqual(['https://a.example', 'http://10.0.0.7:8080']);
    for (const bad of ['a.example', 'https://a.example/path', 'ftp://a.example', '*', 'https://user@a.example']) {
      expect(() => parseAllowedOrigins(bad), bad).toThrow(/ALLOWED_ORIGINS: .* is not an origin; give scheme, host and port only/);
    }
  });

  it('checks Origin exactly, letting requests without one through', () => {
    expect(originAllowed(undefined, [])).toBe(true);
    expect(originAllowed('https://a.example', ['https://a.example'])).toBe(true);
    expect(originAllowed('https://a.example.evil', ['https://a.example'])).toBe(false);
    expect(originAllowed('null', ['null'.slice(0, 0)])).toBe(false);
  });

  it('maps a Host header to an allowed origin, or to nothing', () => {
    const allowed = ['http://localhost:8080'];
    expect(requestOrigin('localhost:8080', 'http', allowed)?.hostname).toBe('localhost');
    expect(requestOrigin('LOCALHOST:8080', 'http', allowed)?.hostname).toBe('localhost');
    for (const h of [undefined, 'localhost', 'localhost:8081', 'localhost:8080/x', 'x@localhost:8080', 'evil.example']) {
      expect(requestOrigin(h, 'http', allowed), String(h)).toBeUndefined();
    }
  });
});
