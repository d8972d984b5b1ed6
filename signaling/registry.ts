// What the signaling server asks of its cluster registry (Ray's GCS node table, one per cluster):
// the in-memory one of a single process (cluster-registry.ts) and the Redis one that several
// processes share (redis-registry.ts) answer the same questions the same way; the connection
// handler (cluster-signaling.ts) awaits either.

import type { NodeId } from '../runtime/protocol/ids.ts';
import type { JoinReply, JoinRefusal, JoinRequest, MemberInfo, ResumeRequest } from '../runtime/protocol/signaling.ts';

/** A socket as the registry knows it (the socket.io socket id: unique across server processes). */
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

export type ResumeOutcome =
  | {
      readonly ok: true;
      readonly cluster: string;
      readonly member: MemberInfo;
      /** The node table as the member may see it: every member for the coordinator, else the coordinator and itself. */
      readonly members: MemberInfo[];
      /** Signals addressed to it while its server process was gone, oldest first: deliver them now. */
      readonly held: readonly HeldSignal[];
    }
  | {
      readonly ok: false;
      readonly code: 'unknown_member' | 'already_joined';
      readonly message: string;
      /** A secret that did not match a membership: counts against the sender. */
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

/** Where a relayed signal goes. */
export interface Route {
  readonly from: NodeId;
  readonly connection: ConnectionId;
  /**
   * The target's server process is gone (a shared registry knows): the signal was kept for the
   * target's resume rather than sent to a socket nobody holds.
   */
  readonly held?: true;
}

/** A signal kept for a member whose server process was gone, as it will be relayed. */
export interface HeldSignal {
  readonly from: NodeId;
  readonly data: unknown;
}

type Awaitable<T> = T | Promise<T>;

export interface Registry {
  /**
   * Admits `connection` to `req.cluster`, or says why not. A coordinator creates the cluster and
   * sets its token; a node needs a running coordinator and the same token.
   */
  join(connection: ConnectionId, req: JoinRequest): Awaitable<JoinOutcome>;
  /** Binds `connection` to the membership `req` names, when its resume secret is that membership's. */
  resume(connection: ConnectionId, req: ResumeRequest): Awaitable<ResumeOutcome>;
  /**
   * Ends `connection`'s membership, if it has one. A coordinator leaving closes its cluster, and
   * the name is held for that coordinator for a while. `away`: it went away (a reload, a dropped
   * connection) rather than shutting the cluster down.
   */
  leave(connection: ConnectionId, away?: boolean): Awaitable<Departure | undefined>;
  /** Whether `secret` is the coordinator secret `name` is held for: that coordinator coming back. */
  holdsFor(name: string, secret: string): Awaitable<boolean>;
  /**
   * Where a signal from `from` addressed to node `to` goes: the target's connection, when both
   * are members of the same cluster and are not the same member; else undefined. `data` is the
   * signal's, kept for the target (`held`) when its server process is gone.
   */
  route(from: ConnectionId, to: string, data: unknown): Awaitable<Route | undefined>;
  /** The members of a cluster, coordinator first; empty when it does not exist. */
  members(cluster: string): Awaitable<MemberInfo[]>;
  /** How many clusters are running. */
  clusterCount(): Awaitable<number>;
}

/** What the registry records of a member, from its join request (a copy: nothing of the request is kept). */
export function memberInfo(nodeId: NodeId, req: JoinRequest): MemberInfo {
  return {
    nodeId,
    role: req.role,
    resources: { ...req.resources },
    gpuFallback: req.gpuFallback,
    ...(req.label === undefined ? {} : { label: req.label }),
  };
}

/** The outcome of seating a coordinator, in both registries: the node table is itself. */
export function seatedCoordinator(cluster: string, member: MemberInfo, connection: ConnectionId, coordinatorSecret: string, resumeSecret: string): JoinOutcome {
  return {
    ok: true,
    cluster,
    member,
    coordinator: { info: member, connection },
    reply: { ok: true, nodeId: member.nodeId, coordinatorId: member.nodeId, members: [member], coordinatorSecret, resumeSecret },
  };
}

/**
 * The refusals both registries give, worded once. A wrong token and a cluster nobody runs get the
 * same one, so a refusal never tells whether a name is in use.
 */
export const refusals = {
  alreadyJoined: (cluster: string): JoinOutcome =>
    refuse('already_joined', `this tab is already a member of cluster ${cluster}: leave it before joining again`, false),
  weakToken: (cluster: string, weak: string): JoinOutcome => refuse('weak_token', `cannot start cluster ${cluster}: ${weak}`, false),
  coordinatorExists: (cluster: string): JoinOutcome =>
    refuse('coordinator_exists', `cluster ${cluster} already has a coordinator: close that tab first, or start a cluster with another name`, false),
  /** `strike`: a secret was shown and it was wrong (none shown is no guess). */
  nameHeld: (cluster: string, seconds: number, strike: boolean): JoinOutcome =>
    refuse(
      'name_held',
      `cluster ${cluster} is held for the coordinator that just left it, for ${seconds} s more: ` +
        'only that coordinator can take it back (reloading its page does); start a cluster with another name, or wait',
      strike,
    ),
  coordinatorAway: (cluster: string, seconds: number): JoinOutcome =>
    refuse(
      'coordinator_away',
      `the coordinator of cluster ${cluster} is away (its page may be reloading); the cluster is held for it for ${seconds} s more: join again shortly`,
      false,
    ),
  wrongToken: (cluster: string): JoinOutcome =>
    refuse(
      'wrong_token',
      `no coordinator is running cluster ${cluster} with this token (wrong token, or the cluster is not started): ` +
        'check the token in your invite link, or ask whoever started the cluster to start it',
      true,
    ),
  /** One answer for a membership that ended and a wrong secret, as wrongToken. */
  unknownMember: (req: ResumeRequest): ResumeOutcome => ({
    ok: false,
    code: 'unknown_member',
    message:
      `node ${req.nodeId} is not a member of cluster ${req.cluster} any more (it was dropped, the cluster closed, ` +
      'or the server restarted without a shared registry): join again',
    strike: true,
  }),
  resumeAlreadyJoined: (cluster: string): ResumeOutcome => ({
    ok: false,
    code: 'already_joined',
    message: `this tab is already a member of cluster ${cluster}`,
    strike: false,
  }),
};

function refuse(code: Extract<JoinOutcome, { ok: false }>['code'], message: string, strike: boolean): JoinOutcome {
  return { ok: false, code, message, strike };
}
