// Signaling that scales out on Redis: a real redis-server on a loopback port and two webray server
// processes beside it (`webray serve --redis-url`), the coordinator's page served by one and the
// volunteers' by the other. One cluster across both; each process is killed or restarted mid-job
// and the job, the memberships and the joins carry on.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { freePort, hasRedisServer, startRedis, type TestRedis } from '../signaling/redis.fixture.ts';
import { test, expect, initHead, joinAsVolunteer, openRayPage, uniqueClusterName, waitForAlive } from './cluster-helpers.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A `webray serve` process: its URL and everything it printed. */
class ServerProcess {
  private child: ChildProcess | undefined;
  output = '';
  readonly url: string;

  constructor(
    readonly port: number,
    private readonly taskPort: number,
    private readonly redisUrl: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts it (again) on its ports; resolves once it listens. */
  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [path.join(REPO, 'bin', 'webray.mjs'), 'serve', '--port', String(this.port), '--task-port', String(this.taskPort), '--redis-url', this.redisUrl],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.output += chunk.toString();
        if (this.output.includes(`webray server listening on ${this.url}`)) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`webray serve on port ${this.port} exited (${code}):\n${this.output}`)));
    });
  }

  /** Stops it: SIGTERM shuts it down (its tabs' memberships stay in Redis), SIGKILL is a crash. */
  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }
}

// Two server processes, a restart of each and a job through them: ~20 s alone.
test.describe.configure({ timeout: 120_000 });
test.skip(!hasRedisServer, 'redis-server is not installed (apt-get install redis-server; .ci/run does)');

let redis: TestRedis | undefined;
const servers: ServerProcess[] = [];

test.beforeAll(async () => {
  redis = await startRedis();
});
test.afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await redis?.stop();
});

/** How many server processes have a live heartbeat in Redis. */
async function liveServers(): Promise<number> {
  const client = createClient({ url: redis!.url });
  await client.connect();
  try {
    return (await client.keys('webray:srv:*')).length;
  } finally {
    await client.close();
  }
}

async function serverProcess(): Promise<ServerProcess> {
  const s = new ServerProcess(await freePort(), await freePort(), redis!.url);
  servers.push(s);
  await s.start();
  return s;
}

test('a coordinator on one server process and volunteers on another form one cluster; each process crashes or restarts mid-job and nothing is lost', async ({ browser }) => {
  const [a, b] = [await serverProcess(), await serverProcess()];
  const name = uniqueClusterName('redis');
  const token = `tok-${crypto.randomUUID()}`;
  const head = await openRayPage(browser, a.url, '/');
  const headId = await initHead(head.page, name, token, { numCpus: 1 });
  const vol = await openRayPage(browser, b.url, '/join');
  const volId = await joinAsVolunteer(vol.page, name, token, { numCpus: 1, resources: { vol: 1 } });
  await waitForAlive(head.page, [headId, volId]);

  // A job on the volunteer: 30 tasks of ~150 ms, under way while each process goes down.
  const startJob = (): Promise<void> =>
    head.page.evaluate(() => {
      const ray = globalThis.ray;
      const work = ray.remote({ resources: { vol: 1 } }, async (i: number) => {
        await new Promise((r) => setTimeout(r, 150));
        return { sq: i * i, on: ray.getRuntimeContext().nodeId as string };
      });
      globalThis.e2eRefs = Array.from({ length: 30 }, (_, i) => work.remote(i));
    });
  const finishJob = (): Promise<{ sq: number; on: string }[]> =>
    head.page.evaluate(async () => (await globalThis.ray.get(globalThis.e2eRefs, { timeoutMs: 60_000 })) as { sq: number; on: string }[]);
  const finishedCount = (): Promise<number> =>
    head.page.evaluate(async () => (await globalThis.ray.wait(globalThis.e2eRefs, { numReturns: globalThis.e2eRefs.length, timeoutMs: 0 }))[0].length);

  // 1. The coordinator's process crashes (SIGKILL: no goodbye) and comes back on its port. While
  //    it is gone, a volunteer joins through the other process: its offer to the coordinator is
  //    kept for the coordinator's resume, and the link opens once the coordinator is back.
  await startJob();
  await expect.poll(finishedCount, { message: 'tasks finished before the crash' }).toBeGreaterThan(0);
  await a.stop('SIGKILL');
  await expect.poll(liveServers, { message: "the crashed process's heartbeat expires in Redis" }).toBe(1);
  const early = await openRayPage(browser, b.url, '/join');
  const earlyJoin = joinAsVolunteer(early.page, name, token, { numCpus: 1 });
  const joinsThroughB = (): number => (b.output.match(/: node n-\S+ joined/g) ?? []).length;
  await expect.poll(joinsThroughB, { message: 'the volunteer is admitted while the coordinator is away' }).toBe(2);
  await a.start();
  // The coordinator's tab reconnected and took its membership back under the same id.
  await expect.poll(() => a.output, { timeout: 20_000, message: 'the restarted process resumes the coordinator' }).toContain(`coordinator ${headId} resumed`);
  const first = await finishJob();
  expect(first.map((r) => r.sq)).toEqual(Array.from({ length: 30 }, (_, i) => i * i));
  expect(new Set(first.map((r) => r.on))).toEqual(new Set([volId]));

  const earlyId = await earlyJoin;
  await waitForAlive(head.page, [headId, volId, earlyId]);
  // A volunteer joining through the other process now is introduced to the resumed coordinator.
  const late = await openRayPage(browser, b.url, '/join');
  const lateId = await joinAsVolunteer(late.page, name, token, { numCpus: 1 });
  await waitForAlive(head.page, [headId, volId, earlyId, lateId]);

  // 2. The volunteers' process is restarted (SIGTERM, as a deploy does) mid-job.
  await startJob();
  await expect.poll(finishedCount, { message: 'tasks finished before the restart' }).toBeGreaterThan(0);
  await b.stop('SIGTERM');
  await b.start();
  await expect.poll(() => b.output, { timeout: 20_000, message: 'the restarted process resumes both volunteers' }).toContain(`node ${volId} resumed`);
  await expect.poll(() => b.output, { timeout: 20_000 }).toContain(`node ${lateId} resumed`);
  await expect.poll(() => b.output, { timeout: 20_000 }).toContain(`node ${earlyId} resumed`);
  const second = await finishJob();
  expect(second.map((r) => r.sq)).toEqual(Array.from({ length: 30 }, (_, i) => i * i));

  // No membership ended, no node was ever taken for dead, and the cluster is whole.
  expect(await vol.page.evaluate(() => globalThis.rayNodeClosed)).toEqual([]);
  expect(await late.page.evaluate(() => globalThis.rayNodeClosed)).toEqual([]);
  expect(await early.page.evaluate(() => globalThis.rayNodeClosed)).toEqual([]);
  await waitForAlive(head.page, [headId, volId, earlyId, lateId]);
  expect(await head.page.evaluate(() => globalThis.ray.nodes().filter((n) => !n.alive).length)).toBe(0);
  // And signaling still introduces: one more volunteer through the restarted process.
  const third = await openRayPage(browser, b.url, '/join');
  const thirdId = await joinAsVolunteer(third.page, name, token, { numCpus: 1 });
  await waitForAlive(head.page, [headId, volId, earlyId, lateId, thirdId]);
  expect([...head.errors, ...vol.errors, ...early.errors, ...late.errors, ...third.errors]).toEqual([]);
  await Promise.all([head, vol, early, late, third].map((p) => p.context.close()));
});
