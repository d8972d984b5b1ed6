// For unit tests: a TaskSpec of a trivial one-CPU task, with any field overridden. The kind picks
// the spec's shape: a normal task by default, an actor creation (give `actorId` and `actor`) or an
// actor method call (give `actorId` and `method`; it has no `fnId`, one given is dropped).
import { DRIVER_HOLDER, type FunctionId, type TaskId } from './ids.ts';
import type { ActorCreationTaskSpec, ActorTaskSpec, NormalTaskSpec, TaskSpec } from './task-spec.ts';

export type TaskSpecOverrides =
  | Partial<NormalTaskSpec>
  | (Partial<ActorCreationTaskSpec> & Pick<ActorCreationTaskSpec, 'kind' | 'actorId' | 'actor'>)
  | (Partial<ActorTaskSpec> & Pick<ActorTaskSpec, 'kind' | 'actorId' | 'method'> & { readonly fnId?: FunctionId });

/** The spec type an override builds. */
export type SpecOf<O> = O extends { readonly kind: 'actor-creation' } ? ActorCreationTaskSpec : O extends { readonly kind: 'actor-method' } ? ActorTaskSpec : NormalTaskSpec;

/** The function id of a fixture task unless overridden. */
export const FIXTURE_FN = 'fn-f' as FunctionId;

let seq = 0;

export function makeTaskSpec<O extends TaskSpecOverrides = Partial<NormalTaskSpec>>(over?: O): SpecOf<O>;
export function makeTaskSpec(over: TaskSpecOverrides = {}): TaskSpec {
  const base = {
    taskId: `t${seq++}` as TaskId,
    name: 'f',
    args: [],
    numReturns: 1,
    resources: { CPU: 1 },
    maxRetries: 0,
    retryExceptions: false,
    strategy: 'DEFAULT',
    enableTaskEvents: true,
    generatorBackpressure: 0,
    callerId: DRIVER_HOLDER,
  } as const;
  if (over.kind === 'actor-method') {
    const { fnId: _fnId, ...rest } = over;
    return { ...base, ...rest };
  }
  if (over.kind === 'actor-creation') return { ...base, fnId: FIXTURE_FN, ...over };
  return { ...base, fnId: FIXTURE_FN, ...over, kind: 'normal' };
}
