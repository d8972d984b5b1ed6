import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serveEnv, USAGE } from './cli.ts';
import { serverOptionsFromEnv, startServer } from './server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webray = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin', 'webray.mjs'), ...args], { encoding: 'utf8', timeout: 30_000 });

describe('webray serve: flags stand for the variables npm start reads', () => {
  it('writes each flag over its variable, and the server options follow', () => {
    const env = serveEnv(
      ['--host', '0.0.0.0', '--port', '9000', '--task-port', '9100', '--task-origin', 'https://tasks.example.org', '--allowed-origins', 'https://w.example.org', '--ice-servers', '[{"urls":"stun:s.example.org"}]', '--turn-url', 'turn:t.example.org:3478', '--turn-ttl', '600', '--redis-url', 'redis://10.0.0.5:6379/2'],
      { PORT: '1234', TURN_SECRET: 'a-long-shared-secret-for-coturn', KEEP: 'me' },
    );
    expect(env).toMatchObject({ HOST: '0.0.0.0', PORT: '9000', TASK_PORT: '9100', TURN_URL: 'turn:t.example.org:3478', TURN_SECRET: 'a-long-shared-secret-for-coturn', KEEP: 'me' });
    expect(serverOptionsFromEnv(env)).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      taskPort: 9100,
      taskOrigin: 'https://tasks.example.org',
      allowedOrigins: ['https://w.example.org'],
      iceServers: [{ urls: 'stun:s.example.org' }],
      turn: { urls: ['turn:t.example.org:3478'], ttlSeconds: 600 },
      redisUrl: 'redis://10.0.0.5:6379/2',
    });
    expect(serveEnv([], { PORT: '1234' })).toEqual({ PORT: '1234' });
  });

  it('refuses unknown flags, stray arguments and the secret as a flag', () => {
    expect(() => serveEnv(['--prot', '80'], {})).toThrow(/Unknown option '--prot'/);
    expect(() => serveEnv(['8080'], {})).toThrow('takes no arguments besides its options, got 8080');
    expect(() => serveEnv(['--turn-secret', 'x'], {})).toThrow(/Unknown option '--turn-secret'/);
  });
});

describe('bin/webray.mjs', () => {
  it('--help prints the usage and exits 0; no command prints it and exits 1', () => {
    const help = webray('--help');
    expect(help.status).toBe(0);
    expect(help.stdout.trim()).toBe(USAGE.trim());
    expect(webray().status).toBe(1);
  });

  it('says what is wrong with a bad command or flag, exiting 2', () => {
    const unknown = webray('start');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('webray: unknown command "start"; see webray --help');
    const badPort = webray('serve', '--port', 'eighty');
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toContain('webray serve: PORT must be an integer from 0 to 65535, got "eighty"');
  });

  it('refuses a REDIS_URL that is not redis:// or rediss://', () => {
    expect(() => serverOptionsFromEnv({ REDIS_URL: 'http://cache:6379' })).toThrow('REDIS_URL must be redis://[:password@]host[:port][/db] or rediss://… for TLS, got a http: URL');
    expect(() => serverOptionsFromEnv({ REDIS_URL: 'cache:6379' })).toThrow(/REDIS_URL must be redis:/);
  });

  it('fails the start, naming the Redis URL without its password, when Redis cannot be reached', async () => {
    // Port 1 on loopback: nothing listens there.
    const start = startServer({ port: 0, distDir: '/nonexistent', log: () => {}, redisUrl: 'redis://:hunter2-password@127.0.0.1:1' });
    const err = await start.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(
      'cannot reach Redis at redis://:***@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1; is redis-server running there? (REDIS_URL, --redis-url)',
    );
  });
});
