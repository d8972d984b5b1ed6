// The refs an actor method call returned in this tab, so that `ray.cancel(ref, { force: true })`
// can refuse them at once, as Ray does ("force=True is not supported for actor tasks"): an actor's
// worker holds its state and is never terminated to stop one call. A ref that reached this tab
// another way (an argument, inside a value) is not marked; the coordinator then cancels the call
// without force.

import type { ObjectRef } from './object-ref.ts';
import type { ObjectRefGenerator } from './object-ref-generator.ts';

const actorCallRefs = new WeakSet<object>();

/** Marks what an actor method's `.remote()` returns (a ref, a list of refs, or a generator). */
export function markActorCall<T extends ObjectRef | ObjectRef[] | ObjectRefGenerator | undefined>(returned: T): T {
  if (Array.isArray(returned)) for (const r of returned) actorCallRefs.add(r);
  else if (returned !== undefined) actorCallRefs.add(returned);
  return returned;
}

/** Whether `ref` came from an actor method call made in this tab. */
export function isActorCall(ref: object): boolean {
  return actorCallRefs.has(ref);
}
