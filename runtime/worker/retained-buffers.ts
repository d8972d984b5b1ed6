// Which ArrayBuffers outlive a task inside its worker (its function's scope data, worker
// globals): a result may be transferred to the node, rather than copied, only when its buffers
// are not among them, or task code would find that state emptied on its next call.

/**
 * The ArrayBuffers reachable from `roots`, visiting at most `maxObjects` objects; `undefined`
 * when there was more to visit (the caller must then assume any buffer may be reachable).
 */
export function reachableBuffers(roots: Iterable<unknown>, maxObjects: number): Set<ArrayBuffer> | undefined {
  const out = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const stack: unknown[] = [...roots];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x !== 'object' || x === null || seen.has(x)) continue;
    if (seen.size >= maxObjects) return undefined;
    seen.add(x);
    if (x instanceof ArrayBuffer) out.add(x);
    else if (ArrayBuffer.isView(x)) {
      if (x.buffer instanceof ArrayBuffer) out.add(x.buffer);
    } else if (x instanceof Map) {
      for (const [k, v] of x) stack.push(k, v);
    } else if (x instanceof Set || Array.isArray(x)) {
      for (const v of x) stack.push(v);
    } else {
      for (const v of Object.values(x)) stack.push(v);
    }
  }
  return out;
}

/** The values of the globals task code added to the worker (`globalThis.cache = …`). */
export function workerGlobals(): unknown[] {
  const g = globalThis as unknown as Record<string, unknown>;
  const out: unknown[] = [];
  for (const key of Object.keys(g)) {
    const v = g[key];
    if (typeof v === 'object' && v !== null) out.push(v);
  }
  return out;
}
