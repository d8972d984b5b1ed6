// Re-runs the benchmark inside a loopback-only network namespace (docs/browser-facts.md: browser runs
// keep all traffic on loopback), so server and Chromium see nothing but 127.0.0.1.
import { spawnSync } from 'node:child_process';

export const NETNS_ENV = 'WEBRAY_BENCH_NETNS';

/** True when this process already runs inside the namespace made by `reexecInNetns`. */
export function insideNetns() {
  return process.env[NETNS_ENV] === '1';
}

/**
 * Re-executes this script in a fresh network namespace with only `lo` up and returns its exit
 * code, or returns null when that is not possible here (not Linux, no unshare, no permission):
 * the caller then runs in place.
 */
export function reexecInNetns(scriptPath, argv, log) {
  if (process.platform !== 'linux') return null;
  // Root gets a plain network namespace; others need a user namespace around it.
  const unshareFlags = process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
  const probe = spawnSync('unshare', [...unshareFlags, 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    log('loopback-only network namespace unavailable (unshare failed): running in the host network');
    return null;
  }
  const child = spawnSync(
    'unshare',
    [
      ...unshareFlags,
      'sh',
      '-c',
      'ip link set lo up && exec "$@"',
      'sh',
      process.execPath,
      ...process.execArgv,
      scriptPath,
      ...argv,
    ],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: '1' } },
  );
  if (child.error) throw child.error;
  if (child.signal) return 128 + 1;
  return child.status ?? 1;
}
