// The links of one tab to the other tabs of its cluster: opened on demand (the control link
// to the coordinator at join, node-to-node links when an object must be pulled), fed by the
// signaling server, and used to pull objects from whoever holds them (Ray's object manager).

import { fromWireError, toWireError } from '../api/errors.ts';
import { createLogger } from '../common/logger.ts';
import { RpcCaller } from '../common/rpc.ts';
import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { PeerMessage, PeerRequests } from '../protocol/peer-messages.ts';
import type { RtcConfig } from '../protocol/rtc-config.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { MAX_PULL_BYTES_PER_PEER, MAX_QUEUED_PULLS_PER_PEER, PULL_BUSY_RETRY_MS, PULL_TIMEOUT_MS } from './constants.ts';
import type { Link, LinkFactory } from './link.ts';
import { PeerLink } from './peer-link.ts';

export interface PeerMeshDeps {
  readonly self: NodeId;
  /** The configuration for the next peer connection (asked per link: minted TURN credentials are renewed). */
  readonly rtcConfig: () => RtcConfig;
  readonly sendSignal: (to: NodeId, data: unknown) => void;
  /** Control and heartbeat messages (pulls are answered here). */
  readonly onMessage: (from: NodeId, msg: PeerMessage) => void;
  /** Objects this tab holds, for pulls from others. */
  readonly lookup: (id: ObjectId) => SerializedObject | undefined | Promise<SerializedObject | undefined>;
  /**
   * Whether `from` may pull `id` from this tab (the coordinator told this node to expect it). A
   * refused pull gets `pull_err` and is a strike against the link. Absent: every member may.
   */
  readonly mayPull?: (from: NodeId, id: ObjectId) => boolean | Promise<boolean>;
  /** A link closed; `cutOff` when it was cut for misbehaving (no new link to or from `remote`). */
  readonly onLinkClosed: (remote: NodeId, reason: string, cutOff: boolean) => void;
  /** A link finished connecting (either side opened it). */
  readonly onLinkOpen?: (remote: NodeId) => void;
  /** Whether a tab may open a link to this one (a member of the cluster). */
  readonly isMember: (remote: NodeId) => boolean;
  /** Bytes of pull replies one peer may have in flight from this tab (default MAX_PULL_BYTES_PER_PEER). */
  readonly maxPullBytesPerPeer?: number;
  /** Makes each link; a WebRTC `PeerLink` unless told otherwise (unit tests: `MemoryNetwork`). */
  readonly createLink?: LinkFactory;
}

const webRtcLink: LinkFactory = (opts) => new PeerLink(opts);

export class PeerMesh {
  private readonly links = new Map<NodeId, Link>();
  /** Requests to each linked tab (pulls), answered over that link; closed with it. */
  private readonly callers = new Map<Link, RpcCaller<PeerRequests>>();
  private readonly inflight = new Map<ObjectId, Promise<SerializedObject>>();
  /** Pulls each peer is waiting for this tab to answer (at most MAX_QUEUED_PULLS_PER_PEER). */
  private readonly answering = new Map<NodeId, Set<ObjectId>>();
  /** Bytes of pull replies to each peer looked up and not yet handed to its channel. */
  private readonly answeringBytes = new Map<NodeId, number>();
  /** This tab's own pulls in flight to each peer, and those queued behind them (same bound). */
  private readonly sending = new Map<NodeId, { active: number; queue: (() => void)[] }>();
  /** Tabs whose link was cut for misbehaving: no new link to or from them. */
  private readonly cutOff = new Set<NodeId>();
  private readonly log;
  private closed = false;

  constructor(private readonly deps: PeerMeshDeps) {
    this.log = createLogger('webray:mesh', deps.self);
  }

  private create(remote: NodeId, initiator: boolean): Link {
    const link: Link = (this.deps.createLink ?? webRtcLink)({
      self: this.deps.self,
      remote,
      initiator,
      rtcConfig: this.deps.rtcConfig(),
      signal: (data) => this.deps.sendSignal(remote, data),
      onMessage: (msg) => this.onMessage(remote, msg),
      onClose: (reason) => {
        if (link.cutOff) this.cutOff.add(remote);
        if (this.links.get(remote) === link) this.links.delete(remote);
        this.callers.get(link)?.close(reason);
        this.callers.delete(link);
        this.answering.delete(remote);
        if (!this.closed) this.deps.onLinkClosed(remote, reason, link.cutOff);
      },
    });
    this.links.set(remote, link);
    this.callers.set(
      link,
      new RpcCaller<PeerRequests>({
        callee: remote,
        send: (req, reqId) => link.send({ type: 'pull', reqId: reqId ?? -1, id: req.id }),
        timeoutMs: PULL_TIMEOUT_MS,
        timeoutMessage: (req, ms) => `pulling object ${req.id} from ${remote} timed out after ${ms} ms`,
        closedMessage: (reason) => `the link to ${remote} closed during the pull: ${reason}`,
      }),
    );
    link.ready().then(
      () => {
        if (!this.closed && this.links.get(remote) === link) this.deps.onLinkOpen?.(remote);
      },
      () => {},
    );
    return link;
  }

