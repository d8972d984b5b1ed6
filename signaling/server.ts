// The webray server: serves the built pages and library from dist/ and hosts socket.io, over
// which cluster members find each other (Ray's GCS address, minus the task data).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server as SocketIOServer } from 'socket.io';
import { attachClusterSignaling, type SignalingServer } from './cluster-signaling.ts';
import { connectRedisTier, redactRedisUrl, type RedisTier } from './redis-tier.ts';
import type { Registry } from './registry.ts';
import { MAX_HTTP_BUFFER_BYTES, PING_INTERVAL_MS, PING_TIMEOUT_MS } from './constants.ts';
import { startTaskOrigin } from './task-origin.ts';
import { sendText as sendTextWith, urlHost } from './http-reply.ts';
import { originAllowed, ownOrigins, parseAllowedOrigins, requestOrigin } from './origins.ts';
import { pageSecurityHeaders } from './page-policy.ts';
import { checkTls, createWebServer, tlsFromEnv, type TlsOptions, type WebServer } from './tls.ts';
import { checkIceConfig, iceConfigFromEnv, iceServersFor, type IceConfig, type TurnAuthSecret } from './ice-servers.ts';
import { CONFIG_PATH } from '../runtime/protocol/signaling.ts';
import type { IceServer } from '../runtime/protocol/rtc-config.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
export const DEFAULT_DIST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/** Pretty routes: the demo (coordinator) page, the volunteer page and the library. */
const ROUTES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/join': 'join.html',
  '/webray.js': 'webray.js',
};

/**
 * The test entry (runtime/testing.ts: the library plus test-only hooks), served only by a server
 * started with `testEntry` (WEBRAY_TEST_ENTRY=1), as the browser tests and benchmarks do.
 */
export const TEST_ENTRY_PATH = '/webray-testing.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

/**
 * Sent with every response. COOP + COEP make pages crossOriginIsolated (SharedArrayBuffer in
 * pages and workers); socket.io and WebRTC keep working under them. no-cache makes browsers
 * revalidate, so a rebuilt dist/ is picked up on reload.
 */
const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
};

