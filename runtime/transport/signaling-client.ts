// A tab's connection to the signaling server (socket.io): joins a cluster, relays WebRTC signals,
// and hears who joins and leaves. Everything the server sends is checked before use.

import { io, type Socket } from 'socket.io-client';
import * as v from 'valibot';
import { createLogger } from '../common/logger.ts';
import type { NodeId } from '../protocol/ids.ts';
import {
  ClusterClosedSchema,
  JoinReplySchema,
  MemberSchema,
  NodeLeftSchema,
  ResumeReplySchema,
  SignalInSchema,
  type ClientToServer,
  type JoinReply,
  type JoinRequest,
  type MemberInfo,
  type ServerToClient,
} from '../protocol/signaling.ts';

export interface SignalingHandlers {
  onSignal(from: NodeId, data: unknown): void;
  onNodeJoined(member: MemberInfo): void;
  onNodeLeft(nodeId: NodeId, reason: string): void;
  onClusterClosed(reason: string): void;
  /**
   * The membership is lost for good: the server dropped this tab, or its connection dropped and
   * could not be resumed (RESUME_WINDOW_MS passed, or the server no longer knows the membership).
   */
  onDisconnect(reason: string): void;
  /** The connection dropped; the client is reconnecting to resume the membership (P2P links are untouched). */
  onReconnecting?(reason: string): void;
  /**
   * The membership was resumed on a new connection, under the same node id. `members`: the node
   * table now, as in the join reply (who joined or left meanwhile was told to no one).
   */
  onResumed?(members: readonly MemberInfo[]): void;
}

const JOIN_TIMEOUT_MS = 10_000;
/**
 * After its connection drops, a member reconnects (socket.io's backoff: 0.5 s doubling to 5 s,
 * with jitter) and `resume`s its membership — through the same server process, or another of a
 * deployment sharing Redis, or the same one restarted — for up to this long, then gives up.
 */
const RESUME_WINDOW_MS = 60_000;
/** Signals kept while a resume is answered (the server keeps at most MAX_HELD_SIGNALS for a member). */
const MAX_EARLY_SIGNALS = 256;
/** A resume the server could not decide (`unavailable`: its Redis is away) is asked again after this. */
const RESUME_RETRY_MS = 2_000;
/** How long closing waits for the server to acknowledge the leave before it closes the socket anyway. */
const LEAVE_ACK_TIMEOUT_MS = 1_000;

export class SignalingClient {
  private readonly socket: Socket<ServerToClient, ClientToServer>;
  private readonly log = createLogger('webray:signaling');
  private closed = false;
  /** What `resume` needs, once joined. */
  private membership: { readonly cluster: string; readonly nodeId: NodeId; readonly resumeSecret: string } | undefined;
  /** Whether this connection speaks for the membership (false between a drop and its resume). */
  private bound = false;
  private resumeDeadline = 0;
  private resumeWindowMs = RESUME_WINDOW_MS;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Signals that arrived while a resume was being answered, for after it. */
  private readonly early: [NodeId, unknown][] = [];

  private constructor(socket: Socket<ServerToClient, ClientToServer>) {
    this.socket = socket;
  }

