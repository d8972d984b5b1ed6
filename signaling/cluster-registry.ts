// The signaling server's table of clusters in one process's memory: each one's token, coordinator
// and members (Ray's GCS node table, one per cluster); the embedded default (redis-registry.ts is
// the shared one). No I/O: sockets are opaque connection ids, so it tests with plain values.

import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../runtime/protocol/ids.ts';
import { tokenProblem, type JoinRequest, type MemberInfo, type ResumeRequest } from '../runtime/protocol/signaling.ts';
import { COORDINATOR_HOLD_MS, COORDINATOR_SECRET_BYTES, NODE_ID_RANDOM_CHARS } from './constants.ts';
import { memberInfo, refusals, seatedCoordinator, type ConnectionId, type Departure, type JoinOutcome, type MemberEntry, type Registry, type ResumeOutcome, type Route } from './registry.ts';

export type { ConnectionId, Departure, JoinOutcome, MemberEntry } from './registry.ts';

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
  coordinator: Seat;
  readonly members: Map<NodeId, Seat>;
}

/** A member as the registry keeps it: with the SHA-256 of its resume secret. */
interface Seat extends MemberEntry {
  readonly resumeHash: Buffer;
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

export class ClusterRegistry implements Registry {
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

  join(connection: ConnectionId, req: JoinRequest): JoinOutcome {
    const current = this.byConnection.get(connection);
    if (current !== undefined) {
      return refusals.alreadyJoined(current.cluster.name);
    }
    const existing = this.clusters.get(req.cluster);
    if (req.role === 'coordinator') return this.seatCoordinator(connection, req, existing);
    // One answer for a cluster nobody runs and a wrong token, after the same work, so that a
    // refusal tells nothing about whether the name is in use.
    const held = existing === undefined ? this.heldName(req.cluster) : undefined;
    const tokenMatches = timingSafeEqual(hashToken(req.token), existing?.tokenHash ?? held?.tokenHash ?? NO_CLUSTER_HASH);
    if (held?.away === true && tokenMatches) {
      // It knows the token: its coordinator is away for a moment (a reload), it may come back.
      return refusals.coordinatorAway(req.cluster, Math.ceil((held.until - this.now()) / 1000));
    }
    if (existing === undefined || !tokenMatches) return refusals.wrongToken(req.cluster);
    const member = this.memberInfo(req);
    const resumeSecret = randomCoordinatorSecret();
    existing.members.set(member.nodeId, { info: member, connection, resumeHash: hashToken(resumeSecret) });
    this.byConnection.set(connection, { cluster: existing, nodeId: member.nodeId });
    const { info, connection: coordinatorConnection } = existing.coordinator;
    return {
      ok: true,
      cluster: existing.name,
      member,
      coordinator: { info, connection: coordinatorConnection },
      reply: { ok: true, nodeId: member.nodeId, coordinatorId: info.nodeId, members: [info, member], resumeSecret },
    };
  }

  /**
   * Seats a coordinator: creates the cluster with a new coordinator secret, or, when the name is
   * held for a coordinator that left, gives it back to the one that shows that coordinator's secret.
   */
  private seatCoordinator(connection: ConnectionId, req: JoinRequest, existing: Cluster | undefined): JoinOutcome {
    const weak = tokenProblem(req.token);
    if (weak !== undefined) return refusals.weakToken(req.cluster, weak);
    if (existing !== undefined) return refusals.coordinatorExists(req.cluster);
    const held = this.heldName(req.cluster);
    let secret: string;
    let secretHash: Buffer;
    if (held !== undefined) {
      const seconds = Math.ceil((held.until - this.now()) / 1000);
      if (req.coordinatorSecret === undefined) return refusals.nameHeld(req.cluster, seconds, false);
      if (!timingSafeEqual(hashToken(req.coordinatorSecret), held.secretHash)) return refusals.nameHeld(req.cluster, seconds, true);
      this.held.delete(req.cluster);
      secret = req.coordinatorSecret;
      secretHash = held.secretHash;
    } else {
      secret = this.newSecret();
      secretHash = hashToken(secret);
    }
    const member = this.memberInfo(req);
    const resumeSecret = randomCoordinatorSecret();
    const entry: Seat = { info: member, connection, resumeHash: hashToken(resumeSecret) };
    const cluster: Cluster = {
      name: req.cluster,
      tokenHash: hashToken(req.token),
      secretHash,
      coordinator: entry,
      members: new Map([[member.nodeId, entry]]),
    };
    this.clusters.set(cluster.name, cluster);
    this.byConnection.set(connection, { cluster, nodeId: member.nodeId });
    return seatedCoordinator(cluster.name, member, connection, secret, resumeSecret);
  }

  resume(connection: ConnectionId, req: ResumeRequest): ResumeOutcome {
    const current = this.byConnection.get(connection);
    if (current !== undefined) {
      return refusals.resumeAlreadyJoined(current.cluster.name);
    }
    const cluster = this.clusters.get(req.cluster);
    const seat = cluster?.members.get(req.nodeId as NodeId);
    // Compared whatever was found, so a refusal costs the same whether the member exists or not.
    const matches = timingSafeEqual(hashToken(req.resumeSecret), seat?.resumeHash ?? NO_CLUSTER_HASH);
    if (cluster === undefined || seat === undefined || !matches) return refusals.unknownMember(req);
    this.byConnection.delete(seat.connection);
    const moved: Seat = { ...seat, connection };
    cluster.members.set(seat.info.nodeId, moved);
    if (cluster.coordinator.info.nodeId === seat.info.nodeId) cluster.coordinator = moved;
    this.byConnection.set(connection, { cluster, nodeId: seat.info.nodeId });
    const members = seat.info.role === 'coordinator' ? this.members(cluster.name) : [cluster.coordinator.info, seat.info];
    // A member's process is this one: nothing was ever held for it.
    return { ok: true, cluster: cluster.name, member: seat.info, members, held: [] };
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

  holdsFor(name: string, secret: string): boolean {
    const held = this.heldName(name);
    return held !== undefined && timingSafeEqual(hashToken(secret), held.secretHash);
  }

  /** Whether `name` is held for a coordinator that left (and not running). */
  isHeld(name: string): boolean {
    return this.heldName(name) !== undefined;
  }

  /** Ends `connection`'s membership (Registry.leave); the name is held for holdMs. */
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
    const volunteers = [...cluster.members.values()].map(({ info, connection: c }) => ({ info, connection: c }));
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

  route(from: ConnectionId, to: string): Route | undefined {
    const sender = this.byConnection.get(from);
    if (sender === undefined || to === sender.nodeId) return undefined;
    const target = sender.cluster.members.get(to as NodeId);
    return target === undefined ? undefined : { from: sender.nodeId, connection: target.connection };
  }

  members(cluster: string): MemberInfo[] {
    const c = this.clusters.get(cluster);
    return c === undefined ? [] : [...c.members.values()].map((m) => m.info);
  }

  clusterCount(): number {
    return this.clusters.size;
  }

  private memberInfo(req: JoinRequest): MemberInfo {
    let nodeId: NodeId;
    do nodeId = this.newNodeId() as NodeId;
    while (this.isTaken(nodeId));
    return memberInfo(nodeId, req);
  }

  private isTaken(nodeId: NodeId): boolean {
    for (const c of this.clusters.values()) if (c.members.has(nodeId)) return true;
    return false;
  }
}

export function hashToken(token: string): Buffer {
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
