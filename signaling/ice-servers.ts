// The ICE servers a deployment's pages use, advertised in /config.json: fixed ones
// (WEBRAY_ICE_SERVERS, JSON: STUN, or TURN with static credentials), and a TURN server whose
// credentials are minted per request from a secret shared with coturn (TURN_URL, TURN_SECRET;
// coturn's `use-auth-secret`, the "TURN REST API" scheme): username `<expiry unix time>:webray`,
// credential base64(HMAC-SHA1(secret, username)). coturn accepts such a pair until the expiry, so
// a page that loaded the config can relay for TURN_TTL seconds, and nobody holds a lasting password.

import { createHmac } from 'node:crypto';
import { checkIceServers, type IceServer } from '../runtime/protocol/rtc-config.ts';

/** How long minted TURN credentials stay valid by default: a day, as coturn's examples use. */
export const DEFAULT_TURN_TTL_SECONDS = 24 * 60 * 60;
const MIN_SECRET_CHARS = 16;

export interface TurnAuthSecret {
  /** The TURN server's URLs, e.g. `turn:turn.example.org:3478?transport=udp`. */
  readonly urls: readonly string[];
  /** coturn's `static-auth-secret`. */
  readonly secret: string;
  readonly ttlSeconds?: number;
}

export interface IceConfig {
  readonly fixed: readonly IceServer[];
  readonly turn?: TurnAuthSecret;
}

/** Checks a configuration given to startServer; throws an Error naming the setting. */
export function checkIceConfig(fixed: unknown, turn: TurnAuthSecret | undefined): IceConfig {
  const servers = fixed === undefined ? [] : checkIceServers(fixed, 'iceServers (WEBRAY_ICE_SERVERS)');
  if (!turn) return { fixed: servers };
  if (turn.urls.length === 0) throw new Error('TURN_URL names no TURN server');
  // Checked as a server entry would be (the credentials are placeholders here).
  checkIceServers([{ urls: [...turn.urls], username: 'x', credential: 'x' }], 'TURN_URL');
  const notTurn = turn.urls.find((u) => !/^turns?:/i.test(u));
  if (notTurn) throw new Error(`TURN_URL has ${JSON.stringify(notTurn)}, which is not a turn: or turns: URL`);
  if (turn.secret.length < MIN_SECRET_CHARS) {
    throw new Error(`TURN_SECRET must be at least ${MIN_SECRET_CHARS} characters (coturn's static-auth-secret; use a long random one)`);
  }
  const ttl = turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 7 * DEFAULT_TURN_TTL_SECONDS) {
    throw new Error(`TURN_TTL must be a whole number of seconds from 60 to ${7 * DEFAULT_TURN_TTL_SECONDS}, got ${String(turn.ttlSeconds)}`);
  }
  return { fixed: servers, turn: { urls: [...turn.urls], secret: turn.secret, ttlSeconds: ttl } };
}

/** The configuration from the environment: WEBRAY_ICE_SERVERS, TURN_URL (comma-separated), TURN_SECRET, TURN_TTL. */
export function iceConfigFromEnv(env: NodeJS.ProcessEnv): IceConfig {
  let fixed: unknown;
  const json = env['WEBRAY_ICE_SERVERS'];
  if (json) {
    try {
      fixed = JSON.parse(json);
    } catch {
      // Not the parser's message: it quotes the text around the error, which may be a credential.
      throw new Error(`WEBRAY_ICE_SERVERS is not JSON (check its quotes, commas and brackets); write e.g. '[{"urls":"stun:stun.example.org:3478"}]'`);
    }
  }
  const url = env['TURN_URL'];
  const secret = env['TURN_SECRET'];
  if (!url !== !secret) throw new Error('TURN_URL and TURN_SECRET go together: the server mints credentials for the TURN server from the secret');
  const ttl = env['TURN_TTL'];
  const turn = url && secret ? { urls: url.split(',').map((u) => u.trim()).filter(Boolean), secret, ...(ttl ? { ttlSeconds: Number(ttl) } : {}) } : undefined;
  return checkIceConfig(fixed, turn);
}

/** coturn's use-auth-secret pair for a page, valid until `nowMs` + the TTL. */
export function mintTurnCredentials(turn: TurnAuthSecret, nowMs: number): { username: string; credential: string } {
  const expiry = Math.floor(nowMs / 1000) + (turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS);
  const username = `${expiry}:webray`;
  return { username, credential: createHmac('sha1', turn.secret).update(username).digest('base64') };
}

/** What /config.json advertises now; empty when nothing is configured. */
export function iceServersFor(config: IceConfig, nowMs: number): IceServer[] {
  const out = [...config.fixed];
  if (config.turn) out.push({ urls: [...config.turn.urls], ...mintTurnCredentials(config.turn, nowMs) });
  return out;
}

