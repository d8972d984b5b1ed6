// An in-memory message channel for local mode: the coordinator and the node of one tab talk
// through it exactly as they would over a data channel, delivered in order on a microtask so
// neither side ever re-enters the other.

export interface Channel<Out> {
  send(msg: Out): void;
}

export class LocalChannel<T> implements Channel<T> {
  private queue: T[] = [];
  /** The array the last batch was delivered from, emptied for the next one to reuse. */
  private spare: T[] = [];
  private scheduled = false;
  private readonly flushNow = (): void => this.flush();
  private closed = false;

  constructor(private readonly deliver: (msg: T) => void) {}

  send(msg: T): void {
    if (this.closed) return;
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = this.spare;
    try {
      for (const m of batch) {
        if (this.closed) return;
        this.deliver(m);
      }
    } finally {
      batch.length = 0;
      this.spare = batch;
    }
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }
}
