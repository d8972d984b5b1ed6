// Turns shipped source back into a function or class, once per function id, inside the worker
// (Ray's function manager). The body sees `ray`, its `scope` entries and its own handle by name.

import { isIdentifier } from '../api/function-descriptor.ts';
import { RemoteFunction } from '../api/remote-function.ts';
import { deserialize } from '../api/serialization.ts';
import type { FunctionDescriptor } from '../protocol/task-spec.ts';
import { reachableBuffers } from './retained-buffers.ts';

export type Loaded = (...args: unknown[]) => unknown;

export interface Compiled {
  readonly fn: Loaded;
  /** ArrayBuffers held by its scope data: they live as long as the function, so results must not transfer them away. */
  readonly scopeBuffers: ReadonlySet<ArrayBuffer>;
}

export function compile(desc: FunctionDescriptor, rayApi: object): Compiled {
  const lines: string[] = [];
  const scopeValues: unknown[] = [];
  const declared = new Set<string>(['ray']);
  for (const entry of desc.scope) {
    declared.add(entry.name);
    if (entry.kind === 'function') {
      lines.push(`const ${entry.name} = (${entry.source});`);
    } else {
      lines.push(`const ${entry.name} = __scope[${scopeValues.length}];`);
      scopeValues.push(deserialize(entry.value, false));
    }
  }
  let self: RemoteFunction | undefined;
  if (desc.kind !== 'class') {
    self = new RemoteFunction(desc, desc.options);
    if (isIdentifier(desc.name) && !declared.has(desc.name)) lines.push(`const ${desc.name} = __self;`);
  }
  lines.push(`return (${desc.source});`);
  let factory: (ray: object, scope: unknown[], self: unknown) => Loaded;
  try {
    factory = new Function('ray', '__scope', '__self', lines.join('\n')) as typeof factory;
  } catch (e) {
    throw new SyntaxError(`the source of ${desc.name} does not compile in the worker: ${(e as Error).message}`, { cause: e });
  }
  const fn = factory(rayApi, scopeValues, self);
  if (self && typeof fn === 'function') {
    // A named function expression sees itself under its own name: give it the handle's methods,
    // so `quickSort.remote(...)` inside `function quickSort` submits a task.
    const handle = self;
    Object.defineProperty(fn, 'remote', { value: (...args: unknown[]) => (handle.remote as (...a: unknown[]) => unknown)(...args) });
    Object.defineProperty(fn, 'options', { value: (o: object) => handle.options(o) });
  }
  return { fn, scopeBuffers: reachableBuffers(scopeValues, Infinity)! };
}

/** Names the missing free variable when task code reads something it was not given. */
export function explainReferenceError(err: unknown, fnName: string): unknown {
  if (!(err instanceof ReferenceError)) return err;
  const m = /^([\w$]+) is not defined$/.exec(err.message);
  if (!m) return err;
  const name = m[1]!;
  err.message =
    `${name} is not defined — ${fnName} runs in a Web Worker and sees only its arguments, \`ray\`, ` +
    `worker globals and what its \`scope\` option names; pass it with ray.remote({ scope: { ${name} } }, ${fnName})`;
  return err;
}
