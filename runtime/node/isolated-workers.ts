// Workers for code shipped to a volunteer, isolated from the volunteer page's origin: they are
// created inside a hidden iframe served by the task origin (a second port of the server that serves
// only the task runner), so task code runs as that origin — it cannot read the volunteer's
// IndexedDB, localStorage or cookies, nor act as the volunteer's origin — while its workers stay
// secure contexts with WebGPU. Ray isolates its workers as OS processes; this is the browser's unit.
//
// Only control goes through the iframe (spawn, terminate, error reports). Each worker gets its own
// MessageChannel: one port stays here, the other travels page → runner → worker, so batches go
// port to port with no relay hop. The runner is runtime/runner/task-runner.ts.

import { isFromRunner, isRunnerHello, type RunnerHello, type ToRunner } from '../protocol/runner-messages.ts';
import type { FromWorker } from '../protocol/worker-messages.ts';
import { RUNNER_START_TIMEOUT_MS } from './constants.ts';
import type { WorkerEndpoint, WorkerFactory } from './worker-endpoint.ts';

export interface IsolatedWorkers {
  /** Makes a worker inside the task runner; the endpoint behaves as a direct worker's does. */
  readonly factory: WorkerFactory;
  /** Terminates every worker and removes the runner frame; idempotent. Later workers fail at once. */
  close(): void;
}

export interface IsolatedWorkersOptions {
  /** How long the runner may take to load and say it is ready; default RUNNER_START_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

interface Slot {
  readonly port: MessagePort;
  onError?: (reason: string) => void;
  /** An error reported before `listen` installed the handler. */
  pendingError?: string;
}

/**
 * Embeds the task runner at `runnerUrl` (which must be another origin than this page's) as a hidden
 * iframe, waits until it is ready, and returns a factory for workers that live inside it.
 */
export async function createIsolatedWorkerFactory(
  runnerUrl: string,
  options: IsolatedWorkersOptions = {},
): Promise<IsolatedWorkers> {
  const url = new URL(runnerUrl, location.href);
  if (url.origin === location.origin) {
    throw new Error(
      `the task runner ${url.href} is on this page's own origin, so task code would run as this page; serve it from the server's task origin (another port or host)`,
    );
  }
  const slots = new Map<number, Slot>();
  let nextId = 1;
  let closedReason: string | undefined;
  const fail = (id: number, reason: string): void => {
    const slot = slots.get(id);
    if (!slot) return;
    if (slot.onError) slot.onError(reason);
    else slot.pendingError ??= reason;
  };
  const lose = (reason: string): void => {
    if (closedReason !== undefined) return;
    closedReason = reason;
    for (const id of [...slots.keys()]) fail(id, reason);
  };

  const frame = createRunnerFrame(url);
  let loads = 0;
  // A second load means the runner navigated or reloaded: its workers are gone with it.
  frame.addEventListener('load', () => {
    if (++loads > 1) lose('the task runner frame reloaded, which ended its workers');
  });
  let control: MessagePort;
  try {
    control = await connect(frame, url, options);
  } catch (e) {
    frame.remove();
    throw e;
  }

  control.onmessage = (ev: MessageEvent<unknown>) => {
    const msg = ev.data;
    if (!isFromRunner(msg)) return;
    switch (msg.type) {
      case 'error':
        fail(msg.id, msg.message);
        break;
      default:
        msg.type satisfies never;
    }
  };
  const send = (msg: ToRunner, transfer: Transferable[] = []): void => control.postMessage(msg, transfer);

  const factory: WorkerFactory = () => {
    if (closedReason !== undefined) return deadEndpoint(closedReason);
    const id = nextId++;
    const { port1: port, port2: workerPort } = new MessageChannel();
    const slot: Slot = { port };
    slots.set(id, slot);
    send({ type: 'spawn', id, name: 'webray-worker' }, [workerPort]);
    return {
      post(batch, transfer) {
        port.postMessage(batch, transfer);
      },
      listen(onMessages, onError) {
        port.onmessage = (ev: MessageEvent<readonly FromWorker[]>) => onMessages(ev.data);
        port.onmessageerror = () => onError('a message from the worker could not be deserialized');
        slot.onError = onError;
        if (slot.pendingError !== undefined) {
          const reason = slot.pendingError;
          queueMicrotask(() => onError(reason));
        }
      },
      terminate() {
        if (!slots.delete(id)) return;
        port.onmessage = null;
        port.close();
        if (closedReason === undefined) send({ type: 'terminate', id });
      },
    };
  };

  return {
    factory,
    close() {
      if (closedReason !== undefined && !frame.isConnected) return;
      closedReason ??= 'the isolated task runner was closed';
      for (const slot of slots.values()) {
        slot.port.onmessage = null;
        slot.port.close();
      }
      slots.clear();
      control.close();
      // Removing the frame ends its document, and with it every worker it created.
      frame.remove();
    },
  };
}

function createRunnerFrame(url: URL): HTMLIFrameElement {
  const frame = document.createElement('iframe');
  frame.title = 'webray task runner';
  frame.hidden = true;
  frame.tabIndex = -1;
  frame.setAttribute('aria-hidden', 'true');
  // Scripts and its own (task) origin, nothing else: no popups, top navigation, forms or downloads.
  frame.setAttribute('sandbox', 'allow-scripts allow-same-origin');
  // Lets its workers be crossOriginIsolated (SharedArrayBuffer) as this page's are.
  frame.allow = 'cross-origin-isolated';
  frame.src = url.href;
  return frame;
}

/** Waits for the runner's ready message from its own origin, then hands it the control port. */
function connect(frame: HTMLIFrameElement, url: URL, options: IsolatedWorkersOptions): Promise<MessagePort> {
  const timeoutMs = options.timeoutMs ?? RUNNER_START_TIMEOUT_MS;
  return new Promise<MessagePort>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const onMessage = (ev: MessageEvent<unknown>): void => {
      const target = frame.contentWindow;
      if (target === null || ev.source !== target || ev.origin !== url.origin) return;
      if (!isRunnerHello(ev.data, 'webray-runner-ready')) return;
      done();
      const { port1, port2 } = new MessageChannel();
      target.postMessage({ type: 'webray-runner-connect' } satisfies RunnerHello, url.origin, [port2]);
      resolve(port1);
    };
    const onAbort = (): void => {
      done();
      reject(options.signal?.reason ?? new DOMException('aborted', 'AbortError'));
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new Error(
          `the task runner at ${url.href} did not start within ${timeoutMs} ms: is the server's task origin up ` +
            '(TASK_PORT), and does it serve /runner.html with Cross-Origin-Embedder-Policy: require-corp and ' +
            'Cross-Origin-Resource-Policy: cross-origin? Off loopback it must be HTTPS to be a secure context.',
        ),
      );
    }, timeoutMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort);
    window.addEventListener('message', onMessage);
    (document.body ?? document.documentElement).append(frame);
  });
}

/** The endpoint of a worker that cannot exist: it reports `reason` once listened to. */
function deadEndpoint(reason: string): WorkerEndpoint {
  return {
    post() {},
    listen(_onMessages, onError) {
      setTimeout(() => onError(reason), 0);
    },
    terminate() {},
  };
}
