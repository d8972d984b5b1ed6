// Ships code by value, as Ray pickles a function or class: its source text plus the `scope` it
// names. Functions in scope ship as source, data as values, handles by reference.

import type { FunctionId } from '../protocol/ids.ts';
import type { FunctionDescriptor, FunctionKind, ScopeEntry } from '../protocol/task-spec.ts';
import { currentCore } from './core.ts';
import { HANDLE_MARKER, serialize, snapshot } from './serialization.ts';

const IDENT = /^[A-Za-z_$][\w$]*$/;
/** Names shipped code cannot bind: JavaScript's reserved words, and what the worker itself declares. */
const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof let new null return static super switch this throw true try typeof var void ' +
    'while with yield await implements interface package private protected public arguments eval ' +
    'ray __scope __self'
  ).split(' '),
);

/** Source text that evaluates to the function or class as an expression. */
export function sourceOf(fn: (...args: never[]) => unknown, what: string): string {
  const src = Function.prototype.toString.call(fn).trim();
  if (/\{\s*\[native code\]\s*\}$/.test(src)) {
    throw new TypeError(
      `${what} is a native or bound function and has no source to ship; wrap it: ray.remote((...args) => f(...args))`,
    );
  }
  if (/^(async\s+)?function\b/.test(src) || /^class\b/.test(src)) return src;
  // Method shorthand: `name(…) {…}`, `async name(…)`, `*name(…)`, `async *name(…)`.
  const m = /^(async\s+)?(\*\s*)?([A-Za-z_$][\w$]*)\s*\(/.exec(src);
  if (m && !(m[3] === 'async' && !m[1] && !m[2])) {
    return `${m[1] ? 'async ' : ''}function${m[2] ? '*' : ''} ${m[3]}(${src.slice(m[0].length)}`;
  }
  // Arrow functions: `x => …`, `(x) => …`, `async (x) => …`.
  if (src.includes('=>')) return src;
  throw new TypeError(`${what}: cannot ship this function's source (${src.slice(0, 40)}…); define it with \`function\` or as an arrow function`);
}

export function kindOf(fn: unknown): FunctionKind {
  const ctorName = (fn as { constructor?: { name?: string } }).constructor?.name;
  if (ctorName === 'AsyncGeneratorFunction') return 'async-generator';
  if (ctorName === 'GeneratorFunction') return 'generator';
  if (/^class\b/.test(Function.prototype.toString.call(fn))) return 'class';
  return 'function';
}

function scopeEntries(scope: Readonly<Record<string, unknown>> | undefined, owner: string): ScopeEntry[] {
  if (!scope) return [];
  const out: ScopeEntry[] = [];
  for (const [name, value] of Object.entries(scope)) {
    if (!IDENT.test(name)) throw new TypeError(`scope name "${name}" of ${owner} is not a valid identifier`);
    if (RESERVED.has(name)) {
      throw new TypeError(
        name === 'ray'
          ? `scope name "ray" of ${owner} is taken: shipped code always sees webray as \`ray\``
          : `scope name "${name}" of ${owner} is reserved; pick another name`,
      );
    }
    if (typeof value === 'function' && !(HANDLE_MARKER in value)) {
      out.push({ name, kind: 'function', source: sourceOf(value as () => unknown, `scope.${name} of ${owner}`) });
    } else {
      // A snapshot: later changes to the caller's value do not reach the shipped code.
      out.push({ name, kind: 'value', value: snapshot(serialize(value, `scope.${name} of ${owner}`)) });
    }
  }
  return out;
}

export function makeDescriptor(
  fnId: FunctionId,
  fn: (...args: never[]) => unknown,
  name: string,
  scope: Readonly<Record<string, unknown>> | undefined,
  options: Readonly<Record<string, unknown>>,
): FunctionDescriptor {
  const desc: FunctionDescriptor = {
    fnId,
    kind: kindOf(fn),
    name,
    source: sourceOf(fn, name),
    scope: scopeEntries(scope, name),
    options,
  };
  // Refs (and actor handles) in its scope live as long as the function does, from now: registered
  // at once, not at its first call, so that the caller dropping its own refs meanwhile frees nothing.
  if (desc.scope.some((e) => e.kind === 'value' && (e.value.refs?.length ?? 0) > 0)) currentCore()?.registerFunction(desc);
  return desc;
}

/** Whether shipped code may bind `name` (a valid identifier that is not reserved). */
export function isIdentifier(name: string): boolean {
  return IDENT.test(name) && !RESERVED.has(name);
}
