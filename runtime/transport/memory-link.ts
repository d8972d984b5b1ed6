// An in-memory network of links between tabs of one process: the twin of WebRTC for unit tests,
// so a head and its volunteers can run as a cluster in one Node process. Links open through the
// same signals the mesh relays (offer, then answer), and every message is encoded with the real
// codec, cut into frames and reassembled and checked by the same Inbox as a WebRTC link's.
// Frames arrive in the order sent, one microtask later; there is no bandwidth, no backpressure and
// no overtaking of bulk frames by control frames (peer-link.ts has its own tests for those).

import { createLogger, type Logger } from '../common/logger.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import { encode } from './codec.ts';
import { CONNECT_TIMEOUT_MS } from './constants.ts';
import { encodeControlBatch } from './control-batch.ts';
import { CONTROL_LANE, DATA_LANE, frames, type Lane } from './framing.ts';
import { Inbox } from './inbox.ts';
import type { Link, LinkFactory, LinkOptions } from './link.ts';

/** The signals a memory link sends: an offer from the side that opens it, the other side's answer. */
export type MemorySignal = { readonly type: 'offer' } | { readonly type: 'answer' };

const isSignal = (data: unknown, type: MemorySignal['type']): boolean =>
  typeof data === 'object' && data !== null && (data as { type?: unknown }).type === type;

/** The kind of a message as counted by the network: `t`, and the control message's own type. */
export function messageKind(msg: PeerMessage): string {
  return msg.type === 'to_node' || msg.type === 'to_coordinator' ? `${msg.type}:${msg.msg.type}` : msg.type;
}

/** Connects the links of many tabs in one process; give each tab's mesh `createLink`. */
export class MemoryNetwork {
  /** Links offered and not answered yet, by `opener→remote`. */
  private readonly offers = new Map<string, MemoryLink>();
  private readonly links = new Set<MemoryLink>();
  private readonly counts = new Map<string, number>();
  /**
   * While set, bulk messages wait unsent (their senders' `onSent` not called) until
   * `releaseBulk()`: a slow channel, for tests of what a sender keeps in flight.
   */
  holdBulk = false;
  private readonly heldBulk: (() => void)[] = [];
  /** Bulk messages waiting while `holdBulk` is set. */
  get heldBulkMessages(): number {
    return this.heldBulk.length;
  }

  /** Sends the held bulk messages and stops holding. */
  releaseBulk(): void {
    this.holdBulk = false;
    for (const send of this.heldBulk.splice(0)) send();
  }

  /** @internal */
  hold(send: () => void): void {
    this.heldBulk.push(send);
  }

  /** Frames and bytes carried so far, over all links. */
  frames = 0;
  bytes = 0;

  readonly createLink: LinkFactory = (opts) => new MemoryLink(this, opts);

