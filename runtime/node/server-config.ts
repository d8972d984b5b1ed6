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

/** Fetches and checks `<address>/config.json`. */
export async function fetchServerConfig(address: string, signal?: AbortSignal): Promise<ServerConfig> {
  const configUrl = new URL(CONFIG_PATH, address);
  const res = await fetch(configUrl, { signal, cache: 'no-store' });
  const config: unknown = res.ok ? await res.json() : undefined;
  const c = (typeof config === 'object' && config !== null ? config : {}) as { taskOrigin?: unknown; iceServers?: unknown };
  if (typeof c.taskOrigin !== 'string' || !URL.canParse(c.taskOrigin)) {
    throw new Error(`${configUrl.href} does not name a task origin (HTTP ${res.status}); is this a webray server?`);
  }
  return {
    taskOrigin: c.taskOrigin,
    ...(c.iceServers === undefined ? {} : { iceServers: checkIceServers(c.iceServers, `iceServers of ${configUrl.href}`) }),
  };
}

/** The task runner's URL on the server's task origin. */
export function runnerUrlOf(config: ServerConfig): string {
  return new URL('/runner.html', config.taskOrigin).href;
}