export interface ServerOptions {
  /** Bind address; default 127.0.0.1. */
  host?: string;
  /** TCP port; default 8080; 0 picks a free port. */
  port?: number;
  /** Folder holding the built pages and webray.js; default `<repo>/dist`. */
  distDir?: string;
  /** Where the one-line-per-event log goes (joins, leaves, refusals); default stdout. */
  log?: (line: string) => void;
  /**
   * Port of the task origin, which serves only the task runner that volunteers run shipped code
   * in (signaling/task-origin.ts); default `port + 1`, or a free port when `port` is 0.
   */
  taskPort?: number;
  /**
   * The task origin as browsers reach it (e.g. `https://tasks.example.org` behind a proxy), which
   * `/config.json` advertises; default `http://<host>:<taskPort>`, where host is the one the page
   * was loaded from when that is one of `allowedOrigins`, else the bind address.
   */
  taskOrigin?: string;
  /**
   * Serve the test entry at /webray-testing.js (default false: 404, so a deployed server never
   * hands out the test hooks). `npm start` sets it from WEBRAY_TEST_ENTRY=1.
   */
  testEntry?: boolean;
  /**
   * The origins whose pages may connect to the socket server (checked against the handshake's
   * `Origin`); default the server's own origins (signaling/origins.ts, `ownOrigins`). Env
   * ALLOWED_ORIGINS, comma-separated.
   */
  allowedOrigins?: readonly string[];
  /**
   * ICE servers the pages use (STUN; TURN with static credentials), advertised in /config.json.
   * Env WEBRAY_ICE_SERVERS, JSON.
   */
  iceServers?: readonly IceServer[];
  /** A TURN server whose credentials are minted per page from coturn's shared secret. Env TURN_URL, TURN_SECRET, TURN_TTL. */
  turn?: TurnAuthSecret;
  /** Serve both origins over HTTPS (and signaling over WSS) with this certificate and key. Env TLS_CERT, TLS_KEY (PEM files). */
  tls?: TlsOptions;
  /**
   * Keep the cluster registry in this Redis and reach other server processes through it
   * (socket.io's Redis adapter), so several processes act as one and a restarted one loses no
   * cluster. Default: the registry in this process's memory. Env REDIS_URL.
   */
  redisUrl?: string;
  /**
   * With `redisUrl`: how long the memberships of a server process that stopped wait for their
   * tabs to resume them elsewhere before they end as departures; default RESUME_GRACE_MS (30 s).
   */
  resumeGraceMs?: number;
}

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  url: string;
  port: number;
  host: string;
  io: SignalingServer;
  /** The clusters and their members, for introspection. */
  registry: Registry;
  /** The task origin's URL on the bind address, e.g. `http://127.0.0.1:8081`. */
  taskUrl: string;
  taskPort: number;
  /** The origins whose pages may connect to the socket server. */
  allowedOrigins: readonly string[];
  /** Stops accepting connections, drops open ones; idempotent. */
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  // Checked before anything listens: a bad setting fails the start, naming it.
  const ice: IceConfig = checkIceConfig(options.iceServers, options.turn);
  if (options.tls) checkTls(options.tls);
  const scheme = options.tls ? 'https' : 'http';
  const host = options.host ?? DEFAULT_HOST;
  const distDir = path.resolve(options.distDir ?? DEFAULT_DIST_DIR);
  const requestedPort = options.port ?? DEFAULT_PORT;
  const taskServer = await startTaskOrigin({
    host,
    port: options.taskPort ?? (requestedPort === 0 ? 0 : requestedPort + 1),
    distDir,
    ...(options.tls ? { tls: options.tls } : {}),
  });

  const log = options.log ?? ((line: string) => console.log(line));
  let tier: RedisTier | undefined;
  if (options.redisUrl !== undefined) {
    tier = await connectRedisTier(options.redisUrl, { log, ...(options.resumeGraceMs === undefined ? {} : { resumeGraceMs: options.resumeGraceMs }) }).catch(async (err: unknown) => {
      await taskServer.close();
      throw err;
    });
  }
  // Known once the port is: nothing connects before listen() resolves.
  let allowed: readonly string[] = options.allowedOrigins ?? [];
  /** The task origin as this request's page should reach it: from configuration, never echoing a Host it was not given. */
  const taskOriginFor = (req: IncomingMessage): string => {
    if (options.taskOrigin !== undefined) return options.taskOrigin;
    const via = requestOrigin(req.headers.host, scheme, allowed);
    return `${scheme}://${via?.hostname ?? urlHost(host)}:${taskServer.port}`;
  };
  const httpServer = createWebServer(options.tls, (req, res) => {
    if (pathnameOf(req.url) === CONFIG_PATH) {
      // An app's page on another allowed origin (its own bundle of webray) reads it too: CORS for
      // exactly the origins whose pages may connect.
      const origin = req.headers.origin;
      const cors = origin !== undefined && allowed.includes(origin) ? origin : undefined;
      sendConfig(req, res, taskOriginFor(req), iceServersFor(ice, Date.now()), cors);
      return;
    }
    serveStatic(distDir, req, res, options.testEntry === true, pageSecurityHeaders(taskOriginFor(req))).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, 'Internal server error');
      else res.destroy();
      console.error('webray server: error serving', req.url, err);
    });
  });

  // socket.io must attach after the request handler: it intercepts /socket.io/ and hands every
  // other request to the handlers already installed.
  const io: SignalingServer = new SocketIOServer(httpServer, {
    ...(tier === undefined ? {} : { adapter: tier.adapter }),
    serveClient: false,
    maxHttpBufferSize: MAX_HTTP_BUFFER_BYTES,
    pingInterval: PING_INTERVAL_MS,
    pingTimeout: PING_TIMEOUT_MS,
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      if (originAllowed(origin, allowed)) {
        callback(null, true);
        return;
      }
      log(`webray signaling: refused a connection from origin ${JSON.stringify(origin)} (${req.socket.remoteAddress ?? '?'}): not in the allowed origins`);
      callback('origin not allowed', false);
    },
  });
  const signaling = attachClusterSignaling(io, { log, ...(tier === undefined ? {} : { registry: tier.registry }) });
  const { registry } = signaling;

  // The heartbeat is in Redis before any socket can join through this process: a process without
  // one is taken for gone, and signals for its tabs would be kept rather than relayed.
  await tier?.registry.start(
    // Departures of tabs whose server process stopped and that did not come back are this one's to announce.
    (d) => signaling.announce(d, 'disconnected'),
    // Signals kept for this process's own tabs while its heartbeat had lapsed (a stall): late, not never.
    (connection, s) => io.to(connection).emit('signal', s),
  );
  const port = await listen(httpServer, requestedPort, host).catch(async (err: unknown) => {
    await taskServer.close();
    await tier?.registry.stop().catch(() => {});
    await tier?.close();
    throw err;
  });
  allowed = options.allowedOrigins ?? ownOrigins(host, port, undefined, scheme);
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${urlHost(host)}:${port}`,
    port,
    host,
    io,
    registry,
    taskUrl: taskServer.url,
    taskPort: taskServer.port,
    allowedOrigins: allowed,
    close() {
      // With a shared registry, this process's tabs keep their memberships, to resume them through
      // another process (or this one restarted).
      if (tier !== undefined) signaling.suspend();
      closing ??= Promise.all([
        new Promise<void>((resolve) => {
          void io.close(() => resolve());
          httpServer.closeAllConnections();
        }),
        taskServer.close(),
      ])
        .then(async () => {
          await tier?.registry.stop().catch(() => {});
          await tier?.close();
        })
        .then(() => undefined);
      return closing;
    },
  };
}

/** Starts `server` listening; resolves with the port it got (the free one when asked for 0). */
export function listen(server: WebServer, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function serveStatic(
  distDir: string,
  req: IncomingMessage,
  res: ServerResponse,
  testEntry: boolean,
  pageHeaders: Readonly<Record<string, string>>,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendText(res, 405, 'Method not allowed');
    return;
  }
  const file = resolveRequestPath(distDir, req.url ?? '/');
  if (file === 'bad-request') {
    sendText(res, 400, 'Bad request');
    return;
  }
  if (!testEntry && file === path.join(distDir, TEST_ENTRY_PATH.slice(1))) {
    sendText(res, 404, 'Not found (the test entry is served only by a server started with WEBRAY_TEST_ENTRY=1)');
    return;
  }
  const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file === undefined || info === undefined || !info.isFile()) {
    const hint = ROUTES[pathnameOf(req.url)] !== undefined ? ' (is dist/ built? run `npm run build`)' : '';
    sendText(res, 404, `Not found${hint}`);
    return;
  }
  res.writeHead(200, {
    ...COMMON_HEADERS,
    ...pageHeaders,
    'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
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

/**
 * Maps a request URL to a file inside distDir: pretty routes first, then built assets by path.
 * Returns undefined for anything that is not a plain file path inside distDir (dot files, `..`
 * segments, encoded slashes or NULs), and 'bad-request' for undecodable paths.
 */
export function resolveRequestPath(distDir: string, requestUrl: string): string | undefined | 'bad-request' {
  const rawPath = requestUrl.split(/[?#]/, 1)[0] ?? '/';
  const route = ROUTES[rawPath];
  if (route !== undefined) return path.join(distDir, route);

  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return 'bad-request';
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return 'bad-request';
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s === '' || s.startsWith('.'))) return undefined;

  const file = path.resolve(distDir, ...segments);
  if (!file.startsWith(distDir + path.sep)) return undefined;
  return file;
}

function pathnameOf(requestUrl: string | undefined): string {
  return (requestUrl ?? '/').split(/[?#]/, 1)[0] ?? '/';
}

/**
 * `/config.json`: what a page of this origin needs to know about the server: the task origin
 * (`{ "taskOrigin": "http://127.0.0.1:8081" }`), where volunteers run shipped code in workers, and
 * the ICE servers the deployment's pages use (`iceServers`, when any are configured; TURN
 * credentials minted for this request, so the reply is never stored).
 */
function sendConfig(req: IncomingMessage, res: ServerResponse, taskOrigin: string, iceServers: readonly IceServer[], corsOrigin: string | undefined): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendText(res, 405, 'Method not allowed');
    return;
  }
  const body = JSON.stringify({ taskOrigin, ...(iceServers.length > 0 ? { iceServers } : {}) });
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'Cache-Control': 'no-store',
    Vary: 'Origin',
    ...(corsOrigin ? { 'Access-Control-Allow-Origin': corsOrigin } : {}),
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** REDIS_URL as node-redis takes it: redis:// or rediss://, with a host. */
function checkRedisUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new Error(`REDIS_URL must be redis://[:password@]host[:port][/db] or rediss://… for TLS, got ${url === undefined ? 'an unparsable URL' : `a ${url.protocol} URL`}`);
  }
  return value;
}

