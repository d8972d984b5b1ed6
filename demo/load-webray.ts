// Loads the library the server serves at /webray.js. Pages never bundle the runtime: every page
// of the origin imports this one copy at run time (API.md, "Loading it").

/** The part of the public API (API.md) that the pages use. */
export interface WebrayModule {
  init(options?: Record<string, unknown>): Promise<unknown>;
  isInitialized(): boolean;
  shutdown(): Promise<void>;
  remote<A extends unknown[], R>(fn: (...args: A) => R): RemoteFunction<A, Awaited<R>>;
  get<T>(refs: ObjectRef<T>[], options?: { timeoutMs?: number }): Promise<T[]>;
}

export interface RemoteFunction<A extends unknown[], R> {
  remote(...args: A): ObjectRef<R>;
}

/** Opaque handle to a value in the object store. */
export interface ObjectRef<T> {
  readonly __value?: T;
}

export const WEBRAY_URL = '/webray.js';

export async function loadWebray(): Promise<WebrayModule> {
  // A variable specifier plus @vite-ignore keeps Vite from resolving or bundling the import.
  return (await import(/* @vite-ignore */ WEBRAY_URL)) as WebrayModule;
}
