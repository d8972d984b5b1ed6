// The signaling server's table of clusters: each one's token, coordinator and members (Ray's GCS
// node table, one per cluster). No I/O: sockets are opaque connection ids, so it tests with plain values.

import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../runtime/protocol/ids.ts';
import { tokenProblem, type JoinReply, type JoinRefusal, type JoinRequest, type MemberInfo } from '../runtime/protocol/signaling.ts';
import { COORDINATOR_HOLD_MS, COORDINATOR_SECRET_BYTES, NODE_ID_RANDOM_CHARS } from './constants.ts';

/** A socket as the registry knows it (the socket.io socket id). */
export type ConnectionId = string;

/** A member and the socket it speaks through. */
export interface MemberEntry {
  readonly info: MemberInfo;
  readonly connection: ConnectionId;
}

export type JoinOutcome =
  | {
      readonly ok: true;
      readonly cluster: string;
      readonly member: MemberInfo;
      /** The cluster's coordinator (the member itself when it joined as coordinator). */
      readonly coordinator: MemberEntry;
      readonly reply: Extract<JoinReply, { ok: true }>;
    }
  | {
      readonly ok: false;
      readonly code: Exclude<JoinRefusal, 'bad_request' | 'too_many_attempts'>;
      readonly message: string;
      /** A failed guess (wrong token, wrong coordinator secret): counts against the sender. */
      readonly strike: boolean;
    };

/** What a member's departure did to its cluster. */
export type Departure =
  | { readonly kind: 'node_left'; readonly cluster: string; readonly member: MemberInfo }
  | {
      readonly kind: 'cluster_closed';
      readonly cluster: string;
      /** The coordinator that left. */
      readonly member: MemberInfo;
      /** The nodes that were members and no longer are. */
      readonly volunteers: readonly MemberEntry[];
    };

export interface ClusterRegistryDeps {
  /** Mints node ids; default `n-` + random base36 from node:crypto. Tests pass a counter. */
  newNodeId?: () => string;
  /** Mints coordinator secrets; default COORDINATOR_SECRET_BYTES random bytes as base64url. */
  newSecret?: () => string;
  /** Milliseconds, for how long a name is held; default performance.now. */
  now?: () => number;
  /** How long a name is held after its coordinator left; default COORDINATOR_HOLD_MS. */
  holdMs?: number;
}

interface Cluster {
  readonly name: string;
  /** SHA-256 of the token: fixed length, so comparisons run in constant time whatever is sent. */
  readonly tokenHash: Buffer;
  /** SHA-256 of the coordinator secret, which only the coordinator was told. */
  readonly secretHash: Buffer;
  readonly coordinator: MemberEntry;
  readonly members: Map<NodeId, MemberEntry>;
}

/** A name whose coordinator left, held for it until `until`. */
interface HeldName {
  readonly secretHash: Buffer;
  /** The cluster's token: while `away`, a volunteer that shows it is told to come back, not struck. */
  readonly tokenHash: Buffer;
  /** The coordinator went away (disconnected), rather than shutting the cluster down: it may come back. */
  readonly away: boolean;
  readonly until: number;
}

/** Compared against when no cluster has the name, so a missing cluster costs what a wrong token does. */
const NO_CLUSTER_HASH = hashToken('\0 no such cluster');

export class ClusterRegistry {
  private readonly clusters = new Map<string, Cluster>();
  private readonly held = new Map<string, HeldName>();
  private readonly byConnection = new Map<ConnectionId, { readonly cluster: Cluster; readonly nodeId: NodeId }>();
  private readonly newNodeId: () => string;
  private readonly newSecret: () => string;
  private readonly now: () => number;
  private readonly holdMs: number;

  constructor(deps: ClusterRegistryDeps = {}) {
    this.newNodeId = deps.newNodeId ?? randomNodeId;
    this.newSecret = deps.newSecret ?? randomCoordinatorSecret;
    this.now = deps.now ?? (() => performance.now());
    this.holdMs = deps.holdMs ?? COORDINATOR_HOLD_MS;
  }

