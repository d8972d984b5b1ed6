// The signaling protocol between tabs and the server (socket.io events), shared by both sides.
// The server introduces tabs and relays WebRTC signals; it never sees task data. Every inbound
// event is validated with these schemas before use, on both sides.

import * as v from 'valibot';
import type { NodeId } from './ids.ts';

/** Largest signaling payload the server accepts (an SDP offer with many candidates fits easily). */
export const MAX_SIGNAL_BYTES = 64 * 1024;
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const RoleSchema = v.picklist(['coordinator', 'node']);
export type Role = v.InferOutput<typeof RoleSchema>;

const resources = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(64)), v.pipe(v.number(), v.minValue(0), v.maxValue(1e12))),
  v.check((r) => Object.keys(r).length <= 64, 'at most 64 resource names'),
);

export const JoinRequestSchema = v.strictObject({
  role: RoleSchema,
  cluster: v.pipe(v.string(), v.regex(CLUSTER_NAME, 'a cluster name is 1–64 letters, digits, _ . -')),
  token: v.pipe(v.string(), v.maxLength(256)),
  resources,
  gpuFallback: v.boolean(),
  label: v.optional(v.pipe(v.string(), v.maxLength(100))),
});
export type JoinRequest = v.InferOutput<typeof JoinRequestSchema>;

export interface MemberInfo {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly resources: Readonly<Record<string, number>>;
  readonly gpuFallback: boolean;
  readonly label?: string;
}

export type JoinRefusal = 'bad_request' | 'wrong_token' | 'no_coordinator' | 'coordinator_exists' | 'already_joined';

export type JoinReply =
  | { readonly ok: true; readonly nodeId: NodeId; readonly coordinatorId: NodeId; readonly members: readonly MemberInfo[] }
  | { readonly ok: false; readonly code: JoinRefusal; readonly message: string };

export const SignalOutSchema = v.strictObject({
  to: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  data: v.unknown(),
});
export type SignalOut = v.InferOutput<typeof SignalOutSchema>;

/** Events the server sends to tabs. */
export interface ServerToClient {
  signal: (msg: { from: NodeId; data: unknown }) => void;
  node_joined: (member: MemberInfo) => void;
  node_left: (msg: { nodeId: NodeId; reason: string }) => void;
  cluster_closed: (msg: { reason: string }) => void;
}

/** Events tabs send to the server. */
export interface ClientToServer {
  join: (req: unknown, ack: (reply: JoinReply) => void) => void;
  signal: (msg: unknown) => void;
  leave: () => void;
}

// Schemas for what a tab receives from the server (a tab trusts nothing it did not check).
export const SignalInSchema = v.strictObject({ from: v.string(), data: v.unknown() });
export const MemberSchema = v.object({
  nodeId: v.string(),
  role: RoleSchema,
  resources,
  gpuFallback: v.boolean(),
  label: v.optional(v.string()),
});
export const NodeLeftSchema = v.object({ nodeId: v.string(), reason: v.string() });
export const ClusterClosedSchema = v.object({ reason: v.string() });
export const JoinReplySchema = v.union([
  v.object({ ok: v.literal(true), nodeId: v.string(), coordinatorId: v.string(), members: v.array(MemberSchema) }),
  v.object({
    ok: v.literal(false),
    code: v.picklist(['bad_request', 'wrong_token', 'no_coordinator', 'coordinator_exists', 'already_joined']),
    message: v.string(),
  }),
]);