  /** The link to a tab, opened (as initiator) when there is none. */
  async link(remote: NodeId): Promise<Link> {
    if (this.closed) throw new Error('this tab has left the cluster');
    if (this.cutOff.has(remote)) throw new Error(`${remote} was cut off for sending malformed messages; no new link is opened to it`);
    const link = this.links.get(remote) ?? this.create(remote, true);
    await link.ready();
    return link;
  }

  existing(remote: NodeId): Link | undefined {
    return this.links.get(remote);
  }

  /** A signal relayed by the server from another tab. */
  onSignal(from: NodeId, data: unknown): void {
    if (this.closed) return;
    if (!this.deps.isMember(from)) {
      this.log.warn(`ignoring a signal from ${from}, which is not a known member`);
      return;
    }
    if (this.cutOff.has(from)) return; // it misbehaved: no new link

    let link = this.links.get(from);
    const isOffer = typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'offer';
    if (link && isOffer && link.isOpen) {
      // The remote restarted its side: replace the link.
      link.close('replaced by a new offer');
      link = undefined;
    }
    if (!link) {
      if (!isOffer) return; // a candidate for a link that is gone
      link = this.create(from, false);
    }
    link.signal(data);
  }

  send(remote: NodeId, msg: PeerMessage): void {
    this.links.get(remote)?.send(msg);
  }

  private onMessage(from: NodeId, msg: PeerMessage): void {
    switch (msg.type) {
      case 'pull':
        void this.answerPull(from, msg.reqId, msg.id);
        return;
      case 'pull_ok':
      case 'pull_err': {
        // Only the link a pull went out on can answer it.
        const link = this.links.get(from);
        const caller = link && this.callers.get(link);
        caller?.settle(msg.reqId, msg.type === 'pull_ok' ? { ok: true, value: msg.obj } : { ok: false, error: fromWireError(msg.error) });
        return;
      }
      default:
        this.deps.onMessage(from, msg);
    }
  }

  /**
   * Answers a pull: only one the coordinator granted (`mayPull`), only one at a time per peer and
   * object, and at most MAX_QUEUED_PULLS_PER_PEER per peer waiting. Anything else gets `pull_err`;
   * an ungranted or excess pull is also a strike (an honest tab sends neither).
   */
  private async answerPull(from: NodeId, reqId: number, id: ObjectId): Promise<void> {
    const link = this.links.get(from);
    if (!link) return;
    const refuse = (message: string, strike: boolean): void => {
      link.send({ type: 'pull_err', reqId, error: { name: 'RaySystemError', message } });
      if (strike) link.strike(`a refused pull: ${message}`);
    };
    let answering = this.answering.get(from);
    if (answering?.has(id)) return refuse(`a pull of object ${id} from ${from} is already being answered`, false);
    if (answering && answering.size >= MAX_QUEUED_PULLS_PER_PEER) {
      return refuse(`${from} already has ${MAX_QUEUED_PULLS_PER_PEER} pulls waiting at ${this.deps.self} (MAX_QUEUED_PULLS_PER_PEER)`, true);
    }
    const cap = this.deps.maxPullBytesPerPeer ?? MAX_PULL_BYTES_PER_PEER;
    const inFlight = this.answeringBytes.get(from) ?? 0;
    if (inFlight > 0 && inFlight >= cap) {
      // Busy, not misbehaving: an honest puller with many large pulls gets here. Its grant stays.
      link.send({
        type: 'pull_err',
        reqId,
        error: { name: 'RaySystemError', message: `${this.deps.self} is busy: ${inFlight} bytes of pull replies to ${from} are in flight (cap ${cap}); pull object ${id} again later`, props: { busy: true } },
      });
      return;
    }
    if (!answering) this.answering.set(from, (answering = new Set()));
    answering.add(id);
    try {
      if (this.deps.mayPull && !(await this.deps.mayPull(from, id))) {
        return refuse(`${from} may not pull object ${id} from ${this.deps.self}: the coordinator did not send it here for it`, true);
      }
      const obj = await this.deps.lookup(id);
      if (obj) {
        const size = Math.max(0, obj.size);
        this.answeringBytes.set(from, (this.answeringBytes.get(from) ?? 0) + size);
        link.sendBulk({ type: 'pull_ok', reqId, obj }, () => {
          const left = (this.answeringBytes.get(from) ?? 0) - size;
          if (left > 0) this.answeringBytes.set(from, left);
          else this.answeringBytes.delete(from);
        });
      }
      else link.send({ type: 'pull_err', reqId, error: { name: 'ObjectLostError', message: `node ${this.deps.self} does not hold object ${id}` } });
    } catch (e) {
      link.send({ type: 'pull_err', reqId, error: toWireError(e) });
    } finally {
      this.answering.get(from)?.delete(id);
    }
  }