  /** Messages delivered so far of one kind (`messageKind`: `pull`, `to_node:run_task`, …). */
  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Messages delivered so far, by kind. */
  counted(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** Every open link of `node` drops at once, both ends, as when its tab is closed or crashes. */
  cut(node: NodeId, reason = 'the peer connection closed'): void {
    for (const l of [...this.links]) if (l.self === node || l.remote === node) l.close(reason);
  }

  /** Open links, as `self→remote` (each pair appears once per side). */
  openLinks(): string[] {
    return [...this.links].filter((l) => l.isOpen).map((l) => `${l.self}→${l.remote}`);
  }

  /** @internal The opener's side, waiting for the answer. */
  offer(link: MemoryLink): void {
    this.offers.set(`${link.self}→${link.remote}`, link);
    this.links.add(link);
  }

  /** @internal The answering side takes the opener's offer; undefined when it is gone. */
  answer(link: MemoryLink): MemoryLink | undefined {
    const key = `${link.remote}→${link.self}`;
    const opener = this.offers.get(key);
    if (!opener) return undefined;
    this.offers.delete(key);
    this.links.add(link);
    return opener;
  }

  /** @internal */
  forget(link: MemoryLink): void {
    this.links.delete(link);
    const key = `${link.self}→${link.remote}`;
    if (this.offers.get(key) === link) this.offers.delete(key);
  }

  /** @internal */
  carried(frame: Uint8Array): void {
    this.frames++;
    this.bytes += frame.length;
  }

  /** @internal */
  delivered(msg: PeerMessage): void {
    const k = messageKind(msg);
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
}

/** One side of an in-memory link (made by `MemoryNetwork.createLink`). */
export class MemoryLink implements Link {
  readonly self: NodeId;
  readonly remote: NodeId;
  bytesSent = 0;
  bytesReceived = 0;
  private readonly opts: LinkOptions;
  private readonly log: Logger;
  private readonly inbox: Inbox;
  cutOff = false;
  private readonly connected: Promise<void>;
  private resolveConnected: () => void = () => {};
  private rejectConnected: (e: Error) => void = () => {};
  private timer: ReturnType<typeof setTimeout> | undefined;
  private peer: MemoryLink | undefined;
  private open = false;
  private closed = false;
  private batch: PeerMessage[] = [];
  private batchQueued = false;
  /** Frames sent before the link opened, sent when it does. */
  private unsent: Uint8Array[] = [];
  private msgNo = 0;

  constructor(
    private readonly network: MemoryNetwork,
    opts: LinkOptions,
  ) {
    this.opts = opts;
    this.self = opts.self;
    this.remote = opts.remote;
    this.log = createLogger('webray:link', `${opts.self}→${opts.remote} (memory)`);
    this.inbox = new Inbox(
      opts.remote,
      this.log,
      (msg) => {
        this.network.delivered(msg);
        opts.onMessage(msg);
      },
      (reason) => {
        this.cutOff = true;
        this.close(reason);
      },
    );
    this.connected = new Promise<void>((resolve, reject) => {
      this.resolveConnected = resolve;
      this.rejectConnected = reject;
    });
    this.connected.catch(() => {});
    this.timer = setTimeout(() => {
      this.rejectConnected(new Error(`could not connect to ${opts.remote} within ${CONNECT_TIMEOUT_MS} ms`));
      this.close('connect timeout');
    }, CONNECT_TIMEOUT_MS);
    if (opts.initiator) {
      network.offer(this);
      queueMicrotask(() => {
        if (!this.closed) opts.signal({ type: 'offer' } satisfies MemorySignal);
      });
    }
  }

  ready(): Promise<void> {
    return this.connected;
  }

  get isOpen(): boolean {
    return this.open && !this.closed;
  }

  signal(data: unknown): void {
    if (this.closed) return;
    if (!this.opts.initiator && isSignal(data, 'offer') && !this.peer) {
      const opener = this.network.answer(this);
      if (!opener) {
        this.log.warn(`dropping an offer from ${this.remote}: its side of the link is gone`);
        return;
      }
      this.peer = opener;
      opener.peer = this;
      this.opened();
      this.opts.signal({ type: 'answer' } satisfies MemorySignal);
    } else if (this.opts.initiator && isSignal(data, 'answer') && this.peer) {
      this.opened();
    } else {
      this.log.warn(`dropping an unexpected signal from ${this.remote}`);
    }
  }

  private opened(): void {
    if (this.open) return;
    this.open = true;
    clearTimeout(this.timer);
    this.resolveConnected();
    const unsent = this.unsent;
    this.unsent = [];
    for (const f of unsent) this.transmit(f);
  }

  send(msg: PeerMessage): void {
    if (this.closed) return;
    this.batch.push(msg);
    if (this.batchQueued) return;
    this.batchQueued = true;
    queueMicrotask(() => {
      this.batchQueued = false;
      if (this.closed || this.batch.length === 0) return;
      const batch = this.batch;
      this.batch = [];
      const refused = (msg: PeerMessage, reason: string): void => this.log.warn(`not sending ${msg.type}: ${reason}`);
      for (const bytes of encodeControlBatch(batch, refused)) this.frames(CONTROL_LANE, bytes);
    });
  }

  sendBulk(msg: PeerMessage, onSent?: () => void): void {
    const send = (): void => {
      if (!this.closed) this.frame(DATA_LANE, msg);
      onSent?.();
    };
    if (this.network.holdBulk && !this.closed) this.network.hold(send);
    else send();
  }

  private frame(lane: Lane, value: unknown): void {
    this.frames(lane, encode(value));
  }

  private frames(lane: Lane, bytes: Uint8Array): void {
    for (const f of frames(lane, this.msgNo++, bytes)) this.transmit(f);
  }

  private transmit(frame: Uint8Array): void {
    if (!this.open) {
      this.unsent.push(frame);
      return;
    }
    const peer = this.peer!;
    this.bytesSent += frame.length;
    this.network.carried(frame);
    queueMicrotask(() => peer.receive(frame));
  }

  private receive(frame: Uint8Array): void {
    if (this.closed) return;
    this.bytesReceived += frame.length;
    this.inbox.push(frame);
  }

  strike(what: string): void {
    this.inbox.strike(what);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.batch = [];
    this.unsent = [];
    this.network.forget(this);
    this.rejectConnected(new Error(`link to ${this.remote} closed before connecting`));
    const peer = this.peer;
    // The other side sees its channel close, as a WebRTC peer does.
    if (peer) queueMicrotask(() => peer.close('the peer connection closed'));
    this.opts.onClose(reason);
  }
}
