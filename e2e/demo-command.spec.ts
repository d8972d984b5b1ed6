// `npm run demo`, the main job without a browser window: it must start everything itself, run
// Monte Carlo π across its volunteer tabs and exit 0 with the estimate and per-node samples.
import { spawn } from 'node:child_process';
import { expect, test } from '@playwright/test';

test('npm run demo runs Monte Carlo π on a coordinator and two volunteers and exits 0', async () => {
  test.setTimeout(180_000);
  const child = spawn(process.execPath, ['scripts/demo.mjs', '--volunteers', '2', '--samples', '10000000', '--no-netns'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
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
