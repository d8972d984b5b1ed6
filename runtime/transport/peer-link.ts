// One WebRTC link to another tab (simple-peer), carrying PeerMessages: small control messages
// are batched (per microtask, and while the link is busy per batch of queued tasks: see `send`)
// and framed; object transfers go on their own lane so a big object never holds control messages
// back for long; sending waits while the channel's buffer is full.

import SimplePeer from 'simple-peer/simplepeer.min.js';
import { afterQueuedTasks } from '../common/after-queued-tasks.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import { encode } from './codec.ts';
import { CONNECT_TIMEOUT_MS, HIGH_WATER_BYTES, MAX_FRAME_BYTES } from './constants.ts';
import { encodeControlBatch } from './control-batch.ts';
import { CONTROL_LANE, DATA_LANE, frames, type Lane } from './framing.ts';
import { candidateTypes, diagnoseIce, type CandidateType } from './ice-diagnosis.ts';
import { Inbox } from './inbox.ts';
import type { Link, LinkOptions } from './link.ts';

export type PeerLinkOptions = LinkOptions;

interface Outgoing {
  readonly lane: Lane;
  readonly it: Iterator<Uint8Array>;
  /** A bulk message's sender is told when its frames have left (peer-mesh.ts counts its bytes). */
  readonly onSent?: () => void;
}

/**
 * Where every link builds its next frame (`frames` with a scratch buffer): `pump` hands each frame
 * to RTCDataChannel.send, which copies it, before it asks any link for another.
 */
let frameScratch: Uint8Array | undefined;
const scratch = (): Uint8Array => (frameScratch ??= new Uint8Array(MAX_FRAME_BYTES));

export class PeerLink implements Link {
  readonly remote: NodeId;
  private readonly peer: SimplePeer.Instance;
  private readonly opts: PeerLinkOptions;
  private readonly log: Logger;
  private readonly inbox: Inbox;
  cutOff = false;
  private channel: RTCDataChannel | undefined;
  private readonly connected: Promise<void>;
  private controlBatch: PeerMessage[] = [];
  private batchQueued = false;
  /** A control frame left in this window: messages wait for its end (see `send`). */
  private holding = false;
  private readonly control: Outgoing[] = [];
  private readonly data: Outgoing[] = [];
  private msgNo = 0;
  private pumping = false;
  private closed = false;
  /** Until the link is open: what ICE did, to say why it failed (ice-diagnosis.ts). */
  private readonly ice = { state: 'new', local: new Set<CandidateType>(), remote: new Set<CandidateType>(), error: undefined as string | undefined };
  private rejectConnected: ((err: Error) => void) | undefined;
  /** Bytes sent and received, for the volunteer page's figures. */
  bytesSent = 0;
  bytesReceived = 0;

