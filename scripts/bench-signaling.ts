// npm run bench:signaling — the signaling tier under load, in Node (no browser): many clusters at
// once, every tab a real socket.io client with its own connection, against real server processes
// (signaling/server.ts as `npm start` runs it): one process with its clusters in memory, one with
// them in Redis, and two sharing a Redis with every coordinator on one and every volunteer on the
// other (so every join and every signal crosses processes). Measures joins per second (connect +
// join, up to CONCURRENCY at a time) and signals relayed per second: --signals waves, in each of
// which every volunteer and its coordinator send each other one signal, all clusters at once (a
// wave is ~20,000 signals at the defaults; a server overloaded past its Redis command timeout
// drops signals, as the network would, so the bench paces them rather than queue 200,000).
//
// Options: --clusters N (default 1000), --volunteers N per cluster (default 10), --signals N
// (default 10), --modes memory,redis,redis2 (default all three).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { freePort, startRedis, type TestRedis } from '../signaling/redis.fixture.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Connections being opened (and joins awaited) at once. */
const CONCURRENCY = 200;
/** A phase that has not finished by then failed. */
const PHASE_TIMEOUT_MS = 300_000;

type Mode = 'memory' | 'redis' | 'redis2';
const MODE_NAMES: Record<Mode, string> = {
  memory: '1 process, clusters in memory',
  redis: '1 process, clusters in Redis',
  redis2: '2 processes sharing Redis (coordinators on one, volunteers on the other)',
};

const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: '1000' },
    volunteers: { type: 'string', default: '10' },
    signals: { type: 'string', default: '10' },
    modes: { type: 'string', default: 'memory,redis,redis2' },
  },
});
const CLUSTERS = Number(values.clusters);
const VOLUNTEERS = Number(values.volunteers);
const SIGNALS = Number(values.signals);
const MODES = values.modes.split(',') as Mode[];
for (const m of MODES) if (!(m in MODE_NAMES)) throw new Error(`unknown mode ${m}: one of ${Object.keys(MODE_NAMES).join(', ')}`);

interface ServerProc {
  readonly url: string;
  readonly child: ChildProcess;
}

async function startServerProcess(redisUrl: string | undefined): Promise<ServerProc> {
  const [port, taskPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'signaling', 'server.ts')], {
    cwd: REPO,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), TASK_PORT: String(taskPort), ...(redisUrl ? { REDIS_URL: redisUrl } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      // Keeps draining after the start, or the server would block on a full pipe (it logs every join).
      if (out.length < 10_000) out += chunk.toString();
      if (out.includes('webray server listening on')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function stopServerProcess(s: ServerProc): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()));
  s.child.kill('SIGKILL');
  await exited;
}