  /**
   * Admits `connection` to `req.cluster`, or says why not. A coordinator creates the cluster and
   * sets its token; a node needs a running coordinator and the same token.
   */
  join(connection: ConnectionId, req: JoinRequest): JoinOutcome {
    const current = this.byConnection.get(connection);
    if (current !== undefined) {
      return refuse('already_joined', `this tab is already a member of cluster ${current.cluster.name}: leave it before joining again`, false);
    }
    const existing = this.clusters.get(req.cluster);
    if (req.role === 'coordinator') return this.seatCoordinator(connection, req, existing);
    // One answer for a cluster nobody runs and a wrong token, after the same work, so that a
    // refusal tells nothing about whether the name is in use.
    const held = existing === undefined ? this.heldName(req.cluster) : undefined;
    const tokenMatches = timingSafeEqual(hashToken(req.token), existing?.tokenHash ?? held?.tokenHash ?? NO_CLUSTER_HASH);
    if (held?.away === true && tokenMatches) {
      // It knows the token: its coordinator is away for a moment (a reload), it may come back.
      const seconds = Math.ceil((held.until - this.now()) / 1000);
      return refuse(
        'coordinator_away',
        `the coordinator of cluster ${req.cluster} is away (its page may be reloading); the cluster is held for it for ${seconds} s more: join again shortly`,
        false,
      );
    }
    if (existing === undefined || !tokenMatches) {
      return refuse(
        'wrong_token',
        `no coordinator is running cluster ${req.cluster} with this token (wrong token, or the cluster is not started): ` +
          'check the token in your invite link, or ask whoever started the cluster to start it',
        true,
      );
    }
    const member = this.memberInfo(req);
    existing.members.set(member.nodeId, { info: member, connection });
    this.byConnection.set(connection, { cluster: existing, nodeId: member.nodeId });
    const coordinator = existing.coordinator;
    return {
      ok: true,
      cluster: existing.name,
      member,
      coordinator,
      reply: { ok: true, nodeId: member.nodeId, coordinatorId: coordinator.info.nodeId, members: [coordinator.info, member] },
    };
  }

  /**
   * Seats a coordinator: creates the cluster with a new coordinator secret, or, when the name is
   * held for a coordinator that left, gives it back to the one that shows that coordinator's secret.
   */
  private seatCoordinator(connection: ConnectionId, req: JoinRequest, existing: Cluster | undefined): JoinOutcome {
    const weak = tokenProblem(req.token);
    if (weak !== undefined) return refuse('weak_token', `cannot start cluster ${req.cluster}: ${weak}`, false);
    if (existing !== undefined) {
      return refuse(
        'coordinator_exists',
        `cluster ${req.cluster} already has a coordinator: close that tab first, or start a cluster with another name`,
        false,
      );
    }
    const held = this.heldName(req.cluster);
    let secret: string;
    let secretHash: Buffer;
    if (held !== undefined) {
      const seconds = Math.ceil((held.until - this.now()) / 1000);
      const why =
        `cluster ${req.cluster} is held for the coordinator that just left it, for ${seconds} s more: ` +
        'only that coordinator can take it back (reloading its page does); start a cluster with another name, or wait';
      if (req.coordinatorSecret === undefined) return refuse('name_held', why, false);
      if (!timingSafeEqual(hashToken(req.coordinatorSecret), held.secretHash)) return refuse('name_held', why, true);
      this.held.delete(req.cluster);
      secret = req.coordinatorSecret;
      secretHash = held.secretHash;
    } else {
      secret = this.newSecret();
      secretHash = hashToken(secret);
    }
    const member = this.memberInfo(req);
    const entry: MemberEntry = { info: member, connection };
    const cluster: Cluster = {
      name: req.cluster,
      tokenHash: hashToken(req.token),
      secretHash,
      coordinator: entry,
      members: new Map([[member.nodeId, entry]]),
    };
    this.clusters.set(cluster.name, cluster);
    this.byConnection.set(connection, { cluster, nodeId: member.nodeId });
    return {
      ok: true,
      cluster: cluster.name,
      member,
      coordinator: entry,
      reply: { ok: true, nodeId: member.nodeId, coordinatorId: member.nodeId, members: [member], coordinatorSecret: secret },
    };
  }

  /** The hold on `name`, when there is one still running (expired holds are dropped here). */
  private heldName(name: string): HeldName | undefined {
    const h = this.held.get(name);
    if (h !== undefined && h.until <= this.now()) {
      this.held.delete(name);
      return undefined;
    }
    return h;
  }

