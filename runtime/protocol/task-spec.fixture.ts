// For unit tests: a TaskSpec of a trivial one-CPU task, with any field overridden.
import type { FunctionId, TaskId } from './ids.ts';
import type { TaskSpec } from './task-spec.ts';

let seq = 0;

export function makeTaskSpec(over: Partial<TaskSpec> = {}): TaskSpec {
  return {
    taskId: `t${seq++}` as TaskId,
    kind: 'normal',
    name: 'f',
    fnId: 'fn-f' as FunctionId,
    args: [],
    numReturns: 1,
    resources: { CPU: 1 },
    maxRetries: 0,
    retryExceptions: false,
    strategy: 'DEFAULT',
    enableTaskEvents: true,
    generatorBackpressure: 0,
    callerId: 'driver',
    ...over,
  };
}
