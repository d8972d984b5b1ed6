// What a webray server tells the pages that use it, at `/config.json`: its task origin (where a
// node runs shipped code, isolated from the page) and the ICE servers of its deployment (STUN, and
// TURN with credentials it minted for this request). `address` may be any server the caller named,
// so what it answers is checked as any input is.

import { checkIceServers, type IceServer } from '../protocol/rtc-config.ts';
import { CONFIG_PATH } from '../protocol/signaling.ts';

export interface ServerConfig {
  readonly taskOrigin: string;
  /** Absent when the server advertises none (a loopback or LAN deployment needs none). */
  readonly iceServers?: readonly IceServer[];
}

/** How long the server may take to answer, and the most it may send: a webray server's answer is a few hundred bytes. */
const CONFIG_TIMEOUT_MS = 10_000;
const CONFIG_MAX_BYTES = 64 * 1024;

/** Fetches and checks `<address>/config.json`. */
export async function fetchServerConfig(address: string): Promise<ServerConfig> {
  const configUrl = new URL(CONFIG_PATH, address);
  const notWebray = (why: string): Error => new Error(`${configUrl.href} ${why}; is this a webray server?`);
  let res: Response;
  let text: string;
  try {
    res = await fetch(configUrl, { signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS), cache: 'no-store' });
    text = res.ok ? await readAtMost(res, CONFIG_MAX_BYTES) : '';
  } catch (e) {
    if ((e as Error).name === 'TimeoutError') throw notWebray(`did not answer within ${CONFIG_TIMEOUT_MS / 1000} s`);
    if (e instanceof RangeError) throw notWebray(`is over ${CONFIG_MAX_BYTES} bytes`);
    throw e;
  }
  let config: unknown;
  try {
    config = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw notWebray(`is not JSON (HTTP ${res.status})`);
  }
  const c = (typeof config === 'object' && config !== null ? config : {}) as { taskOrigin?: unknown; iceServers?: unknown };
  if (typeof c.taskOrigin !== 'string' || !URL.canParse(c.taskOrigin)) throw notWebray(`does not name a task origin (HTTP ${res.status})`);
  return {
    taskOrigin: c.taskOrigin,
    ...(c.iceServers === undefined ? {} : { iceServers: checkIceServers(c.iceServers, `iceServers of ${configUrl.href}`) }),
  };
}

/** Minted TURN credentials are renewed once half their lifetime has passed; failed renewals are retried this often. */
const RENEW_RETRY_MS = 10_000;

/**
 * The ICE servers a server advertises, kept fresh: TURN credentials it minted (coturn's
 * use-auth-secret: username `<expiry in unix seconds>:<name>`) are fetched again from its
 * /config.json once half their lifetime has passed, so that a long session's new links still get
 * a relay. Links made meanwhile get the current ones, still valid.
 */
export class AdvertisedIceServers {
  private servers: readonly IceServer[];
  private fetchedAtMs: number;
  private lastTryMs = -Infinity;
  private renewing = false;

  constructor(
    private readonly address: string,
    servers: readonly IceServer[],
    private readonly now: () => number = Date.now,
    private readonly fetchConfig: (address: string) => Promise<ServerConfig> = fetchServerConfig,
  ) {
    this.servers = servers;
    this.fetchedAtMs = now();
  }

  /** The servers for the next link; starts a renewal in the background when it is due. */
  current(): readonly IceServer[] {
    const expiry = earliestExpiryMs(this.servers);
    const now = this.now();
    if (expiry !== undefined && !this.renewing && now >= this.fetchedAtMs + (expiry - this.fetchedAtMs) / 2 && now - this.lastTryMs >= RENEW_RETRY_MS) {
      this.renewing = true;
      this.lastTryMs = now;
      void this.fetchConfig(this.address)
        .then(
          (c) => {
            if (c.iceServers === undefined) return;
            this.servers = c.iceServers;
            this.fetchedAtMs = this.now();
          },
          () => {},
        )
        .finally(() => (this.renewing = false));
    }
    return this.servers;
  }
}

/** When the first of the servers' minted credentials expires (ms), or undefined when none are minted. */
function earliestExpiryMs(servers: readonly IceServer[]): number | undefined {
  let earliest: number | undefined;
  for (const s of servers) {
    const m = s.username === undefined ? null : /^(\d{9,11}):/.exec(s.username);
    if (m) earliest = Math.min(earliest ?? Infinity, Number(m[1]) * 1000);
  }
  return earliest;
}

/** The task runner's URL on the server's task origin. */
export function runnerUrlOf(config: ServerConfig): string {
  return new URL('/runner.html', config.taskOrigin).href;
}

/** The body as text, or a RangeError once it is over `max` bytes (the rest is not read). */
async function readAtMost(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new RangeError(`over ${max} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}
