// The signaling server's table of clusters: each one's token, coordinator and members (Ray's GCS
// node table, one per cluster). No I/O: sockets are opaque connection ids, so it tests with plain values.

import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../runtime/protocol/ids.ts';
import type { JoinReply, JoinRefusal, JoinRequest, MemberInfo } from '../runtime/protocol/signaling.ts';
import { NODE_ID_RANDOM_CHARS } from './constants.ts';

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
  | { readonly ok: false; readonly code: Exclude<JoinRefusal, 'bad_request'>; readonly message: string };

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
}

interface Cluster {
  readonly name: string;
  /** SHA-256 of the token: fixed length, so comparisons run in constant time whatever is sent. */
  readonly tokenHash: Buffer;
  readonly coordinator: MemberEntry;
  readonly members: Map<NodeId, MemberEntry>;
}

export class ClusterRegistry {
  private readonly clusters = new Map<string, Cluster>();
  private readonly byConnection = new Map<ConnectionId, { readonly cluster: Cluster; readonly nodeId: NodeId }>();
  private readonly newNodeId: () => string;

  constructor(deps: ClusterRegistryDeps = {}) {
    this.newNodeId = deps.newNodeId ?? randomNodeId;
  }

  /**
   * Admits `connection` to `req.cluster`, or says why not. A coordinator creates the cluster and
   * sets its token; a node needs a running coordinator and the same token.
   */
  join(connection: ConnectionId, req: JoinRequest): JoinOutcome {
    const current = this.byConnection.get(connection);
    if (current !== undefined) {
      return refuse('already_joined', `this tab is already a member of cluster ${current.cluster.name}: leave it before joining again`);
    }
    const existing = this.clusters.get(req.cluster);
    if (req.role === 'coordinator') {
      if (existing !== undefined) {
        return refuse(
          'coordinator_exists',
          `cluster ${req.cluster} already has a coordinator: close that tab first, or start a cluster with another name`,
        );
      }
      const member = this.memberInfo(req);
      const entry: MemberEntry = { info: member, connection };
      const cluster: Cluster = {
        name: req.cluster,
        tokenHash: hashToken(req.token),
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
        reply: { ok: true, nodeId: member.nodeId, coordinatorId: member.nodeId, members: [member] },
      };
    }
    if (existing === undefined) {
      return refuse('no_coordinator', `no coordinator is running cluster ${req.cluster}: open the demo page and start it first`);
    }
    if (!timingSafeEqual(hashToken(req.token), existing.tokenHash)) {
      return refuse('wrong_token', `wrong token for cluster ${req.cluster}: ask whoever started it for the token`);
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
   * Ends `connection`'s membership, if it has one. A coordinator leaving closes its cluster: every
   * node stops being a member and the name is free for a new coordinator.
   */
  leave(connection: ConnectionId): Departure | undefined {
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

function refuse(code: Exclude<JoinRefusal, 'bad_request'>, message: string): JoinOutcome {
  return { ok: false, code, message };
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `n-` and NODE_ID_RANDOM_CHARS unbiased random base36 characters from the OS CSPRNG. */
export function randomNodeId(): string {
  let s = 'n-';
  for (let i = 0; i < NODE_ID_RANDOM_CHARS; i++) s += BASE36[randomInt(BASE36.length)];
  return s;
}
