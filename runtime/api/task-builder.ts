// Builds TaskSpecs from a call: arguments to TaskArgs, options to resources and retry policy.
// Shared by remote functions, actor creation and actor methods.

import type { ObjectId, TaskId } from '../protocol/ids.ts';
import { returnId } from '../protocol/ids.ts';
import type { ResourceSet, TaskArg } from '../protocol/task-spec.ts';
import { ObjectRef, registeredRef } from './object-ref.ts';
import { ObjectRefGenerator } from './object-ref-generator.ts';
import { serialize, snapshot } from './serialization.ts';

export function buildArgs(args: readonly unknown[], callName: string): TaskArg[] {
  const out: TaskArg[] = new Array(args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a instanceof ObjectRef) {
      out[i] = { kind: 'ref', id: a.id };
    } else {
      out[i] = { kind: 'value', obj: snapshot(serialize(a, `argument ${i} of ${callName}`)) };
    }
  }
  return out;
}

export function buildResources(
  numCpus: number,
  numGpus: number | undefined,
  custom: Readonly<Record<string, number>> | undefined,
): ResourceSet {
  const r: Record<string, number> = {};
  if (numCpus > 0) r.CPU = numCpus;
  if (numGpus && numGpus > 0) r.GPU = numGpus;
  if (custom) {
    for (const [k, v] of Object.entries(custom)) {
      if (k === 'CPU' || k === 'GPU') {
        throw new TypeError(`resources.${k}: use the numCpus / numGpus option instead of resources.${k}`);
      }
      if (v > 0) r[k] = v;
    }
  }
  return r;
}

/** The refs `.remote()` returns for a task: one ref, a tuple of refs, or a generator. */
export function returnsOf(taskId: TaskId, numReturns: number | 'streaming'): ObjectRef | ObjectRef[] | ObjectRefGenerator | undefined {
  if (numReturns === 'streaming') return new ObjectRefGenerator(taskId);
  if (numReturns === 0) return undefined; // Ray's num_returns=0: nothing to get
  if (numReturns === 1) return registeredRef(returnId(taskId, 0));
  const refs: ObjectRef[] = [];
  for (let i = 0; i < numReturns; i++) refs.push(registeredRef(returnId(taskId, i)));
  return refs;
}

export function returnIds(taskId: TaskId, numReturns: number | 'streaming'): ObjectId[] {
  if (numReturns === 'streaming') return [];
  const ids: ObjectId[] = [];
  for (let i = 0; i < numReturns; i++) ids.push(returnId(taskId, i));
  return ids;
}
