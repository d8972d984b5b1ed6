// The platform boundary to a Web Worker, so the node can be tested with an in-memory twin.

import type { FromWorker, ToWorker } from '../protocol/worker-messages.ts';

export interface WorkerEndpoint {
  post(batch: readonly ToWorker[], transfer: Transferable[]): void;
  /**
   * Installs the handlers; `onError` fires when the worker dies or fails to load. A batch is
   * typed as what the worker is meant to post; it is whatever it did post, which the pool checks
   * (worker-inbox.ts) before anything acts on it.
   */
  listen(onMessages: (batch: readonly FromWorker[]) => void, onError: (reason: string) => void): void;
  terminate(): void;
}

export type WorkerFactory = () => WorkerEndpoint;

/** Adapts a real `Worker` (module worker from the library's inline bundle). */
export function browserWorkerEndpoint(worker: Worker): WorkerEndpoint {
  return {
    post(batch, transfer) {
      // Without a transfer list when there is nothing to move: the browser skips converting one.
      if (transfer.length > 0) worker.postMessage(batch, transfer);
      else worker.postMessage(batch);
    },
    listen(onMessages, onError) {
      worker.onmessage = (ev: MessageEvent<readonly FromWorker[]>) => onMessages(ev.data);
      worker.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        onError(ev.message || 'the worker failed to load or threw outside any task');
      };
      worker.onmessageerror = () => onError('a message from the worker could not be deserialized');
    },
    terminate() {
      worker.terminate();
    },
  };
}
