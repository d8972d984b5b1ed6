// Loads the library the server serves at /webray.js. Pages never bundle the runtime: every page
// of the origin imports this one copy at run time (docs/api.md, "Loading it").

import type * as WebrayModule from '../runtime/index.ts';

/** The public API (docs/api.md), typed from the runtime's own entry point; only the types are imported. */
export type Webray = typeof WebrayModule;
export type {
  NodeHandle,
  NodeInfo,
  ObjectRef,
  TaskInfo,
  TaskState,
  TraceEvent,
  ResourceSet,
} from '../runtime/index.ts';

export const WEBRAY_URL = '/webray.js';

let loading: Promise<Webray> | undefined;

/** The library, imported once per page. */
export function loadWebray(): Promise<Webray> {
  // A variable specifier plus @vite-ignore keeps Vite from resolving or bundling the import.
  loading ??= import(/* @vite-ignore */ WEBRAY_URL) as Promise<Webray>;
  return loading;
}