interface Tab {
  readonly socket: Socket;
  nodeId: string;
  received: number;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function connectAndJoin(url: string, req: Record<string, unknown>): Promise<Tab> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 60_000 });
  const tab: Tab = { socket, nodeId: '', received: 0 };
  socket.on('signal', () => {
    tab.received++;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const reply = (await socket.timeout(60_000).emitWithAck('join', req)) as { ok: boolean; nodeId?: string; message?: string };
  if (!reply.ok || reply.nodeId === undefined) throw new Error(`join refused: ${reply.message ?? '?'}`);
  tab.nodeId = reply.nodeId;
  return tab;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

async function waitUntil(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Row {
  mode: Mode;
  joins: number;
  joinsPerSecond: number;
  joinP50: number;
  joinP99: number;
  signals: number;
  signalsPerSecond: number;
}

async function runMode(mode: Mode): Promise<Row> {
  let redis: TestRedis | undefined;
  const servers: ServerProc[] = [];
  const tabs: Tab[] = [];
  try {
    if (mode !== 'memory') redis = await startRedis();
    servers.push(await startServerProcess(redis?.url));
    if (mode === 'redis2') servers.push(await startServerProcess(redis?.url));
    const coordinatorUrl = servers[0]!.url;
    const volunteerUrl = servers[servers.length - 1]!.url;
    const run = `${process.pid}-${mode}`;
    const token = 'bench-token-Zq8xT2pLm4';
    const latencies: number[] = [];
    const t0 = performance.now();
    const heads: Tab[] = new Array<Tab>(CLUSTERS);
    await pool(
      Array.from({ length: CLUSTERS }, (_, i) => i),
      CONCURRENCY,
      async (i) => {
        const s = performance.now();
        heads[i] = await connectAndJoin(coordinatorUrl, { role: 'coordinator', cluster: `b${run}-${i}`, token, resources: { CPU: 1 }, gpuFallback: false });
        latencies.push(performance.now() - s);
        tabs.push(heads[i]);
      },
    );
    const volunteers: Tab[][] = heads.map(() => []);
    const jobs = Array.from({ length: CLUSTERS * VOLUNTEERS }, (_, k) => k);
    await pool(jobs, CONCURRENCY, async (k) => {
      const i = k % CLUSTERS;
      const s = performance.now();
      const v = await connectAndJoin(volunteerUrl, { role: 'node', cluster: `b${run}-${i}`, token, resources: { CPU: 1 }, gpuFallback: false });
      latencies.push(performance.now() - s);
      volunteers[i]!.push(v);
      tabs.push(v);
    });
    const joinSeconds = (performance.now() - t0) / 1000;
    const joins = CLUSTERS * (1 + VOLUNTEERS);
    latencies.sort((a, b) => a - b);

    // Signals, in waves: each volunteer and its coordinator send each other one signal.
    const payload = { type: 'candidate', candidate: 'candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0', sdpMid: '0' };
    const received = (): number => tabs.reduce((a, t) => a + t.received, 0);
    const perWave = 2 * CLUSTERS * VOLUNTEERS;
    const t1 = performance.now();
    for (let wave = 1; wave <= SIGNALS; wave++) {
      for (const [i, head] of heads.entries()) {
        for (const v of volunteers[i]!) {
          v.socket.emit('signal', { to: head.nodeId, data: payload });
          head.socket.emit('signal', { to: v.nodeId, data: payload });
        }
      }
      await waitUntil(`wave ${wave} of signals (${received()} of ${wave * perWave} arrived)`, () => received() >= wave * perWave);
    }
    const expected = perWave * SIGNALS;
    const signalSeconds = (performance.now() - t1) / 1000;
    return {
      mode,
      joins,
      joinsPerSecond: joins / joinSeconds,
      joinP50: percentile(latencies, 50),
      joinP99: percentile(latencies, 99),
      signals: expected,
      signalsPerSecond: expected / signalSeconds,
    };
  } finally {
    for (const t of tabs) t.socket.close();
    await Promise.all(servers.map(stopServerProcess));
    await redis?.stop();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
console.log(`bench:signaling — ${fmt(CLUSTERS)} clusters × ${VOLUNTEERS} volunteers, ${SIGNALS} signals each way per volunteer; node ${process.version}`);
const rows: Row[] = [];
for (const mode of MODES) {
  process.stdout.write(`  ${MODE_NAMES[mode]} … `);
  const row = await runMode(mode);
  rows.push(row);
  console.log(`${fmt(row.joinsPerSecond)} joins/s, ${fmt(row.signalsPerSecond)} signals/s`);
}
console.log('');
console.log('| signaling tier | joins/s | join p50 / p99 (ms) | signals relayed/s |');
console.log('| --- | ---: | --- | ---: |');
for (const r of rows) {
  console.log(`| ${MODE_NAMES[r.mode]} | ${fmt(r.joinsPerSecond)} | ${r.joinP50.toFixed(1)} / ${r.joinP99.toFixed(1)} | ${fmt(r.signalsPerSecond)} |`);
}
process.exit(0);
