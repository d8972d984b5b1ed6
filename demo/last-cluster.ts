// The cluster this tab last coordinated, kept in sessionStorage so that after a reload the start
// form offers the same name and token: starting it again reclaims the seat (webray keeps the
// server's coordinator secret in the same tab's sessionStorage), and the invite link stays valid.

const KEY = 'webray-demo:last-cluster';

export interface LastCluster {
  readonly cluster: string;
  readonly token: string;
}

export function loadLastCluster(): LastCluster | undefined {
  try {
    const v: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (typeof v !== 'object' || v === null) return undefined;
    const { cluster, token } = v as Record<string, unknown>;
    return typeof cluster === 'string' && typeof token === 'string' ? { cluster, token } : undefined;
  } catch {
    return undefined;
  }
}

export function saveLastCluster(c: LastCluster): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify({ cluster: c.cluster, token: c.token }));
  } catch {
    // No storage: a reload just offers a new random name.
  }
}
