// What a server process needs to be one of several sharing a Redis (REDIS_URL): the cluster
// registry in Redis (redis-registry.ts) and socket.io's Redis adapter, so that an event for a
// socket or a cluster's room reaches it on whichever process holds it.

import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { RedisClusterRegistry } from './redis-registry.ts';

/** How long the first connection to Redis may take before the server refuses to start. */
const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** Messages between processes lost while Redis is away are logged at most this often. */
const LOST_MESSAGES_LOG_MS = 10_000;
/** Once started, reconnection backs off up to this (and never gives up). */
const REDIS_RECONNECT_MAX_MS = 2_000;

export interface RedisTier {
  readonly registry: RedisClusterRegistry;
  readonly adapter: ReturnType<typeof createAdapter>;
  /** Closes the connections to Redis (after the socket.io server closed). */
  close(): Promise<void>;
}

/** `url` with its password (if any) blanked, for logs and errors. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * Connects to Redis at `url` (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS):
 * three connections — commands, and the adapter's publish and subscribe. Rejects, naming the URL
 * without its password, when Redis cannot be reached within REDIS_CONNECT_TIMEOUT_MS.
 */
export async function connectRedisTier(
  url: string,
  options: { prefix?: string; resumeGraceMs?: number; log: (line: string) => void },
): Promise<RedisTier> {
  const shown = redactRedisUrl(url);
  let started = false;
  let healthy = true;
  const make = (role: string) => {
    const c = createClient({
      url,
      socket: {
        connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
        // Before the start: fail (the server does not start); after: keep trying.
        reconnectStrategy: (retries: number, cause: Error) =>
          started ? Math.min(100 * 2 ** retries, REDIS_RECONNECT_MAX_MS) : new Error(`cannot reach Redis at ${shown}: ${cause.message}`),
      },
    });
    c.on('error', (err: Error) => {
      if (!started || !healthy) return;
      healthy = false;
      options.log(`webray signaling: lost Redis at ${shown} (${role} connection: ${err.message}); joins wait for it, P2P links keep running`);
    });
    c.on('ready', () => {
      if (started && !healthy) {
        healthy = true;
        options.log(`webray signaling: Redis at ${shown} is back`);
      }
    });
    return c;
  };
  const commands = make('commands');
  const pub = make('publish');
  const sub = make('subscribe');
  const all = [commands, pub, sub];
  try {
    await Promise.all(all.map((c) => c.connect()));
  } catch (err) {
    for (const c of all) if (c.isOpen) c.destroy();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${why.startsWith('cannot reach Redis') ? why : `cannot reach Redis at ${shown}: ${why}`}; is redis-server running there? (REDIS_URL, --redis-url)`, { cause: err });
  }
  started = true;
  // The adapter publishes without handling a failure (@socket.io/redis-adapter 8.3: a publish on a
  // connection reset mid-command rejects, unhandled, and Node ends the process): such a message
  // is lost as a dropped packet would be, and logged.
  const publish = pub.publish.bind(pub);
  let lost = 0;
  let lostSince = 0;
  Object.defineProperty(pub, 'publish', {
    configurable: true,
    value: (channel: string, message: string | Buffer) =>
      publish(channel, message).catch((err: unknown) => {
        // Said at most once per LOST_MESSAGES_LOG_MS, with how many were lost.
        lost++;
        const now = Date.now();
        if (now - lostSince >= LOST_MESSAGES_LOG_MS) {
          options.log(`webray signaling: ${lost} message(s) between server processes were lost (Redis: ${err instanceof Error ? err.message : String(err)})`);
          lost = 0;
          lostSince = now;
        }
        return 0;
      }),
  });
  const prefix = options.prefix ?? 'webray:';
  const registry = new RedisClusterRegistry({
    redis: commands,
    prefix,
    ...(options.resumeGraceMs === undefined ? {} : { resumeGraceMs: options.resumeGraceMs }),
  });
  return {
    registry,
    adapter: createAdapter(pub, sub, { key: `${prefix}socket.io` }),
    close: async () => {
      await Promise.allSettled(all.map((c) => (c.isOpen ? c.close() : Promise.resolve())));
    },
  };
}
