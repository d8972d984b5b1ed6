// An in-memory message channel for local mode: the coordinator and the node of one tab talk
// through it exactly as they would over a data channel, delivered in order on a microtask so
// neither side ever re-enters the other.

export interface Channel<Out> {
  send(msg: Out): void;
}

export class LocalChannel<T> implements Channel<T> {
  private queue: T[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly deliver: (msg: T) => void) {}

  send(msg: T): void {
    if (this.closed) return;
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      if (this.closed) return;
      this.deliver(m);
    }
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }
}
