// Messages between a volunteer page and its task runner: the hidden iframe, served from the
// distinct task origin, in which the page's Web Workers live (runtime/node/isolated-workers.ts).
// Only control travels here; each worker's batches go over its own MessagePort, page to worker.

/** Window messages (`postMessage` between the frames), before the control channel exists. */
export type RunnerHello =
  /** Runner → parent, once, when it can create workers. */
  | { readonly type: 'webray-runner-ready' }
  /** Parent → runner, once, with the control MessagePort in `event.ports[0]`. */
  | { readonly type: 'webray-runner-connect' };

/** Page → runner, over the control port. */
export type ToRunner =
  /** Start a worker and hand it the MessagePort in `event.ports[0]` (a WorkerPortHandover). */
  | { readonly type: 'spawn'; readonly id: number; readonly name: string }
  | { readonly type: 'terminate'; readonly id: number };

/** Runner → page, over the control port. */
export type FromRunner =
  /** Worker `id` failed to start or died with an error nobody handled (its `error` event). */
  { readonly type: 'error'; readonly id: number; readonly message: string };

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

export function isRunnerHello(x: unknown, type: RunnerHello['type']): boolean {
  return isRecord(x) && x['type'] === type;
}

export function isToRunner(x: unknown): x is ToRunner {
  if (!isRecord(x) || typeof x['id'] !== 'number') return false;
  return (x['type'] === 'spawn' && typeof x['name'] === 'string') || x['type'] === 'terminate';
}

export function isFromRunner(x: unknown): x is FromRunner {
  return isRecord(x) && x['type'] === 'error' && typeof x['id'] === 'number' && typeof x['message'] === 'string';
}
