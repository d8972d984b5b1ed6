// Resource arithmetic on ResourceSets (Ray's ResourceRequest / NodeResources), pure functions.

import type { ResourceSet } from '../protocol/task-spec.ts';

const EPS = 1e-9;

export function fits(need: ResourceSet, have: ResourceSet): boolean {
  for (const k in need) {
    if ((need[k] ?? 0) > (have[k] ?? 0) + EPS) return false;
  }
  return true;
}

/** `have - need`, in place. */
export function subtract(have: Record<string, number>, need: ResourceSet): void {
  for (const k in need) have[k] = (have[k] ?? 0) - (need[k] ?? 0);
}

/** `have + need`, in place, capped at `total`. */
export function add(have: Record<string, number>, need: ResourceSet, total: ResourceSet): void {
  for (const k in need) have[k] = Math.min((have[k] ?? 0) + (need[k] ?? 0), total[k] ?? Infinity);
}

export function sum(sets: Iterable<ResourceSet>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sets) for (const k in s) out[k] = (out[k] ?? 0) + (s[k] ?? 0);
  return out;
}

/** A stable key for a resource shape (Ray's scheduling class). */
export function shapeKey(r: ResourceSet): string {
  const keys = Object.keys(r);
  if (keys.length === 1 && keys[0] === 'CPU' && r.CPU === 1) return 'CPU:1';
  return keys
    .sort()
    .map((k) => `${k}:${r[k]}`)
    .join(',');
}

export function format(r: ResourceSet): string {
  const keys = Object.keys(r);
  return keys.length === 0 ? '{}' : `{ ${keys.map((k) => `${k}: ${r[k]}`).join(', ')} }`;
}

/** The resources in `need` that `total` lacks, for "waiting for resources" reasons. */
export function missing(need: ResourceSet, total: ResourceSet): string[] {
  const out: string[] = [];
  for (const k in need) if ((need[k] ?? 0) > (total[k] ?? 0) + EPS) out.push(`${k}: ${need[k]} (largest node has ${total[k] ?? 0})`);
  return out;
}
