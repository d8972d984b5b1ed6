// The coordinator's seat credential: the secret the signaling server gave this tab when it created
// a cluster, kept in the tab's sessionStorage (which survives a reload of the tab, not the tab
// itself, and is not shared with other tabs) so that a reloaded coordinator page can reclaim its
// cluster's name while the server holds it. Nothing here when there is no sessionStorage (Node).

const KEY_PREFIX = 'webray:coordinator-secret:';

function storage(): Storage | undefined {
  try {
    return (globalThis as { sessionStorage?: Storage }).sessionStorage;
  } catch {
    return undefined; // storage denied (sandboxed frame, privacy settings)
  }
}

function key(address: string, cluster: string): string {
  return `${KEY_PREFIX}${address}|${cluster}`;
}

/** The secret this tab was given for `cluster` on the server at `address`, if it kept one. */
export function loadCoordinatorSecret(address: string, cluster: string): string | undefined {
  try {
    return storage()?.getItem(key(address, cluster)) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Keeps the secret for a reload of this tab. */
export function saveCoordinatorSecret(address: string, cluster: string, secret: string): void {
  try {
    storage()?.setItem(key(address, cluster), secret);
  } catch {
    // Full or denied storage: the seat just cannot be reclaimed after a reload.
  }
}
