// webray's public entry, built to dist/webray.js: the export list only (docs/api.md). The tab's
// init/join state and plumbing are in ray-context.ts; test-only hooks are in testing.ts, a separate
// entry (dist/webray-testing.js) that is not part of this bundle.

import * as exceptions from './api/errors.ts';

export * from './api/ray-api.ts';
export * from './api/errors.ts';
export { exceptions };
export { ObjectRef } from './api/object-ref.ts';
export { util, type PoolCall, type PoolGetOptions } from './api/util.ts';
export type { ActorPool } from './api/actor-pool.ts';
export type { Queue } from './api/queue.ts';
export { ObjectRefGenerator } from './api/object-ref-generator.ts';
export { RemoteFunction } from './api/remote-function.ts';
export { ActorClass, type ActorHandle, type ActorMethod } from './api/actor.ts';
export type { RuntimeContext } from './api/core.ts';
export type { InitOptions, TaskOptions, ActorOptions, MethodOptions } from './api/options.ts';
export type { RtcConfig, IceServer } from './protocol/rtc-config.ts';
export type { NodeInfo, TaskInfo, TaskState, TraceEvent, ResourceSet, ActorListing, ObjectListing, TaskSummary } from './protocol/task-spec.ts';
export type { NodeHandle } from './session/volunteer-session.ts';
export { init, join, shutdown, isInitialized, type InitInfo, type JoinOptions } from './ray-context.ts';
