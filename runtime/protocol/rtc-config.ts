// The RTCConfiguration webray passes to every peer connection, checked where it comes from — the
// `rtcConfig` and `iceServers` options of init/join, a server's `/config.json`, the server's own
// WEBRAY_ICE_SERVERS — with errors that name the field and what to write instead. The browser
// would otherwise take `[{ url }]` or a bare string silently, or throw a TURN server without
// credentials only when the first link is made, where the cause is lost.

/** One STUN or TURN server, as IceServer (declared here: the server's code has no DOM types). */
export interface IceServer {
  readonly urls: string | readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

/** The fields of RTCConfiguration webray accepts (the others are about media, or unsafe to share). */
export interface RtcConfig {
  readonly iceServers?: readonly IceServer[];
  readonly iceTransportPolicy?: 'all' | 'relay';
  readonly iceCandidatePoolSize?: number;
  readonly bundlePolicy?: 'balanced' | 'max-compat' | 'max-bundle';
}

/** RFC 7064/7065: `scheme:host[:port]`, and for TURN `?transport=udp|tcp`; the scheme in any case, as browsers take it. */
const ICE_URL = /^(stuns?|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?(\?transport=(?:udp|tcp))?$/i;
const TURN_URL = /^turns?:/i;
const ICE_URL_RULES =
  'an ICE server URL is scheme:host[:port] with scheme stun:, stuns:, turn: or turns:, a port from 1 to 65535, and for TURN only ' +
  '?transport=udp or ?transport=tcp (e.g. turn:turn.example.org:3478?transport=udp; turns: is TLS over TCP already)';

/** Why `u` is not an ICE server URL a browser takes, or undefined when it is one. */
function iceUrlProblem(u: string): string | undefined {
  const m = ICE_URL.exec(u);
  if (!m) return ICE_URL_RULES;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${m[3]} is not from 1 to 65535`;
  if (m[4] !== undefined && !/^turns?$/i.test(m[1]!)) return 'a STUN URL takes no ?transport (only TURN URLs do)';
  return undefined;
}
const MAX_ICE_SERVERS = 16;
const MAX_URLS = 16;
const MAX_URL_CHARS = 512;
const MAX_CREDENTIAL_CHARS = 512;
const RTC_KEYS = ['iceServers', 'iceTransportPolicy', 'iceCandidatePoolSize', 'bundlePolicy'] as const;
const SERVER_KEYS = ['urls', 'username', 'credential'];

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'string') return JSON.stringify(x.length > 80 ? `${x.slice(0, 80)}…` : x);
  return typeof x;
}

function plainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * ICE servers as RTCPeerConnection takes them: `[{ urls: 'stun:host:3478' }, { urls:
 * ['turn:host:3478?transport=udp'], username, credential }]`. Throws a TypeError naming `where`.
 */
export function checkIceServers(x: unknown, where: string): IceServer[] {
  if (!Array.isArray(x)) {
    throw new TypeError(`${where} must be an array of ICE servers like [{ urls: 'stun:stun.example.org:3478' }], got ${describe(x)}`);
  }
  if (x.length > MAX_ICE_SERVERS) throw new TypeError(`${where} lists ${x.length} ICE servers; at most ${MAX_ICE_SERVERS}`);
  return x.map((s: unknown, i) => checkIceServer(s, `${where}[${i}]`));
}

function checkIceServer(s: unknown, where: string): IceServer {
  if (typeof s === 'string') {
    throw new TypeError(`${where} is a bare string ${describe(s)}; write { urls: ${describe(s)} } (with username and credential for a TURN server)`);
  }
  if (!plainObject(s)) throw new TypeError(`${where} must be an object { urls, username?, credential? }, got ${describe(s)}`);
  for (const key of Object.keys(s)) {
    if (key === 'url') throw new TypeError(`${where} has "url", the old name: write "urls" (a URL or an array of them)`);
    if (!SERVER_KEYS.includes(key)) throw new TypeError(`${where} has an unknown field "${key}"; an ICE server has urls, username and credential`);
  }
  const raw = s['urls'];
  if (raw === undefined) throw new TypeError(`${where} has no urls: { urls: 'stun:stun.example.org:3478' }`);
  const urls = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_URLS) {
    throw new TypeError(`${where}.urls must be a URL or an array of 1 to ${MAX_URLS} URLs, got ${describe(raw)}`);
  }
  for (const u of urls) {
    const problem = typeof u !== 'string' || u.length > MAX_URL_CHARS ? `it must be a string of at most ${MAX_URL_CHARS} characters` : iceUrlProblem(u);
    if (problem !== undefined) throw new TypeError(`${where}.urls has ${describe(u)}: ${problem}`);
  }
  const username = s['username'];
  const credential = s['credential'];
  for (const [name, value] of [
    ['username', username],
    ['credential', credential],
  ] as const) {
    // Never quoted: a credential must not end up in a log.
    if (value !== undefined && (typeof value !== 'string' || value.length > MAX_CREDENTIAL_CHARS)) {
      const got = typeof value === 'string' ? `${value.length} characters` : value === null ? 'null' : typeof value;
      throw new TypeError(`${where}.${name} must be a string of at most ${MAX_CREDENTIAL_CHARS} characters, got ${got}`);
    }
  }
  const turn = (urls as string[]).find((u) => TURN_URL.test(u));
  if (turn && (username === undefined || credential === undefined || username === '' || credential === '')) {
    const missing = username === undefined || username === '' ? 'username' : 'credential';
    throw new TypeError(
      `${where} is a TURN server (${turn}) without ${missing}: the browser refuses a TURN server ` +
        `without both (empty ones too). Give the ones your TURN server expects, or let the webray server mint them (TURN_URL and TURN_SECRET, docs/deployment.md)`,
    );
  }
  return {
    urls: typeof raw === 'string' ? raw : [...(urls as string[])],
    ...(username === undefined ? {} : { username: username as string }),
    ...(credential === undefined ? {} : { credential: credential as string }),
  };
}

/** `rtcConfig`: the RTCConfiguration fields webray passes on, checked. Throws a TypeError naming `where`. */
export function checkRtcConfig(x: unknown, where: string): RtcConfig {
  if (!plainObject(x)) throw new TypeError(`${where} must be an object like { iceServers: [...], iceTransportPolicy: 'relay' }, got ${describe(x)}`);
  for (const key of Object.keys(x)) {
    if (!(RTC_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`${where} has an unknown field "${key}"; webray passes on ${RTC_KEYS.join(', ')}`);
    }
  }
  const out: { -readonly [K in keyof RtcConfig]: RtcConfig[K] } = {};
  if (x['iceServers'] !== undefined) out.iceServers = checkIceServers(x['iceServers'], `${where}.iceServers`);
  const policy = x['iceTransportPolicy'];
  if (policy !== undefined) {
    if (policy !== 'all' && policy !== 'relay') {
      throw new TypeError(`${where}.iceTransportPolicy must be 'all' or 'relay' (only through a TURN server), got ${describe(policy)}`);
    }
    out.iceTransportPolicy = policy;
  }
  const pool = x['iceCandidatePoolSize'];
  if (pool !== undefined) {
    if (typeof pool !== 'number' || !Number.isInteger(pool) || pool < 0 || pool > 255) {
      throw new TypeError(`${where}.iceCandidatePoolSize must be a whole number from 0 to 255, got ${describe(pool)}`);
    }
    out.iceCandidatePoolSize = pool;
  }
  const bundle = x['bundlePolicy'];
  if (bundle !== undefined) {
    if (bundle !== 'balanced' && bundle !== 'max-compat' && bundle !== 'max-bundle') {
      throw new TypeError(`${where}.bundlePolicy must be 'balanced', 'max-compat' or 'max-bundle', got ${describe(bundle)}`);
    }
    out.bundlePolicy = bundle;
  }
  return out;
}

/**
 * The configuration from init/join's options: `rtcConfig`, with `iceServers` as a shorthand for
 * `rtcConfig.iceServers` (not both). Undefined when neither was given.
 */
export function rtcConfigFromOptions(rtcConfig: unknown, iceServers: unknown, what: string): RtcConfig | undefined {
  const config = rtcConfig === undefined ? undefined : checkRtcConfig(rtcConfig, `${what}: rtcConfig`);
  if (iceServers === undefined) return config;
  if (config?.iceServers !== undefined) {
    throw new TypeError(`${what}: iceServers is a shorthand for rtcConfig.iceServers; give the ICE servers in one place, not both`);
  }
  return { ...config, iceServers: checkIceServers(iceServers, `${what}: iceServers`) };
}
