// A volunteer on a second "machine" — a separate Chromium process tree, started with
// chromium.launchServer() — killed outright with SIGKILL mid-job, like a machine losing power
// (docs/browser-facts.md, "To kill a browser like a crashed machine"). The cluster must lose only time.
import { chromium } from '@playwright/test';
import { test, expect, joinAsVolunteer, openRayPage, runningOn, waitForAlive, waitForDead } from './cluster-helpers.ts';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A cluster, a second browser and retried work: ~15 s alone, several times that on a loaded machine.
test.describe.configure({ timeout: 180_000 });

test('a volunteer whose whole browser is killed mid-job costs time, not results', async ({ startCluster, launchOptions, baseURL }) => {
  const c = await startCluster({ head: { numCpus: 1 }, volunteers: [{ numCpus: 1 }] });
  // Same executable and flags as the test browser (the config's launchOptions), in its own process group.
  const machine = await chromium.launchServer({ ...launchOptions, headless: true });
  const pid = machine.process().pid!;
  try {
    const browser = await chromium.connect(machine.wsEndpoint());
    const { page } = await openRayPage(browser, baseURL!, '/join');
    const doomed = await joinAsVolunteer(page, c.name, c.token, { numCpus: 2 });
    await waitForAlive(c.head.page, [c.head.nodeId, c.volunteers[0]!.nodeId, doomed]);

    await c.head.page.evaluate((doomed) => {
      const ray = globalThis.ray;
      const work = ray.remote({ name: 'work', schedulingStrategy: 'SPREAD' }, async (i: number, doomed: string) => {
        // On the doomed machine a task runs until the kill, however long the test takes to get there.
        if (ray.getRuntimeContext().nodeId === doomed) await new Promise(() => {});
        await new Promise((r) => setTimeout(r, 700)); // work
        return { sq: i * i, nodeId: ray.getRuntimeContext().nodeId as string };
      });
      globalThis.e2eRefs = Array.from({ length: 12 }, (_, i) => work.remote(i, doomed));
    }, doomed);
    await expect.poll(() => runningOn(c.head.page, doomed), { intervals: [50], message: 'tasks running on the doomed machine' }).not.toEqual([]);
    const runningThere = await runningOn(c.head.page, doomed);

    // The launched browser leads its own process group: kill the group (browser, renderers, GPU
    // and network processes) at once, with no chance to say goodbye.
    process.kill(-pid, 'SIGKILL');
    await expect.poll(() => processAlive(pid), { message: 'the killed browser process is gone' }).toBe(false);
    const deadAfterMs = await waitForDead(c.head.page, doomed, 10_000);
    test.info().annotations.push({ type: 'killed volunteer marked dead after', description: `${deadAfterMs} ms` });
    // From the socket the kernel closed, not the 6 s heartbeat timeout. Typically ~10 ms.
    expect(deadAfterMs).toBeLessThan(5_000);

    const out = await c.head.page.evaluate(async () => {
      const ray = globalThis.ray;
      const results = (await ray.get(globalThis.e2eRefs, { timeoutMs: 60_000 })) as { sq: number; nodeId: string }[];
      return { results, table: (await ray.tasks()).filter((t) => t.name === 'work') };
    });
    expect(out.results.map((r) => r.sq)).toEqual(Array.from({ length: 12 }, (_, i) => i * i));
    for (const id of runningThere) {
      const t = out.table.find((x) => x.taskId === id)!;
      expect(t.state).toBe('FINISHED');
      expect(t.nodeId).not.toBe(doomed);
      expect(t.attempts).toBeGreaterThanOrEqual(2);
    }
    // The survivors carry on.
    const after = await c.head.page.evaluate(async () => {
      const ray = globalThis.ray;
      const where = ray.remote({ schedulingStrategy: 'SPREAD' }, () => ray.getRuntimeContext().nodeId as string);
      return ray.get([where.remote(), where.remote()], { timeoutMs: 30_000 });
    });
    expect(after.sort()).toEqual([c.head.nodeId, c.volunteers[0]!.nodeId].sort());
  } finally {
    if (processAlive(pid)) process.kill(-pid, 'SIGKILL');
    await machine.close().catch(() => {});
  }
});