  /** Connects to the server and joins; rejects with the server's reason when refused. */
  /** `options.resumeWindowMs`: how long a lost connection is retried to resume the membership (default RESUME_WINDOW_MS). */
  static async connect(
    address: string,
    req: JoinRequest,
    handlers: SignalingHandlers,
    options: { readonly resumeWindowMs?: number } = {},
  ): Promise<{ client: SignalingClient; reply: Extract<JoinReply, { ok: true }> }> {
    const socket: Socket<ServerToClient, ClientToServer> = io(address, {
      transports: ['websocket'],
      // Turned on once joined (a first connection that fails is an error at once).
      reconnection: false,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      timeout: JOIN_TIMEOUT_MS,
    });
    const client = new SignalingClient(socket);
    if (options.resumeWindowMs !== undefined) client.resumeWindowMs = options.resumeWindowMs;
    // Listen before joining: an event may arrive in the same read as the join's ack.
    client.listen(handlers);
    // Both listeners go once one fires: a connect_error heard later is a reconnection's, not this.
    await new Promise<void>((resolve, reject) => {
      const onConnect = (): void => {
        socket.off('connect_error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        socket.off('connect', onConnect);
        client.abandon();
        reject(new Error(`cannot reach the webray server at ${address}: ${err.message}; is \`npm start\` running there?`));
      };
      socket.once('connect', onConnect);
      socket.once('connect_error', onError);
    });
    const raw: unknown = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server at ${address} did not answer the join request`)), JOIN_TIMEOUT_MS);
      socket.emit('join', req, (reply: JoinReply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    }).catch((e: unknown) => {
      client.abandon();
      throw e;
    });
    const parsed = v.safeParse(JoinReplySchema, raw);
    if (!parsed.success) {
      client.abandon();
      throw new Error(`the server at ${address} sent a malformed join reply; is it a webray server of the same version?`);
    }
    const reply = parsed.output as JoinReply;
    if (!reply.ok) {
      client.abandon();
      throw new Error(reply.message);
    }
    client.membership = { cluster: req.cluster, nodeId: reply.nodeId, resumeSecret: reply.resumeSecret };
    client.bound = true;
    // From now on a dropped connection is reconnected, and the membership resumed on it.
    socket.io.reconnection(true);
    return { client, reply };
  }

  private listen(h: SignalingHandlers): void {
    const guard = <T>(schema: v.GenericSchema<unknown, T>, what: string, fn: (x: T) => void) => (x: unknown) => {
      const r = v.safeParse(schema, x);
      if (!r.success) {
        this.log.warn(`ignoring a malformed ${what} event from the server: ${r.issues[0].message}`);
        return;
      }
      try {
        fn(r.output);
      } catch (e) {
        this.log.warn(`error handling ${what}: ${(e as Error).message}`);
      }
    };
    this.socket.on(
      'signal',
      guard(SignalInSchema, 'signal', (m) => {
        // While a resume is answered, signals kept for this member may arrive in the same read
        // as the answer, before its handler runs: they wait until the node table that names
        // their senders is in.
        if (this.membership !== undefined && !this.bound) {
          if (this.early.length < MAX_EARLY_SIGNALS) this.early.push([m.from as NodeId, m.data]);
          return;
        }
        h.onSignal(m.from as NodeId, m.data);
      }),
    );
    this.socket.on('node_joined', guard(MemberSchema, 'node_joined', (m) => h.onNodeJoined(m as MemberInfo)));
    this.socket.on('node_left', guard(NodeLeftSchema, 'node_left', (m) => h.onNodeLeft(m.nodeId as NodeId, m.reason)));
    this.socket.on('cluster_closed', guard(ClusterClosedSchema, 'cluster_closed', (m) => h.onClusterClosed(m.reason)));
    this.socket.on('disconnect', (reason: string) => {
      if (this.closed) return;
      if (this.membership === undefined || reason === 'io server disconnect') {
        // Not joined yet, or the server itself cut this tab off: nothing to resume.
        this.end(h, `the server closed the connection (${reason})`);
        return;
      }
      // The window runs from when the membership's connection was lost, not from each later drop.
      if (this.bound) this.resumeDeadline = Date.now() + this.resumeWindowMs;
      this.bound = false;
      this.log.warn(`lost the connection to the server (${reason}); reconnecting to resume the membership`);
      h.onReconnecting?.(reason);
    });
    this.socket.on('connect', () => {
      if (!this.closed && this.membership !== undefined && !this.bound) this.resume(h);
    });
    this.socket.io.on('reconnect_attempt', () => {
      if (!this.closed && !this.bound && Date.now() > this.resumeDeadline) {
        this.end(h, `could not resume the membership within ${this.resumeWindowMs / 1000} s`);
      }
    });
  }

  /** Asks the server to bind this (new) connection to the membership. */
  private resume(h: SignalingHandlers): void {
    const m = this.membership;
    if (m === undefined) return;
    clearTimeout(this.resumeTimer);
    this.socket
      .timeout(JOIN_TIMEOUT_MS)
      .emitWithAck('resume', { cluster: m.cluster, nodeId: m.nodeId, resumeSecret: m.resumeSecret })
      .then(
        (raw: unknown) => {
          if (this.closed || !this.socket.connected) return;
          const r = v.safeParse(ResumeReplySchema, raw);
          if (!r.success) {
            this.end(h, 'the server sent a malformed resume reply; is it a webray server of the same version?');
            return;
          }
          if (r.output.ok) {
            this.bound = true;
            this.log(`resumed the membership in cluster ${m.cluster} as ${m.nodeId}`);
            h.onResumed?.(r.output.members.map((m) => m as MemberInfo));
            // Those kept while its server was gone first, then those relayed since (`early`).
            for (const s of r.output.held) h.onSignal(s.from as NodeId, s.data);
            for (const [from, data] of this.early.splice(0)) h.onSignal(from, data);
            return;
          }
          if (r.output.code === 'unavailable' && Date.now() < this.resumeDeadline) {
            this.resumeTimer = setTimeout(() => {
              if (!this.closed && this.socket.connected && !this.bound) this.resume(h);
            }, RESUME_RETRY_MS);
            return;
          }
          this.end(h, `the server could not resume this membership: ${r.output.message}`);
        },
        () => {
          // No answer: the connection dropped again (a later connect resumes), or the server is stuck.
          if (!this.closed && this.socket.connected && !this.bound) this.end(h, 'the server did not answer the resume request');
        },
      );
  }

  /** The membership is lost for good: closes the socket and tells the handlers once. */
  private end(h: SignalingHandlers, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resumeTimer);
    this.socket.close();
    h.onDisconnect(reason);
  }

  /** Drops a connection that never became a membership, without telling the handlers. */
  private abandon(): void {
    this.closed = true;
    this.socket.close();
  }

  /** Relays a WebRTC signal; dropped while the connection is down (a signal buffered meanwhile would reach no one). */
  signal(to: NodeId, data: unknown): void {
    if (!this.closed && this.bound && this.socket.connected) this.socket.emit('signal', { to, data });
  }

  /**
   * Leaves the cluster and closes the connection once the server has recorded the leave (or after
   * LEAVE_ACK_TIMEOUT_MS): closing at once could let the disconnect overtake the leave, and the
   * server would take a shutdown for a coordinator that went away and may come back.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resumeTimer);
    const socket = this.socket;
    const done = (): void => {
      clearTimeout(timer);
      socket.close();
    };
    const timer = setTimeout(done, LEAVE_ACK_TIMEOUT_MS);
    try {
      if (socket.connected) socket.emit('leave', done);
      else done();
    } catch {
      done();
    }
  }
}
