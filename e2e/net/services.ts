// What runs on the network of e2e/net/topology.ts: coturn (STUN, and TURN with coturn's
// `use-auth-secret` short-lived credentials) and the webray server in the "internet" namespace,
// and a Chromium per "machine", started the way a real volunteer's browser is: without the
// loopback-only WebRTC flags the other e2e tests use.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chromium, type Browser } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumPath } from '../../scripts/chromium.mjs';
import { selfSignedCertificate } from '../../signaling/tls.fixture.ts';
import { INTERNET_RANGE, SERVER_IP, type Machine, type Topology } from './topology.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const NETNS_EXEC = path.join(REPO, 'e2e', 'net', 'netns-exec.sh');

/** Why coturn cannot run here, or undefined (for test.skip). */
export function coturnUnavailable(): string | undefined {
  const r = spawnSync('turnserver', ['--version'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? '`turnserver` not found: install coturn (`apt-get install coturn`)' : undefined;
}

/** A child's output so far (for error messages), and a promise for the first line matching a pattern. */
function watchOutput(child: ChildProcess, what: string): { text(): string; waitFor(re: RegExp, timeoutMs: number): Promise<void> } {
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    text: () => text,
    waitFor(re, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          waiters.delete(check);
          child.off('exit', onExit);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (re.test(text)) done();
        };
        const onExit = (code: number | null, signal: string | null) =>
          done(new Error(`${what} exited (${signal ?? `code ${code}`}) before it was ready:\n${text.slice(-3000)}`));
        const timer = setTimeout(() => done(new Error(`${what} not ready after ${timeoutMs} ms:\n${text.slice(-3000)}`)), timeoutMs);
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface Coturn {
  /** `stun:203.0.113.10:3478` */
  readonly stunUrl: string;
  /** `turn:203.0.113.10:3478?transport=udp` */
  readonly turnUrl: string;
  /** The `static-auth-secret` (coturn's `use-auth-secret`, the TURN REST API scheme). */
  readonly secret: string;
  /** STUN only. */
  stunServers(): RTCIceServer[];
  /** TURN with fresh credentials (and the same server for STUN). */
  turnServers(ttlSeconds?: number): RTCIceServer[];
  /** Short-lived credentials: username `<expiry>:<name>`, credential base64(HMAC-SHA1(secret, username)). */
  credentials(ttlSeconds?: number, name?: string): { username: string; credential: string };
  /** Asks coturn for `machine`'s mapped address with a STUN binding request from inside the machine. */
  mappedAddress(machine: Machine): Promise<string>;
  /** coturn's log so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts coturn on SERVER_IP:3478 in the topology's internet namespace; resolves once both machines get a STUN answer. */
export async function startCoturn(topo: Topology, opts: { port?: number } = {}): Promise<Coturn> {
  const port = opts.port ?? 3478;
  const secret = randomBytes(16).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), `webray-coturn-${topo.prefix}-`));
  const child = topo.spawn(
    topo.internetNs,
    // stdbuf: coturn logs through stdio, block-buffered into a pipe; readiness is read from its log.
    'stdbuf',
    [
      '-oL',
      'turnserver',
      '--log-file=stdout',
      '--simple-log',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      `--listening-ip=${SERVER_IP}`,
      `--relay-ip=${SERVER_IP}`,
      `--listening-port=${port}`,
      '--min-port=49152',
      '--max-port=65535',
      '--fingerprint',
      '--lt-cred-mech',
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=webray.test',
      // Relay only to the test's own "internet" (never a private address, never anything else).
      '--denied-peer-ip=0.0.0.0-255.255.255.255',
      `--allowed-peer-ip=${INTERNET_RANGE}`,
      '--no-software-attribute',
      // Its own files, not /var/lib/turn or /var/run (another run may hold those).
      `--userdb=${path.join(dir, 'turndb')}`,
      `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = watchOutput(child, 'turnserver');
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const credentials = (ttlSeconds = 3600, name = 'webray') => {
    const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${name}`;
    return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
  };
  const stunUrl = `stun:${SERVER_IP}:${port}`;
  const turnUrl = `turn:${SERVER_IP}:${port}?transport=udp`;
  const mappedAddress = async (m: Machine): Promise<string> => {
    // turnutils_stunclient waits forever for an answer that does not come: bound it.
    const { stdout } = await topo.run(m.ns, 'turnutils_stunclient', ['-p', String(port), SERVER_IP], { timeoutMs: 2000 });
    const found = /UDP reflexive addr: ([\d.]+):\d+/.exec(stdout);
    if (!found) throw new Error(`no reflexive address in turnutils_stunclient's answer:\n${stdout}`);
    return found[1]!;
  };
  try {
    await out.waitFor(/Total General servers/, 15_000);
    // Listening: its answer to each machine shows that machine's router address (the NAT works).
    for (const m of [topo.a, topo.b]) {
      const mapped = await mappedAddress(m);
      if (mapped !== m.publicIp) throw new Error(`STUN from machine ${m.id} mapped to ${mapped}, expected its router's ${m.publicIp}`);
    }
  } catch (e) {
    await stop();
    throw new Error(`coturn did not start: ${(e as Error).message}\n--- coturn log ---\n${out.text().slice(-3000)}`, { cause: e });
  }
  return {
    stunUrl,
    turnUrl,
    secret,
    stunServers: () => [{ urls: stunUrl }],
    turnServers: (ttl) => [{ urls: turnUrl, ...credentials(ttl) }],
    credentials,
    mappedAddress,
    log: out.text,
    stop,
  };
}

export interface WebrayServerInNs {
  /** `http(s)://203.0.113.10:<port>`: the demo and volunteer pages, /webray.js, signaling. */
  readonly url: string;
  /** `http(s)://203.0.113.10:<port + 1>`: the task origin. */
  readonly taskUrl: string;
  /** Served over HTTPS with a self-signed certificate for SERVER_IP (browsers must be told to accept it). */
  readonly tls: boolean;
  log(): string;
  stop(): Promise<void>;
}

/** Starts `signaling/server.ts` (serving this worktree's dist/) on SERVER_IP in the internet namespace, with `env` added to its environment. */
export async function startWebrayServer(topo: Topology, opts: { port?: number; env?: Record<string, string>; tls?: boolean } = {}): Promise<WebrayServerInNs> {
  const port = opts.port ?? 8080;
  // HTTPS as a deployment serves it: TLS_CERT and TLS_KEY, here a self-signed certificate for SERVER_IP.
  const cert = opts.tls ? selfSignedCertificate({ ips: [SERVER_IP] }) : undefined;
  const tlsEnv: Record<string, string> = cert ? { TLS_CERT: cert.certPath, TLS_KEY: cert.keyPath } : {};
  const child = topo.spawn(topo.internetNs, process.execPath, ['--import', 'tsx', 'signaling/server.ts'], {
    cwd: REPO,
    // `env`: the deployment's settings (TURN_URL, TURN_SECRET, …).
    env: { ...process.env, HOST: SERVER_IP, PORT: String(port), TASK_PORT: String(port + 1), ...tlsEnv, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = watchOutput(child, 'webray server');
  const stop = async () => {
    await stopChild(child);
    if (cert) rmSync(cert.dir, { recursive: true, force: true });
  };
  try {
    await out.waitFor(/webray server listening on/, 30_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const scheme = cert ? 'https' : 'http';
  return {
    url: `${scheme}://${SERVER_IP}:${port}`,
    taskUrl: `${scheme}://${SERVER_IP}:${port + 1}`,
    tls: cert !== undefined,
    log: out.text,
    stop,
  };
}

/**
 * The flags the other e2e tests add so that tabs can connect over loopback: a real volunteer's
 * browser has neither (no granted media permission: host candidates are hidden behind mDNS names;
 * no loopback candidates).
 */
export const LOOPBACK_ONLY_ARGS = ['--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection'];

/** The project's Chromium flags (scripts/chromium.mjs) minus LOOPBACK_ONLY_ARGS. */
export function realVolunteerChromiumArgs(): string[] {
  for (const a of LOOPBACK_ONLY_ARGS) {
    if (!CHROMIUM_ARGS.includes(a)) throw new Error(`scripts/chromium.mjs no longer has ${a}: revisit LOOPBACK_ONLY_ARGS`);
  }
  return CHROMIUM_ARGS.filter((a) => !LOOPBACK_ONLY_ARGS.includes(a));
}

/**
 * A Chromium on `machine` (inside its namespace). `secureOrigins`: plain-http origins to treat as
 * secure contexts (a page from a non-loopback http origin is not one otherwise); both the page
 * origin and the task origin are needed.
 */
export async function launchChromiumOn(machine: Machine, opts: { secureOrigins?: readonly string[]; args?: readonly string[] } = {}): Promise<Browser> {
  const exe = chromiumPath();
  if (!exe) throw new Error('no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)');
  const args = [...realVolunteerChromiumArgs(), ...(opts.args ?? [])];
  if (opts.secureOrigins?.length) args.push(`--unsafely-treat-insecure-origin-as-secure=${opts.secureOrigins.join(',')}`);
  return chromium.launch({
    executablePath: NETNS_EXEC,
    env: { ...process.env, WEBRAY_NETNS: machine.ns, WEBRAY_NETNS_EXEC: exe },
    headless: true,
    args,
  });
}