function parsePort(value: string | undefined, name = 'PORT'): number {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

/**
 * The server's options from environment variables (what `npm start` reads; `webray serve` maps its
 * flags onto the same names): HOST, PORT, TASK_PORT, TASK_ORIGIN, ALLOWED_ORIGINS,
 * WEBRAY_ICE_SERVERS, TURN_URL, TURN_SECRET, TURN_TTL, TLS_CERT, TLS_KEY, REDIS_URL, WEBRAY_TEST_ENTRY.
 * Throws an Error naming the variable that is wrong.
 */
export function serverOptionsFromEnv(env: NodeJS.ProcessEnv): ServerOptions {
  const ice = iceConfigFromEnv(env);
  const tls = tlsFromEnv(env);
  return {
    host: env['HOST'] || DEFAULT_HOST,
    port: parsePort(env['PORT']),
    taskPort: env['TASK_PORT'] ? parsePort(env['TASK_PORT'], 'TASK_PORT') : undefined,
    taskOrigin: env['TASK_ORIGIN'] || undefined,
    testEntry: env['WEBRAY_TEST_ENTRY'] === '1',
    allowedOrigins: parseAllowedOrigins(env['ALLOWED_ORIGINS']),
    iceServers: ice.fixed,
    ...(ice.turn ? { turn: ice.turn } : {}),
    ...(tls ? { tls } : {}),
    ...(env['REDIS_URL'] ? { redisUrl: checkRedisUrl(env['REDIS_URL']) } : {}),
  };
}

/** Starts the server with `options`, prints where everything is, and stops it on SIGINT/SIGTERM. */
export async function serve(options: ServerOptions): Promise<RunningServer> {
  const server = await startServer(options);
  console.log(`webray server listening on ${server.url}`);
  console.log(`  demo:    ${server.url}/`);
  console.log(`  join:    ${server.url}/join`);
  console.log(`  library: ${server.url}/webray.js`);
  if (options.testEntry) console.log(`  testing: ${server.url}${TEST_ENTRY_PATH} (test entry: the library plus test hooks)`);
  console.log(`  tasks:   ${server.taskUrl}/runner.html (task origin: volunteers run shipped code here)`);
  console.log(`  pages of these origins may connect (ALLOWED_ORIGINS): ${server.allowedOrigins.join(', ')}`);
  const advertised = [
    ...(options.iceServers ?? []).flatMap((s) => s.urls),
    ...(options.turn ? options.turn.urls.map((u) => `${u} (credentials minted per page from TURN_SECRET)`) : []),
  ];
  console.log(
    `  ICE servers the pages use (WEBRAY_ICE_SERVERS, TURN_URL): ${advertised.length > 0 ? advertised.join(', ') : 'none (fine on one machine or a LAN; across NATs set them: docs/deployment.md)'}`,
  );
  console.log(
    `  clusters: ${options.redisUrl === undefined ? 'in this process (set REDIS_URL to share them among several processes)' : `in Redis at ${redactRedisUrl(options.redisUrl)}, shared with every process using it`}`,
  );
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return server;
}

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  Promise.resolve()
    .then(() => serve(serverOptionsFromEnv(process.env)))
    .catch((err: unknown) => {
      console.error('webray server failed to start:', err instanceof Error ? err.message : err);
      process.exit(1);
    });
}

function sendText(res: ServerResponse, status: number, body: string): void {
  sendTextWith(res, status, body, COMMON_HEADERS);
}
