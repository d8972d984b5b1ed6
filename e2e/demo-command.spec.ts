// `npm run demo`, the main job without a browser window: it must start everything itself, run
// Monte Carlo π across its volunteer tabs and exit 0 with the estimate and per-node samples.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { eventWithin } from './wait-helpers.ts';

/** Every process below `pid` (Linux /proc): the demo's Chromium leads a process group of its own. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Ends the demo and all it started, however the test ended: SIGTERM to its process group (the
 * demo's Playwright then closes its Chromium), and after a grace period SIGKILL to the group and
 * to every descendant and its group (Chromium, its renderers and helpers) that is still there.
 */
async function stopDemo(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const tree = descendants(pid);
  kill(-pid, 'SIGTERM');
  await eventWithin(exited, 5_000, 'the demo to exit on SIGTERM').catch(() => {});
  kill(-pid, 'SIGKILL');
  for (const p of tree) {
    kill(-p, 'SIGKILL');
    kill(p, 'SIGKILL');
  }
}

/** The demo a test started, until afterEach has ended it (a timed-out test runs no finally block). */
let running: { child: ChildProcess; exited: Promise<unknown> } | undefined;

test.afterEach(async () => {
  if (running) await stopDemo(running.child, running.exited);
  running = undefined;
});

test('npm run demo runs Monte Carlo π on a coordinator and two volunteers and exits 0', async () => {
  test.setTimeout(180_000);
  // Its own process group (detached), so that it and everything it starts can be ended together.
  const child = spawn(process.execPath, ['scripts/demo.mjs', '--volunteers', '2', '--samples', '10000000', '--no-netns'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  running = { child, exited };
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await exited;
  expect(code, out).toBe(0);
  expect(out).toMatch(/Volunteer 2 joined/);
  const pi = Number(/π ≈ ([\d.]+)/.exec(out)?.[1]);
  expect(Math.abs(pi - Math.PI)).toBeLessThan(0.01);
  // A line per node under "Samples per node", each with a sample count; they add up to the total.
  const lines = out.split('Samples per node:')[1]!.split('\n').filter((l) => /^\s+n-\S+/.test(l));
  expect(lines).toHaveLength(3);
  const total = lines.map((l) => Number(/([\d,]+)\s*$/.exec(l)![1]!.replace(/,/g, ''))).reduce((a, b) => a + b, 0);
  expect(total).toBe(10_000_000);
});
