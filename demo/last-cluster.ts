// The cluster this tab last coordinated, kept in sessionStorage: after a reload the page starts it
// again by itself when it was running (the same name and token, so the invite link stays valid;
// webray keeps the server's coordinator secret in the same tab's sessionStorage, so starting it
// reclaims the seat, and the volunteers' pages join again on their own), or offers it in the start
// form when it had been stopped.

const KEY = 'webray-demo:last-cluster';

export interface LastCluster {
  readonly cluster: string;
  readonly token: string;
  /** It was running when the page went away (a reload, not the Stop button). */
  readonly running: boolean;
  /** What this tab offered. */
  readonly numCpus: number;
  readonly numGpus: number;
}

export function loadLastCluster(): LastCluster | undefined {
  try {
    const v: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (typeof v !== 'object' || v === null) return undefined;
    const { cluster, token, running, numCpus, numGpus } = v as Record<string, unknown>;
    if (typeof cluster !== 'string' || typeof token !== 'string') return undefined;
    const count = (x: unknown, fallback: number): number => (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 1024 ? x : fallback);
    return { cluster, token, running: running === true, numCpus: count(numCpus, 1), numGpus: count(numGpus, 0) };
  } catch {
    return undefined;
  }
}

export function saveLastCluster(c: LastCluster): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(c));
  } catch {
    // No storage: a reload just offers a new random name.
  }
}
