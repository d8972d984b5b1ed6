// For unit tests: a WorkerFactory whose "Web Workers" run in this process — the real Executor
// and WorkerCore, wired as worker/entry.ts wires them, behind a WorkerEndpoint. Batches are
// structured-cloned each way (transfer lists honoured) and delivered a microtask later, as
// postMessage would. Task code compiles and runs for real (code-loader), so tests submit real
// functions and actor classes.
//
// Task code's own `ray.get`/`.remote()` reach its worker's Core, as in a browser worker: each
// message a worker handles runs inside an AsyncLocalStorage context holding that Core, which the
// continuations of its task bodies inherit, and api/core.ts asks that context first.
// Limits: all workers share this process's globals. A terminated worker cannot stop a running
// body: it only stops talking (its later messages are dropped).

import { AsyncLocalStorage } from 'node:async_hooks';
import * as api from '../api/ray-api.ts';
import { setCoreResolver, type Core } from '../api/core.ts';
import * as errors from '../api/errors.ts';
import { ObjectRef } from '../api/object-ref.ts';
import { ObjectRefGenerator } from '../api/object-ref-generator.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { FromWorker, ToWorker } from '../protocol/worker-messages.ts';
import type { WorkerEndpoint, WorkerFactory } from '../node/worker-endpoint.ts';
import { Executor } from '../worker/executor.ts';
import { WorkerCore } from '../worker/worker-core.ts';

const rayApi = Object.freeze({ ...api, ...errors, exceptions: errors, ObjectRef, ObjectRefGenerator });

/** The Core of the in-process worker whose code runs now (undefined outside task code: the driver's). */
const workerContext = new AsyncLocalStorage<Core>();
setCoreResolver(() => workerContext.getStore());

export class InProcessWorker implements WorkerEndpoint {
  /** The node this worker was initialized for (from its `init`). */
  nodeId: NodeId | undefined;
  terminated = false;
  /** Every message the node sent it, in order. */
  readonly received: ToWorker[] = [];
  private readonly executor: Executor;
  private core: WorkerCore | undefined;
  private onMessages: ((batch: readonly FromWorker[]) => void) | undefined;
  private onError: ((reason: string) => void) | undefined;
  private outbox: FromWorker[] = [];
  private transfer: Transferable[] = [];
  private flushQueued = false;

  constructor() {
    this.executor = new Executor({ post: (m, tr) => this.out(m, tr), flush: () => this.flush(), rayApi });
  }

  post(batch: readonly ToWorker[], transfer: Transferable[]): void {
    if (this.terminated) return;
    const copy = structuredClone(batch, { transfer });
    queueMicrotask(() => this.handle(copy));
  }

  listen(onMessages: (batch: readonly FromWorker[]) => void, onError: (reason: string) => void): void {
    this.onMessages = onMessages;
    this.onError = onError;
  }

  terminate(): void {
    this.terminated = true;
  }

  /** The worker dies (an uncaught error, a failed load), as its `error` event would say. */
  crash(reason: string): void {
    this.terminated = true;
    this.onError?.(reason);
  }

  private out(msg: FromWorker, tr?: Transferable[]): void {
    if (this.terminated) return;
    if (msg.type !== 'refs' && this.core?.refs.pending) this.core.refs.flush();
    this.outbox.push(msg);
    if (tr && tr.length > 0) this.transfer.push(...tr);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const batch = this.outbox;
    const transfer = this.transfer;
    this.outbox = [];
    this.transfer = [];
    if (batch.length === 0 || this.terminated) return;
    const copy = structuredClone(batch, { transfer });
    queueMicrotask(() => {
      if (!this.terminated) this.onMessages?.(copy);
    });
  }

  private handle(batch: readonly ToWorker[]): void {
    for (const msg of batch) {
      if (this.terminated) return;
      this.received.push(msg);
      // After `init`, in this worker's context: task code started here keeps it across awaits.
      if (this.core) workerContext.run(this.core, () => this.handleOne(msg));
      else this.handleOne(msg);
    }
  }

  private handleOne(msg: ToWorker): void {
    switch (msg.type) {
      case 'init':
        this.nodeId = msg.nodeId;
        this.core = new WorkerCore({
          workerId: msg.workerId,
          nodeId: msg.nodeId,
          jobId: msg.jobId,
          idPrefix: msg.idPrefix,
          post: (m) => this.out(m),
          current: () => this.executor.currentTask(),
          onBlock: (taskId) => this.executor.block(taskId),
          onUnblock: (taskId, settle, failed) => this.executor.unblock(taskId, settle, failed),
        });
        break;
      case 'load':
        this.executor.load(msg.desc);
        break;
      case 'run':
        this.executor.run(msg);
        break;
      case 'create_actor':
        this.executor.createActor(msg);
        break;
      case 'cancel':
        this.executor.cancel(msg.taskId);
        break;
      case 'view':
        this.core?.setView(msg.view);
        break;
      case 'gen_ack':
        this.executor.ack(msg.taskId, msg.consumed);
        break;
      case 'reply':
        this.core?.onReply(msg.reqId, msg.ok, msg.ok ? msg.value : undefined, msg.ok ? undefined : msg.error);
        break;
    }
  }
}

/** A WorkerFactory of in-process workers, and every worker it made. */
export function inProcessWorkers(): { readonly create: WorkerFactory; readonly workers: InProcessWorker[] } {
  const workers: InProcessWorker[] = [];
  return {
    workers,
    create: () => {
      const w = new InProcessWorker();
      workers.push(w);
      return w;
    },
  };
}
