// The Web Worker's main: wires the executor and the worker Core to the node's messages.
// Bundled inline into webray.js and started by the node's worker pool.

import * as api from '../api/ray-api.ts';
import { util } from '../api/util.ts';
import * as errors from '../api/errors.ts';
import { setCore } from '../api/core.ts';
import { ObjectRef } from '../api/object-ref.ts';
import { ObjectRefGenerator } from '../api/object-ref-generator.ts';
import type { FromWorker, ToWorker, WorkerPortHandover } from '../protocol/worker-messages.ts';
import { OUTBOX_MAX_DELAY_MS } from './constants.ts';
import { Executor } from './executor.ts';
import { WorkerCore } from './worker-core.ts';

declare const self: DedicatedWorkerGlobalScope;

/**
 * Where batches to the node go: `self`, or the MessagePort a task-origin runner handed over
 * (isolated workers: the node talks to this worker port to port, see WorkerPortHandover).
 */
let toNode: Pick<MessagePort, 'postMessage'> = self;
let outbox: FromWorker[] = [];
let transfer: Transferable[] = [];
let flushQueued = false;
let lastFlushMs = 0;

function flush(): void {
  flushQueued = false;
  lastFlushMs = performance.now();
  const batch = outbox;
  const t = transfer;
  outbox = [];
  transfer = [];
  if (batch.length > 0) {
    if (t.length > 0) toNode.postMessage(batch, t);
    else toNode.postMessage(batch);
  }
}

function post(msg: FromWorker, tr?: Transferable[]): void {
  // Refs this worker got inside values are counted before anything that follows (a task's end
  // could otherwise free what they point to).
  if (msg.type !== 'refs' && core?.refs.pending) core.refs.flush();
  outbox.push(msg);
  if (tr && tr.length > 0) transfer.push(...tr);
  // Batches go at the end of the microtask, but a synchronous body never reaches it: what it
  // sends (a .remote() call, a progress report) goes out now when nothing went for a while.
  if (performance.now() - lastFlushMs >= OUTBOX_MAX_DELAY_MS) {
    flush();
    return;
  }
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flush);
  }
}

const notInTask = (name: string) => () => {
  throw new Error(`ray.${name}() cannot be called from inside a task: the worker already belongs to a running webray`);
};

/** What task code sees as `ray`. */
const rayApi = Object.freeze({
  ...api,
  util,
  ...errors,
  exceptions: errors,
  ObjectRef,
  ObjectRefGenerator,
  init: notInTask('init'),
  join: notInTask('join'),
  shutdown: notInTask('shutdown'),
  isInitialized: () => true,
});

// Also a worker global: code from an app's bundle reaches it as `globalThis.ray`, since a bundler
// renames the app's own `ray` import in the source it ships (docs/api.md, "Code shipping").
Object.defineProperty(globalThis, 'ray', { value: rayApi, writable: false, configurable: false, enumerable: false });

const executor = new Executor({ post, flush, rayApi });
let core: WorkerCore | undefined;

// Task code that calls close() ends this worker: say so first, so the node can replace it.
const originalClose = self.close.bind(self);
self.close = () => {
  flush();
  toNode.postMessage([{ type: 'exit', reason: 'called close()' } satisfies FromWorker]);
  originalClose();
};

// Errors thrown outside any task (a stray timer, an unhandled rejection) must not look like a dead worker.
self.addEventListener('error', (e) => {
  e.preventDefault();
  console.warn('webray worker: uncaught error outside a task:', e.message);
});
self.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  console.warn('webray worker: unhandled rejection outside a task:', e.reason);
});

self.onmessage = (ev: MessageEvent<readonly ToWorker[] | WorkerPortHandover>) => {
  if ('type' in ev.data) {
    const port = ev.ports[0];
    if (ev.data.type !== 'port' || port === undefined) return;
    toNode = port;
    port.onmessage = (pev: MessageEvent<readonly ToWorker[]>) => handle(pev.data);
    return;
  }
  handle(ev.data);
};

function handle(batch: readonly ToWorker[]): void {
  for (const msg of batch) {
    switch (msg.type) {
      case 'init':
        core = new WorkerCore({
          workerId: msg.workerId,
          nodeId: msg.nodeId,
          jobId: msg.jobId,
          idPrefix: msg.idPrefix,
          post,
          current: () => executor.currentTask(),
          onBlock: (taskId) => executor.block(taskId),
          onUnblock: (taskId, settle, failed) => executor.unblock(taskId, settle, failed),
        });
        setCore(core);
        break;
      case 'load':
        executor.load(msg.desc);
        break;
      case 'run':
        executor.run(msg);
        break;
      case 'create_actor':
        executor.createActor(msg);
        break;
      case 'cancel':
        executor.cancel(msg.taskId);
        break;
      case 'view':
        core?.setView(msg.view);
        break;
      case 'gen_ack':
        executor.ack(msg.taskId, msg.consumed);
        break;
      case 'reply':
        core?.onReply(msg.reqId, msg.ok, msg.ok ? msg.value : undefined, msg.ok ? undefined : msg.error);
        break;
    }
  }
}
