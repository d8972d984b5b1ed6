// The task origin: a second listener of the webray server (another port) that serves only the task
// runner — /runner.html and the scripts it loads, nothing else. Volunteer pages embed the runner as a
// hidden iframe and create their Web Workers in it (runtime/node/isolated-workers.ts), so code shipped
// to a volunteer runs as this origin: it cannot read the volunteer origin's storage, nor act as it.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sendText as sendTextWith, urlHost } from './http-reply.ts';
import { createWebServer, type TlsOptions } from './tls.ts';

/** The runner page, the task origin's one page. */
export const TASK_RUNNER_PATH = '/runner.html';

/**
 * Sent with every response of the task origin. The volunteer page is cross-origin isolated
 * (COEP require-corp), so the frame it embeds must opt in to being embedded (CORP cross-origin:
 * the task origin may be another site than the page in a real deployment) and require CORP itself
 * (COEP). The CSP keeps the runner to its own scripts while letting its workers do what task code
 * needs: Blob-URL module workers, `new Function` (unsafe-eval, which also covers WebAssembly) and
 * network access. Workers made from Blob URLs inherit this policy.
 */
export const TASK_ORIGIN_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self' 'unsafe-eval' blob:",
    "worker-src 'self' blob:",
    'connect-src * data: blob:',
    'img-src * data: blob:',
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; '),
  // Ask for an agent cluster (and, where the browser can, a process) of this origin alone.
  'Origin-Agent-Cluster': '?1',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The part of Vite's build manifest (dist/.vite/manifest.json) that names a page's files. */
interface ManifestChunk {
  file?: unknown;
  imports?: unknown;
  css?: unknown;
}

/**
 * The URL paths the task origin serves, each mapped to its file in distDir: the runner page and the
 * chunks and styles it loads, as Vite's manifest lists them (their names carry content hashes).
 */
export async function runnerFiles(distDir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>([[TASK_RUNNER_PATH, path.join(distDir, 'runner.html')]]);
  let manifest: Record<string, ManifestChunk>;
  try {
    manifest = JSON.parse(await readFile(path.join(distDir, '.vite', 'manifest.json'), 'utf8')) as Record<string, ManifestChunk>;
  } catch {
    return files;
  }
  const seen = new Set<string>();
  const add = (file: unknown): void => {
    // Only plain relative paths inside distDir, as Vite writes them (`assets/runner-1a2b.js`).
    if (typeof file !== 'string' || !/^[\w-]+(\/[\w.-]+)*\.(js|css)$/.test(file) || file.includes('..')) return;
    files.set(`/${file}`, path.join(distDir, file));
  };
  const visit = (key: string): void => {
    const chunk = manifest[key];
    if (seen.has(key) || chunk === undefined) return;
    seen.add(key);
    add(chunk.file);
    if (Array.isArray(chunk.css)) chunk.css.forEach(add);
    if (Array.isArray(chunk.imports)) for (const k of chunk.imports) if (typeof k === 'string') visit(k);
  };
  visit(TASK_RUNNER_PATH.slice(1));
  return files;
}

export interface TaskOriginOptions {
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The built dist/ folder, holding runner.html and .vite/manifest.json. */
  distDir: string;
  /** Serve HTTPS with this certificate (signaling/tls.ts). */
  tls?: TlsOptions;
}

export interface RunningTaskOrigin {
  /** e.g. `http://127.0.0.1:8081` (no trailing slash). */
  url: string;
  port: number;
  /** Stops accepting connections, drops open ones; idempotent. */
  close(): Promise<void>;
}

export async function startTaskOrigin(options: TaskOriginOptions): Promise<RunningTaskOrigin> {
  const distDir = path.resolve(options.distDir);
  const httpServer = createWebServer(options.tls, (req, res) => {
    serveRunner(distDir, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, 'Internal server error');
      else res.destroy();
      console.error('webray task origin: error serving', req.url, err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://${urlHost(options.host)}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      return closing;
    },
  };
}

async function serveRunner(distDir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendText(res, 405, 'Method not allowed');
    return;
  }
  // Exact matches only: no decoding, no path resolution, so nothing outside the list is reachable.
  const pathname = (req.url ?? '/').split(/[?#]/, 1)[0] ?? '/';
  const file = (await runnerFiles(distDir)).get(pathname);
  const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file === undefined || info === undefined || !info.isFile()) {
    const hint = pathname === TASK_RUNNER_PATH ? ' (is dist/ built? run `npm run build`)' : '';
    sendText(res, 404, `Not found: this is webray's task origin, which serves only ${TASK_RUNNER_PATH}${hint}`);
    return;
  }
  res.writeHead(200, {
    ...TASK_ORIGIN_HEADERS,
    'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('error', reject).on('end', resolve).pipe(res);
  });
}

function sendText(res: ServerResponse, status: number, body: string): void {
  sendTextWith(res, status, body, TASK_ORIGIN_HEADERS);
}
