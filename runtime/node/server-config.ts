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
