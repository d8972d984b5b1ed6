// Which browser origins the webray server answers as its own: the socket server admits only pages
// of these origins (a page of any other site could otherwise use its visitors' browsers to join
// clusters or guess tokens), and /config.json and the pages' CSP name the task origin on one of
// these hosts, never on whatever Host header a request carries.
import { networkInterfaces } from 'node:os';
import { urlHost } from './http-reply.ts';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The server's own origins on `port`: its bind address; for a loopback bind, every loopback name;
 * for a wildcard bind (0.0.0.0, ::), those and every address of this machine's interfaces.
 */
export function ownOrigins(bindHost: string, port: number, interfaceAddresses: () => string[] = localAddresses, scheme: 'http' | 'https' = 'http'): string[] {
  const hosts = new Set<string>([urlHost(bindHost)]);
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::';
  if (wildcard || LOOPBACK_HOSTS.includes(urlHost(bindHost))) for (const h of LOOPBACK_HOSTS) hosts.add(h);
  if (wildcard) for (const a of interfaceAddresses()) hosts.add(urlHost(a));
  return [...hosts].map((h) => `${scheme}://${h}:${port}`);
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && !(i.family === 'IPv6' && i.scopeid !== 0))
    .map((i) => i!.address);
}

/**
 * Parses ALLOWED_ORIGINS: comma-separated origins (`https://webray.example.org`), each exactly an
 * origin (scheme, host, port if not the default; no path). Undefined or empty: undefined (the
 * default applies). Throws a message naming the bad entry.
 */
export function parseAllowedOrigins(value: string | undefined, name = 'ALLOWED_ORIGINS'): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      let origin: string | undefined;
      try {
        const u = new URL(entry);
        origin = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === entry.replace(/\/$/, '') ? u.origin : undefined;
      } catch {
        origin = undefined;
      }
      if (origin === undefined) {
        throw new Error(`${name}: ${JSON.stringify(entry)} is not an origin; give scheme, host and port only, e.g. https://webray.example.org,http://192.168.1.5:8080`);
      }
      return origin;
    });
}

/**
 * Whether a socket.io handshake with this Origin header may go on. Browsers always send Origin on
 * WebSocket and cross-origin requests, so a missing one is not a browser page (Node clients, curl)
 * and is let through: the check guards against other sites' pages, not against programs, which
 * can send any Origin they like. `null` (sandboxed frames, file: pages) is refused.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin);
}

/**
 * The origin a request came to, when it is one of `allowed` (by its Host header and the scheme
 * the server speaks); else undefined. Lets /config.json answer on the host name the page used
 * (localhost vs 127.0.0.1) without ever echoing a host it was not configured with.
 */
export function requestOrigin(hostHeader: string | undefined, scheme: 'http' | 'https', allowed: readonly string[]): URL | undefined {
  if (hostHeader === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(`${scheme}://${hostHeader}`);
  } catch {
    return undefined;
  }
  if (u.host !== hostHeader.toLowerCase() || !allowed.includes(u.origin)) return undefined;
  return u;
}
