import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeDist } from './fake-dist.fixture.ts';
import { startServer, type RunningServer } from './server.ts';
import { selfSignedCertificate, type TestCertificate } from './tls.fixture.ts';
import { tlsFromEnv } from './tls.ts';

// A dist/ of its own: the unit tests run before the build.
const root = mkdtempSync(path.join(tmpdir(), 'webray-tls-server-'));

/** GET over HTTPS, trusting only the test's certificate. */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

describe('HTTPS on both origins (TLS_CERT, TLS_KEY)', () => {
  let cert: TestCertificate;
  let server: RunningServer;

  beforeAll(async () => {
    await fakeDist(root);
    cert = selfSignedCertificate({ ips: ['127.0.0.1'] });
    server = await startServer({ host: '127.0.0.1', port: 0, taskPort: 0, distDir: path.join(root, 'dist'), log: () => {}, tls: { cert: cert.cert, key: cert.key } });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(cert.dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });

  it('serves the pages, /config.json and the task runner over HTTPS, and names https origins', async () => {
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
    expect(server.taskUrl).toBe(`https://127.0.0.1:${server.taskPort}`);
    expect(server.allowedOrigins).toContain(`https://127.0.0.1:${server.port}`);
    const config = await httpsGet(`${server.url}/config.json`, cert.cert);
    expect(JSON.parse(config.body)).toEqual({ taskOrigin: server.taskUrl });
    expect((await httpsGet(`${server.taskUrl}/runner.html`, cert.cert)).status).toBe(200);
    const page = await httpsGet(`${server.url}/join`, cert.cert);
    expect(page.status).toBe(200);
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    // Plain http on the TLS port is not answered as a page.
    await expect(fetch(`http://127.0.0.1:${server.port}/config.json`)).rejects.toThrow();
  });

  it('refuses a key that is not the certificate\'s, and TLS_CERT without TLS_KEY, naming them', async () => {
    const other = selfSignedCertificate({ dns: ['localhost'] });
    try {
      await expect(startServer({ host: '127.0.0.1', port: 0, taskPort: 0, distDir: path.join(root, 'dist'), log: () => {}, tls: { cert: cert.cert, key: other.key } })).rejects.toThrow(
        /TLS certificate and key cannot be used .*TLS_KEY/,
      );
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
    expect(() => tlsFromEnv({ TLS_CERT: cert.certPath })).toThrow('TLS_CERT and TLS_KEY go together');
    expect(() => tlsFromEnv({ TLS_CERT: cert.certPath, TLS_KEY: '/nonexistent/key.pem' })).toThrow('TLS_KEY: cannot read /nonexistent/key.pem');
    expect(tlsFromEnv({ TLS_CERT: cert.certPath, TLS_KEY: cert.keyPath })).toEqual({ cert: cert.cert, key: cert.key });
    expect(tlsFromEnv({})).toBeUndefined();
  });
});
