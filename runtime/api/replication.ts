// How many replicas a task or actor runs as (verified results, docs/api.md): its own `replicas` /
// `maxReplicas` options, else the cluster default the driver set with `ray.init({ verification })`.
// The default lives here, set by the ray context at init and cleared at shutdown, as the Core is.
// A task asking for more than one replica carries `replicas` and `maxReplicas` in its TaskSpec; one
// replica (the default) adds nothing to the spec, so the unverified path is unchanged.

import type { VerificationOptions } from './options.ts';

/** How many replicas to run at first, and at most in all (more run only on disagreement). */
export interface Replication {
  readonly replicas: number;
  readonly maxReplicas: number;
  /** `replicas` came from the `ray.init({ verification })` default, not the call's own options. */
  readonly fromDefault: boolean;
}

let defaults: VerificationOptions | undefined;

/** Installed by `ray.init` (its `verification` option); `undefined` clears it at shutdown. */
export function setVerificationDefaults(v: VerificationOptions | undefined): void {
  defaults = v;
}

/** The cluster default set with `ray.init({ verification })`, if any. */
export function verificationDefaults(): VerificationOptions | undefined {
  return defaults;
}

/** BOINC's default: enough extra replicas to outvote as many disagreeing ones as the first run had. */
export function defaultMaxReplicas(replicas: number): number {
  return 2 * replicas + 1;
}

/**
 * The replication of one call from its options (already validated one by one) and the cluster
 * default. Throws naming the options when `maxReplicas` is below `replicas`.
 */
export function resolveReplication(opts: { readonly replicas?: number; readonly maxReplicas?: number }, what: string): Replication {
  const replicas = opts.replicas ?? defaults?.replicas ?? 1;
  const maxReplicas = opts.maxReplicas ?? defaultMaxReplicas(replicas);
  if (maxReplicas < replicas) {
    throw new TypeError(
      `${what}: maxReplicas (${maxReplicas}) must be at least replicas (${replicas}); leave maxReplicas out for the default 2·replicas + 1`,
    );
  }
  return { replicas, maxReplicas, fromDefault: opts.replicas === undefined && defaults?.replicas !== undefined };
}

/** The TaskSpec fields for this replication: none for a single replica, so that path is unchanged. */
export function replicationFields(r: Replication): { replicas?: number; maxReplicas?: number } {
  return r.replicas > 1 ? { replicas: r.replicas, maxReplicas: r.maxReplicas } : {};
}

/**
 * A replicated actor runs every call on each replica and compares the results, so each must see the
 * same calls in the same order and none may be re-created from scratch: it runs one call at a time
 * (maxConcurrency 1, also for async methods) and is not restarted (maxRestarts 0). Throws naming
 * the option that asks otherwise.
 */
export function assertActorReplicable(r: Replication, opts: { readonly maxConcurrency?: number; readonly maxRestarts?: number }, what: string): void {
  if (r.replicas <= 1) return;
  const asked = `replicas: ${r.replicas}${r.fromDefault ? ', from ray.init({ verification })' : ''}`;
  if ((opts.maxConcurrency ?? 1) > 1) {
    throw new TypeError(
      `${what}: a replicated actor (${asked}) runs one call at a time, so that every replica sees its calls in the same order; ` +
        `leave maxConcurrency out (or 1), or create the actor with replicas: 1`,
    );
  }
  if ((opts.maxRestarts ?? 0) !== 0) {
    throw new TypeError(
      `${what}: a replicated actor (${asked}) is not restarted: a replica that fails or disagrees is dropped and the others go on, ` +
        `and with fewer than a majority left the actor dies; leave maxRestarts out (or 0), or create the actor with replicas: 1`,
    );
  }
}