  /** Whether `secret` is the coordinator secret `name` is held for: that coordinator coming back. */
  holdsFor(name: string, secret: string): boolean {
    const held = this.heldName(name);
    return held !== undefined && timingSafeEqual(hashToken(secret), held.secretHash);
  }

  /** Whether `name` is held for a coordinator that left (and not running). */
  isHeld(name: string): boolean {
    return this.heldName(name) !== undefined;
  }

  /**
   * Ends `connection`'s membership, if it has one. A coordinator leaving closes its cluster: every
   * node stops being a member, and the name is held for that coordinator for holdMs. `away`: it
   * went away (a reload, a dropped connection) rather than shutting the cluster down.
   */
  leave(connection: ConnectionId, away = false): Departure | undefined {
    const current = this.byConnection.get(connection);
    if (current === undefined) return undefined;
    const { cluster, nodeId } = current;
    const member = cluster.members.get(nodeId);
    if (member === undefined) throw new Error(`cluster registry out of step: ${nodeId} is not in ${cluster.name}`);
    this.byConnection.delete(connection);
    cluster.members.delete(nodeId);
    if (nodeId !== cluster.coordinator.info.nodeId) {
      return { kind: 'node_left', cluster: cluster.name, member: member.info };
    }
    const volunteers = [...cluster.members.values()];
    for (const v of volunteers) this.byConnection.delete(v.connection);
    cluster.members.clear();
    this.clusters.delete(cluster.name);
    const now = this.now();
    for (const [name, h] of this.held) if (h.until <= now) this.held.delete(name);
    this.held.set(cluster.name, { secretHash: cluster.secretHash, tokenHash: cluster.tokenHash, away, until: now + this.holdMs });
    return { kind: 'cluster_closed', cluster: cluster.name, member: member.info, volunteers };
  }

  /** The cluster and node id of `connection`, when it is a member. */
  membership(connection: ConnectionId): { readonly cluster: string; readonly nodeId: NodeId } | undefined {
    const current = this.byConnection.get(connection);
    return current === undefined ? undefined : { cluster: current.cluster.name, nodeId: current.nodeId };
  }

  /**
   * Where a signal from `from` addressed to node `to` goes: the target's connection, when both
   * are members of the same cluster and are not the same member; else undefined.
   */
  route(from: ConnectionId, to: string): { readonly from: NodeId; readonly connection: ConnectionId } | undefined {
    const sender = this.byConnection.get(from);
    if (sender === undefined || to === sender.nodeId) return undefined;
    const target = sender.cluster.members.get(to as NodeId);
    return target === undefined ? undefined : { from: sender.nodeId, connection: target.connection };
  }

  /** The members of a cluster, coordinator first; empty when it does not exist. */
  members(cluster: string): MemberInfo[] {
    const c = this.clusters.get(cluster);
    return c === undefined ? [] : [...c.members.values()].map((m) => m.info);
  }

  /** How many clusters are running. */
  get size(): number {
    return this.clusters.size;
  }

  private memberInfo(req: JoinRequest): MemberInfo {
    let nodeId: NodeId;
    do nodeId = this.newNodeId() as NodeId;
    while (this.isTaken(nodeId));
    return {
      nodeId,
      role: req.role,
      resources: { ...req.resources },
      gpuFallback: req.gpuFallback,
      ...(req.label === undefined ? {} : { label: req.label }),
    };
  }

  private isTaken(nodeId: NodeId): boolean {
    for (const c of this.clusters.values()) if (c.members.has(nodeId)) return true;
    return false;
  }
}

function refuse(code: Exclude<JoinRefusal, 'bad_request' | 'too_many_attempts'>, message: string, strike: boolean): JoinOutcome {
  return { ok: false, code, message, strike };
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A coordinator secret: COORDINATOR_SECRET_BYTES from the OS CSPRNG as base64url. */
export function randomCoordinatorSecret(): string {
  return randomBytes(COORDINATOR_SECRET_BYTES).toString('base64url');
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `n-` and NODE_ID_RANDOM_CHARS unbiased random base36 characters from the OS CSPRNG. */
export function randomNodeId(): string {
  let s = 'n-';
  for (let i = 0; i < NODE_ID_RANDOM_CHARS; i++) s += BASE36[randomInt(BASE36.length)];
  return s;
}
