// One typed request/reply (Ray: the gRPC client stubs between core worker, raylet and GCS), used
// by every channel that asks and waits: worker → node (worker/worker-core.ts), node → coordinator
// (node/request-forwarder.ts) and tab → tab object pulls (transport/peer-mesh.ts).
//
// A channel is described by a map from each operation to its request and its reply type
// (protocol/client-requests.ts, protocol/peer-messages.ts). The caller numbers its requests,
// keeps each pending one by id, and resolves it with the reply type of that request; a
// notification carries no id and is never answered. Calls can time out, and closing the caller
// (the link closed, the node stopped) rejects every call still waiting. The wire format stays the
// channel's own: the caller hands each request to `send` and is told of each reply by `settle`.

/** One operation of a channel: its request's type and its reply's. */
export interface RpcOperation {
  readonly req: object;
  readonly reply: unknown;
}

/** The operations of one channel, by name (an interface `M` satisfies it as `RpcMap<M>`). */
export type RpcMap<M> = { readonly [K in keyof M]: RpcOperation };

/** Any request of a channel. */
export type RpcRequest<M extends RpcMap<M>> = M[keyof M]['req'];

/** The reply to request `R` (the union of the replies when `R` is a union of requests). */
export type RpcReply<M extends RpcMap<M>, R> = { [K in keyof M]: R extends M[K]['req'] ? M[K]['reply'] : never }[keyof M];

/** What answers a channel's requests: one handler per operation, returning that operation's reply. */
export type RpcHandlers<M extends RpcMap<M>> = { readonly [K in keyof M]: (req: M[K]['req']) => M[K]['reply'] | Promise<M[K]['reply']> };

/** How a call ended, as the channel's reply message says. */
export type RpcOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Error };

export interface RpcCallerOptions<M extends RpcMap<M>, N, C> {
  /** Sends a request with its id, or a notification (`reqId` undefined: nobody answers it). */
  readonly send: (msg: RpcRequest<M> | N, reqId: number | undefined, context: C) => void;
  /** Who answers, for error messages ("the coordinator", "node n2"). */
  readonly callee: string;
  /** A call not answered within this many ms is rejected (default: it waits while the caller is open). */
  readonly timeoutMs?: number;
  /** The message of a call's timeout (default: names the operation, the callee and the time). */
  readonly timeoutMessage?: (req: RpcRequest<M>, timeoutMs: number) => string;
  /** The message a call waiting when the caller closes fails with (default: names the callee and the reason). */
  readonly closedMessage?: (reason: string) => string;
}

/** How one call is made. */
export interface CallOptions {
  /** Rejects the call when no reply comes within this many ms (default: the caller's `timeoutMs`). */
  readonly timeoutMs?: number;
  /** Runs when the call ends (reply, failure, timeout or close), before its promise settles. */
  readonly onSettled?: () => void;
}

interface PendingCall {
  readonly onSettled: (() => void) | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The calling end of a channel with operations `M` and notifications `N`; `C` is what each call
 * carries beside its request (for example the task making it), passed through to `send`.
 */
export class RpcCaller<M extends RpcMap<M>, N = never, C = void> {
  private readonly pending = new Map<number, PendingCall>();
  private readonly opts: RpcCallerOptions<M, N, C>;
  private nextReqId = 1;
  private closedBecause: string | undefined;

  constructor(opts: RpcCallerOptions<M, N, C>) {
    this.opts = opts;
  }

  /** Sends a request and resolves with its reply, typed by the channel's map. */
  call<R extends RpcRequest<M>>(req: R, context: C, options: CallOptions = {}): Promise<RpcReply<M, R>> {
    if (this.closedBecause !== undefined) {
      options.onSettled?.();
      return Promise.reject(new Error(`no call can be made to ${this.opts.callee}: ${this.closedBecause}`));
    }
    const reqId = this.nextReqId++;
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    return new Promise<RpcReply<M, R>>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (!this.forget(reqId)) return;
              reject(new Error(this.opts.timeoutMessage?.(req, timeoutMs) ?? `${describe(req)} to ${this.opts.callee} had no reply within ${timeoutMs} ms`));
            }, timeoutMs);
      // The one place a reply is taken as its type: the map types both ends of the channel, and
      // the answering end builds each reply with the handler of the same operation (RpcHandlers).
      this.pending.set(reqId, { onSettled: options.onSettled, resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        this.opts.send(req, reqId, context);
      } catch (e) {
        this.forget(reqId);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Sends a notification: no id, no reply, nothing kept. */
  notify(msg: N, context: C): void {
    if (this.closedBecause !== undefined) return;
    this.opts.send(msg, undefined, context);
  }

  /** A reply arrived. False when no call waits for that id (answered already, timed out, or never made). */
  settle(reqId: number, outcome: RpcOutcome): boolean {
    const p = this.forget(reqId);
    if (!p) return false;
    if (outcome.ok) p.resolve(outcome.value);
    else p.reject(outcome.error);
    return true;
  }

  /** Rejects every call still waiting, and every later one, saying why. */
  close(reason: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.onSettled?.();
      p.reject(new Error(this.opts.closedMessage?.(reason) ?? `${this.opts.callee} did not answer: ${reason}`));
    }
  }

  /** Calls waiting for their reply. */
  get waiting(): number {
    return this.pending.size;
  }

  private forget(reqId: number): PendingCall | undefined {
    const p = this.pending.get(reqId);
    if (!p) return undefined;
    this.pending.delete(reqId);
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.onSettled?.();
    return p;
  }
}

/**
 * Answers request `req` of operation `op` with its handler. The reply is `M[op]['reply']`; a
 * handler that throws (or rejects) fails the call.
 */
export function answer<M extends RpcMap<M>, K extends keyof M>(handlers: RpcHandlers<M>, op: K, req: M[K]['req']): Promise<M[K]['reply']> {
  try {
    return Promise.resolve(handlers[op](req));
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** How a handler answered one request: its reply, or what it threw or rejected with. */
export type RpcAnswer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Answers request `req` of operation `op` with its handler and hands the outcome to `respond`: in
 * the same turn when the handler returns its reply (or throws), once it settles when it returns a
 * promise. For an answering end whose replies must not wait a microtask (the coordinator answers a
 * node's message while handling it), where `answer` always settles later.
 */
export function answerNow<M extends RpcMap<M>, K extends keyof M>(
  handlers: RpcHandlers<M>,
  op: K,
  req: M[K]['req'],
  respond: (outcome: RpcAnswer<M[K]['reply']>) => void,
): void {
  let reply: M[K]['reply'] | Promise<M[K]['reply']>;
  try {
    reply = handlers[op](req);
  } catch (error) {
    respond({ ok: false, error });
    return;
  }
  if (reply instanceof Promise) {
    reply.then(
      (value) => respond({ ok: true, value }),
      (error: unknown) => respond({ ok: false, error }),
    );
  } else {
    respond({ ok: true, value: reply });
  }
}

function describe(req: object): string {
  const tag = (req as { type?: unknown }).type;
  return typeof tag === 'string' ? `a "${tag}" request` : 'a request';
}