  constructor(opts: PeerLinkOptions) {
    this.opts = opts;
    this.remote = opts.remote;
    this.log = createLogger('webray:link', `${opts.self}→${opts.remote}`);
    this.inbox = new Inbox(opts.remote, this.log, opts.onMessage, (reason) => {
      this.cutOff = true;
      this.close(reason);
    });
    this.peer = new SimplePeer({
      initiator: opts.initiator,
      trickle: true,
      config: opts.rtcConfig as RTCConfiguration,
      channelConfig: { ordered: true },
    });
    this.peer.on('signal', (data: unknown) => {
      for (const t of candidateTypes(data)) this.ice.local.add(t);
      opts.signal(data);
    });
    this.peer.on('data', (chunk: Uint8Array) => this.onFrame(chunk));
    this.peer.on('close', () => this.close('the peer connection closed'));
    // simple-peer ends the link itself when ICE fails (an 'error' follows).
    this.peer.on('iceStateChange', (state: string) => {
      this.ice.state = state;
    });
    this.peer.on('error', (err: Error) => {
      this.ice.error ??= `${err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`;
      this.close(`peer connection error: ${err.message}`);
    });
    this.connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.close(`no connection within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS);
      this.rejectConnected = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      this.peer.once('connect', () => {
        clearTimeout(timer);
        this.rejectConnected = undefined;
        this.channel = (this.peer as unknown as { _channel: RTCDataChannel })._channel;
        this.channel.addEventListener('bufferedamountlow', () => this.pump());
        resolve();
        this.pump();
      });
    });
    this.connected.catch(() => {});
  }

  /** Resolves once the data channel is open. */
  ready(): Promise<void> {
    return this.connected;
  }

  get isOpen(): boolean {
    return this.channel !== undefined && !this.closed;
  }

  /** Feeds a signal from the remote tab. */
  signal(data: unknown): void {
    if (this.closed) return;
    for (const t of candidateTypes(data)) this.ice.remote.add(t);
    try {
      this.peer.signal(data as SimplePeer.SignalData);
    } catch (e) {
      this.log.warn(`dropping a bad signal from ${this.opts.remote}: ${(e as Error).message}`);
    }
  }

  /**
   * Sends a small message on the control lane, batched with the others sent in the same turn.
   * After a control frame leaves, messages wait until the tasks queued by then have run (a
   * window, `afterQueuedTasks`) and leave together: otherwise a stream of short tasks settles
   * into one data-channel send per task each way — results come from workers one port message
   * each, tasks arrive one frame each — and a send costs far more than the wait (BENCHMARKS.md,
   * remote_tasks_async). A lone message (a request after a quiet spell) still leaves at once.
   */
  send(msg: PeerMessage): void {
    if (this.closed) return;
    this.controlBatch.push(msg);
    if (this.batchQueued) return;
    this.batchQueued = true;
    if (!this.holding) queueMicrotask(() => this.flushBatch());
  }

  /** Sends a bulk message (an object) on the data lane, behind control traffic. */
  sendBulk(msg: PeerMessage, onSent?: () => void): void {
    if (this.closed) {
      onSent?.();
      return;
    }
    this.data.push({ lane: DATA_LANE, it: frames(DATA_LANE, this.msgNo++, encode(msg), scratch()), ...(onSent ? { onSent } : {}) });
    this.pump();
  }

  private flushBatch(): void {
    this.batchQueued = false;
    if (this.closed || this.controlBatch.length === 0) return;
    const batch = this.controlBatch;
    this.controlBatch = [];
    const refused = (msg: PeerMessage, reason: string): void => this.log.warn(`not sending ${msg.type} to ${this.opts.remote}: ${reason}`);
    for (const bytes of encodeControlBatch(batch, refused)) this.control.push({ lane: CONTROL_LANE, it: frames(CONTROL_LANE, this.msgNo++, bytes, scratch()) });
    this.pump();
    if (!this.holding) {
      this.holding = true;
      afterQueuedTasks(() => this.endWindow());
    }
  }

  /** The end of a window: what was sent during it leaves now, and opens the next window. */
  private endWindow(): void {
    this.holding = false;
    if (this.batchQueued) this.flushBatch();
  }

  /** Puts frames on the channel while its buffer has room: control frames first. */
  private pump(): void {
    const ch = this.channel;
    if (!ch || this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (ch.readyState === 'open' && ch.bufferedAmount < HIGH_WATER_BYTES) {
        const q = this.control.length > 0 ? this.control : this.data;
        const head = q[0];
        if (!head) break;
        const next = head.it.next();
        if (next.done) {
          q.shift()?.onSent?.();
          continue;
        }
        ch.send(next.value as Uint8Array<ArrayBuffer>);
        this.bytesSent += next.value.length;
      }
    } catch (e) {
      this.close(`send failed: ${(e as Error).message}`);
    } finally {
      this.pumping = false;
    }
  }

  private onFrame(chunk: Uint8Array): void {
    this.bytesReceived += chunk.length;
    this.inbox.push(chunk);
  }

  strike(what: string): void {
    this.inbox.strike(what);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rejectConnected) {
      const servers = this.opts.rtcConfig.iceServers ?? [];
      const urls = servers.flatMap((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls));
      const why = diagnoseIce({
        ...this.ice,
        relayOnly: this.opts.rtcConfig.iceTransportPolicy === 'relay',
        iceServers: urls.length > 0,
        turnServers: urls.some((u) => /^turns?:/.test(u)),
      });
      this.rejectConnected(new Error(`could not connect to ${this.remote} (${reason}): ${why}`));
      this.rejectConnected = undefined;
    }
    this.control.length = 0;
    const data = this.data.splice(0);
    for (const d of data) d.onSent?.();
    try {
      this.peer.destroy();
    } catch {
      // already gone
    }
    this.opts.onClose(reason);
  }
}
