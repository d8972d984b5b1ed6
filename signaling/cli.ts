// webray's command line (`bin/webray.mjs`, `npx webray`): `webray serve` starts the signaling
// server and the task origin — the server `npm start` runs — configured by flags, each of which
// stands for the environment variable `npm start` reads (a flag wins over its variable).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DIST_DIR, serve, serverOptionsFromEnv } from './server.ts';

/** Each flag of `webray serve` and the variable it stands for. */
const FLAGS = {
  host: 'HOST',
  port: 'PORT',
  'task-port': 'TASK_PORT',
  'task-origin': 'TASK_ORIGIN',
  'allowed-origins': 'ALLOWED_ORIGINS',
  'tls-cert': 'TLS_CERT',
  'tls-key': 'TLS_KEY',
  'ice-servers': 'WEBRAY_ICE_SERVERS',
  'turn-url': 'TURN_URL',
  'turn-ttl': 'TURN_TTL',
  'redis-url': 'REDIS_URL',
} as const;

export const USAGE = `webray — Ray's task, actor and object model for browser tabs

Usage:
  webray serve [options]   start the signaling server, the demo and volunteer pages, /webray.js
                           and the task origin (what \`npm start\` runs in the repository)
  webray --help            this text

Options of serve (each stands for an environment variable, which it overrides):
  --host <address>          bind address (HOST; default 127.0.0.1; 0.0.0.0 for every interface)
  --port <n>                port of the pages and signaling (PORT; default 8080; 0 picks a free one)
  --task-port <n>           port of the task origin (TASK_PORT; default port + 1)
  --task-origin <origin>    the task origin as browsers reach it, e.g. https://tasks.example-usercontent.org
                            (TASK_ORIGIN)
  --allowed-origins <list>  comma-separated origins whose pages may connect (ALLOWED_ORIGINS;
                            default the server's own)
  --tls-cert <file>         PEM certificate: serve both origins over HTTPS (TLS_CERT; with --tls-key)
  --tls-key <file>          its PEM private key (TLS_KEY)
  --ice-servers <json>      ICE servers the pages use, e.g. '[{"urls":"stun:stun.example.org:3478"}]'
                            (WEBRAY_ICE_SERVERS)
  --turn-url <urls>         a TURN server, comma-separated turn:/turns: URLs (TURN_URL); the pages get
                            credentials minted from TURN_SECRET, coturn's static-auth-secret, which
                            is read from the environment only (a flag would show in \`ps\`)
  --turn-ttl <seconds>      how long minted TURN credentials last (TURN_TTL; default 86400)
  --redis-url <url>         keep the clusters in this Redis, redis://[:password@]host[:port][/db]
                            (rediss:// for TLS), shared with every server process given the same
                            one: run several behind a load balancer, restart one without losing
                            a cluster (REDIS_URL; default: in this process's memory). A password
                            in a flag shows in \`ps\`: put it in REDIS_URL instead

Deployment on the internet (HTTPS, the task origin's own site, coturn): docs/deployment.md.
`;

/** The environment `webray serve <args>` runs the server with: `env`, with the flags given written over it. */
export function serveEnv(args: readonly string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`webray serve takes no arguments besides its options, got ${positionals.join(' ')}`);
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [flag, name] of Object.entries(FLAGS)) {
    const v = values[flag];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/** Runs the command line; resolves with the exit code, or never while the server serves. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'serve') {
    console.error(`webray: unknown command ${JSON.stringify(command)}; see webray --help`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let options;
  try {
    options = serverOptionsFromEnv(serveEnv(rest, env));
  } catch (e) {
    console.error(`webray serve: ${(e as Error).message}; see webray --help`);
    return 2;
  }
  if (!existsSync(path.join(DEFAULT_DIST_DIR, 'webray.js'))) {
    console.error(`webray serve: ${DEFAULT_DIST_DIR} has no webray.js: in the repository, run \`npm run build\` first (the npm package ships it built)`);
    return 1;
  }
  try {
    await serve(options);
  } catch (e) {
    console.error(`webray serve: the server failed to start: ${(e as Error).message}`);
    return 1;
  }
  return new Promise<number>(() => {});
}