  /** Fetches an object from the first of `from` that has it. */
  pull(id: ObjectId, from: readonly NodeId[]): Promise<SerializedObject> {
    const running = this.inflight.get(id);
    if (running) return running;
    const p = this.pullFrom(id, from.filter((n) => n !== this.deps.self)).finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
    return p;
  }

  /** Pulls from the first holder that answers; when every holder said busy, asks again later. */
  private async pullFrom(id: ObjectId, from: readonly NodeId[]): Promise<SerializedObject> {
    const deadline = Date.now() + PULL_TIMEOUT_MS;
    for (let wait = PULL_BUSY_RETRY_MS; ; wait = Math.min(wait * 2, 1000)) {
      const r = await this.pullOnce(id, from);
      if (r.ok) return r.obj;
      if (!r.busy || this.closed || Date.now() + wait > deadline) throw r.error;
      await new Promise<void>((resolve) => setTimeout(resolve, wait));
    }
  }

  private async pullOnce(id: ObjectId, from: readonly NodeId[]): Promise<{ ok: true; obj: SerializedObject } | { ok: false; busy: boolean; error: Error }> {
    let last: Error = new Error(`no node holds object ${id}`);
    let busy = false;
    for (const remote of from) {
      try {
        const link = await this.link(remote);
        await this.slot(remote);
        if (!link.isOpen) {
          this.freeSlot(remote);
          throw new Error(`the link to ${remote} closed before the pull was sent`);
        }
        const caller = this.callers.get(link);
        if (!caller) {
          this.freeSlot(remote);
          throw new Error(`the link to ${remote} closed before the pull`);
        }
        return { ok: true, obj: await caller.call({ type: 'pull', id }, undefined).finally(() => this.freeSlot(remote)) };
      } catch (e) {
        last = e as Error;
        if ((e as { busy?: unknown }).busy === true) busy = true;
        this.log(`pull of ${id} from ${remote} failed: ${last.message}`);
      }
    }
    return { ok: false, busy, error: last };
  }

  /** Waits until fewer than MAX_QUEUED_PULLS_PER_PEER of this tab's pulls are in flight to `remote`. */
  private slot(remote: NodeId): Promise<void> | void {
    let s = this.sending.get(remote);
    if (!s) this.sending.set(remote, (s = { active: 0, queue: [] }));
    if (s.active < MAX_QUEUED_PULLS_PER_PEER) {
      s.active++;
      return;
    }
    return new Promise<void>((resolve) => s.queue.push(resolve));
  }

  private freeSlot(remote: NodeId): void {
    const s = this.sending.get(remote);
    if (!s) return;
    const next = s.queue.shift();
    if (next) next(); // the slot passes on
    else if (--s.active === 0) this.sending.delete(remote);
  }

  close(remote: NodeId, reason: string): void {
    this.links.get(remote)?.close(reason);
  }

  closeAll(): void {
    this.closed = true;
    for (const l of [...this.links.values()]) l.close('this tab left the cluster');
    this.links.clear();
    for (const c of this.callers.values()) c.close('this tab left the cluster');
    this.callers.clear();
  }

  /** Bytes this tab sent and received over all links. */
  traffic(): { sent: number; received: number } {
    let sent = 0;
    let received = 0;
    for (const l of this.links.values()) {
      sent += l.bytesSent;
      received += l.bytesReceived;
    }
    return { sent, received };
  }
}
