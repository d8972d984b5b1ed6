// The test entry, built to dist/webray-testing.js (never part of dist/webray.js): everything the
// public entry exports, plus internals for the browser tests and benchmarks. Not part of the API
// (docs/api.md). The server serves it only when started with WEBRAY_TEST_ENTRY=1 (the Playwright
// config and the benchmark runner do).
//
// It imports the public entry rather than bundling its own runtime: in the page the bundle imports
// /webray.js, so a test that loads this file drives the same `ray` (one module instance) as a page
// that loads /webray.js.

import type { InitOptions } from './api/options.ts';
import { initWith, joinWith, type InitInfo, type JoinOptions } from './ray-context.ts';
import type { NodeHandle } from './session/volunteer-session.ts';

export * from './index.ts';

/** Workers isolated on the server's task origin (runtime/node/isolated-workers.ts). */
export {
  createIsolatedWorkerFactory as __createIsolatedWorkerFactory,
  fetchRunnerUrl as __fetchRunnerUrl,
} from './node/isolated-workers.ts';

/** A node's object store and its IndexedDB spill store, for the spill and restore benchmarks (bench/groups/object-store.js). */
export { ObjectStore as __ObjectStore } from './node/object-store.ts';
export { IdbSpillStore as __IdbSpillStore } from './node/idb-spill-store.ts';

/**
 * Test hooks of the object store. `spillQuotaBytes` makes the next init/join (of this entry)
 * give its spill store a quota of that many bytes, as if IndexedDB's quota ran out there (the
 * real quota is gigabytes, too much for a test to fill).
 */
export const __objectStoreTestHooks: { spillQuotaBytes: number | undefined } = { spillQuotaBytes: undefined };

/** `ray.init` with the object-store test hooks applied (shadows the public entry's `init`). */
export function init(options?: InitOptions): Promise<InitInfo> {
  return initWith(options, { spillQuotaBytes: __objectStoreTestHooks.spillQuotaBytes });
}

/** `ray.join` with the object-store test hooks applied (shadows the public entry's `join`). */
export function join(options: JoinOptions): Promise<NodeHandle> {
  return joinWith(options, { spillQuotaBytes: __objectStoreTestHooks.spillQuotaBytes });
}
