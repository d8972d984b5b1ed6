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
  /** The connection to the server dropped. */
  onDisconnect(reason: string): void;
}

const JOIN_TIMEOUT_MS = 10_000;
/** How long closing waits for the server to acknowledge the leave before it closes the socket anyway. */
const LEAVE_ACK_TIMEOUT_MS = 1_000;

export class SignalingClient {
  private readonly socket: Socket<ServerToClient, ClientToServer>;
  private readonly log = createLogger('webray:signaling');
  private closed = false;

  private constructor(socket: Socket<ServerToClient, ClientToServer>) {
    this.socket = socket;
  }

  /** Connects to the server and joins; rejects with the server's reason when refused. */
  static async connect(address: string, req: JoinRequest, handlers: SignalingHandlers): Promise<{ client: SignalingClient; reply: Extract<JoinReply, { ok: true }> }> {
    const socket: Socket<ServerToClient, ClientToServer> = io(address, {
      transports: ['websocket'],
      reconnection: false,
      timeout: JOIN_TIMEOUT_MS,
    });
    const client = new SignalingClient(socket);
    // Listen before joining: an event may arrive in the same read as the join's ack.
    client.listen(handlers);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err: Error) => {
        client.abandon();
        reject(new Error(`cannot reach the webray server at ${address}: ${err.message}; is \`npm start\` running there?`));
      });
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
    this.socket.on('signal', guard(SignalInSchema, 'signal', (m) => h.onSignal(m.from as NodeId, m.data)));
    this.socket.on('node_joined', guard(MemberSchema, 'node_joined', (m) => h.onNodeJoined(m as MemberInfo)));
    this.socket.on('node_left', guard(NodeLeftSchema, 'node_left', (m) => h.onNodeLeft(m.nodeId as NodeId, m.reason)));
    this.socket.on('cluster_closed', guard(ClusterClosedSchema, 'cluster_closed', (m) => h.onClusterClosed(m.reason)));
    this.socket.on('disconnect', (reason: string) => {
      if (!this.closed) h.onDisconnect(reason);
    });
  }

  /** Drops a connection that never became a membership, without telling the handlers. */
  private abandon(): void {
    this.closed = true;
    this.socket.close();
  }

  signal(to: NodeId, data: unknown): void {
    if (!this.closed) this.socket.emit('signal', { to, data });
  }

  /**
   * Leaves the cluster and closes the connection once the server has recorded the leave (or after
   * LEAVE_ACK_TIMEOUT_MS): closing at once could let the disconnect overtake the leave, and the
   * server would take a shutdown for a coordinator that went away and may come back.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
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
