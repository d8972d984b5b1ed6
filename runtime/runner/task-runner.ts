// The task runner: the script of /runner.html, the one page the task origin serves. A volunteer
// page embeds it as a hidden iframe and asks it for Web Workers, which therefore run task code as
// the task origin, not as the volunteer's (runtime/node/isolated-workers.ts is the page's side).
// It only creates and terminates workers; their batches go straight between page and worker.

import TaskWorker from '../worker/entry.ts?worker&inline';
import { isRunnerHello, isToRunner, type FromRunner, type RunnerHello } from '../protocol/runner-messages.ts';
import type { WorkerPortHandover } from '../protocol/worker-messages.ts';

const workers = new Map<number, Worker>();

function serve(control: MessagePort): void {
  const report = (msg: FromRunner): void => control.postMessage(msg);
  control.onmessage = (ev: MessageEvent<unknown>) => {
    const msg = ev.data;
    if (!isToRunner(msg)) return;
    switch (msg.type) {
      case 'spawn': {
        const port = ev.ports[0];
        if (port === undefined || workers.has(msg.id)) {
          report({ type: 'error', id: msg.id, message: 'the runner got a malformed spawn request' });
          return;
        }
        let worker: Worker;
        try {
          worker = new TaskWorker({ name: msg.name });
        } catch (e) {
          port.close();
          report({ type: 'error', id: msg.id, message: `the worker could not be created: ${(e as Error).message}` });
          return;
        }
        // Fires when the worker fails to load, or throws outside any task past its own handler.
        worker.onerror = (e: Event) => {
          e.preventDefault();
          const message = e instanceof ErrorEvent && e.message ? e.message : 'the worker failed to load or threw outside any task';
          report({ type: 'error', id: msg.id, message });
        };
        worker.postMessage({ type: 'port' } satisfies WorkerPortHandover, [port]);
        workers.set(msg.id, worker);
        break;
      }
      case 'terminate':
        workers.get(msg.id)?.terminate();
        workers.delete(msg.id);
        break;
      default:
        msg satisfies never;
    }
  };
}

if (window.parent !== window) {
  let connected = false;
  window.addEventListener('message', (ev: MessageEvent<unknown>) => {
    const port = ev.ports[0];
    if (connected || ev.source !== window.parent || port === undefined) return;
    if (!isRunnerHello(ev.data, 'webray-runner-connect')) return;
    connected = true;
    serve(port);
  });
  // Nothing secret in it, and the embedder's origin is not known here: any parent may hear it.
  window.parent.postMessage({ type: 'webray-runner-ready' } satisfies RunnerHello, '*');
}
