// The signaling protocol between tabs and the server (socket.io events), shared by both sides.
// The server introduces tabs and relays WebRTC signals; it never sees task data. Every inbound
// event is validated with these schemas before use, on both sides.

import * as v from 'valibot';
import type { NodeId } from './ids.ts';

/**
 * Where a server tells pages what they need of it (its task origin, the ICE servers of its
 * deployment): `{ taskOrigin, iceServers? }` as JSON.
 */
export const CONFIG_PATH = '/config.json';

/** Largest signaling payload the server accepts (an SDP offer with many candidates fits easily). */
export const MAX_SIGNAL_BYTES = 64 * 1024;
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const RoleSchema = v.picklist(['coordinator', 'node']);
export type Role = v.InferOutput<typeof RoleSchema>;

/**
 * The most a tab may claim of each resource. A claim is the only word the coordinator has for a
 * stranger's capacity, so it is held to what a browser can have: `navigator.hardwareConcurrency`
 * reaches 192–256 on the largest workstations, and a tab gets one WebGPU adapter (several GPUs are
 * a share of it). Custom resources are counts the driver defines; the bound only keeps them finite.
 * A volunteer that claims a lot and runs little still cannot hold a job back: its tasks get
 * straggler copies elsewhere (coordinator/stragglers.ts).
 */
export const MAX_CLAIMED_CPUS = 256;
export const MAX_CLAIMED_GPUS = 16;
export const MAX_CLAIMED_CUSTOM = 1e9;

const resources = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(64)), v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_CLAIMED_CUSTOM))),
  v.check((r) => Object.keys(r).length <= 64, 'at most 64 resource names'),
  v.check((r) => (r.CPU ?? 0) <= MAX_CLAIMED_CPUS, `CPU must be <=${MAX_CLAIMED_CPUS} (the most threads a browser reports)`),
  v.check((r) => (r.GPU ?? 0) <= MAX_CLAIMED_GPUS, `GPU must be <=${MAX_CLAIMED_GPUS}`),
);

/**
 * The join token's minimum strength, checked when a coordinator sets it: at least MIN_TOKEN_CHARS
 * characters of the URL-safe base64 alphabet (A–Z a–z 0–9 - _, 64 symbols), at least
 * MIN_TOKEN_DISTINCT_CHARS of them different. The floor is the API's own example token
 * (`s3cret`): guessing online is what the server's strikes and backoff (join-throttle.ts) stop;
 * the advice, and the demo's start form (20 random characters of a 32-symbol alphabet, 100 bits),
 * go well past it.
 */
export const MIN_TOKEN_CHARS = 6;
export const MIN_TOKEN_DISTINCT_CHARS = 4;
/** The length the advice asks for: 16 random characters of the alphabet are ~96 bits. */
export const ADVISED_TOKEN_CHARS = 16;
export const MAX_TOKEN_CHARS = 256;
const TOKEN_ALPHABET = /^[A-Za-z0-9_-]*$/;

/** What a good token is, for refusals and forms. */
export const TOKEN_ADVICE =
  `a join token is at least ${MIN_TOKEN_CHARS} characters of A–Z a–z 0–9 - _ ` +
  `(${MIN_TOKEN_DISTINCT_CHARS} or more different ones); use ${ADVISED_TOKEN_CHARS} or more random ones (~96 bits), ` +
  'e.g. the 20 random characters the demo page prefills';

/** Why `token` is too weak to protect a cluster, or undefined when it is strong enough. Never echoes the token. */
export function tokenProblem(token: string): string | undefined {
  if (token.length === 0) return `the token is empty: ${TOKEN_ADVICE}`;
  if (!TOKEN_ALPHABET.test(token)) return `the token has characters other than A–Z a–z 0–9 - _: ${TOKEN_ADVICE}`;
  if (token.length < MIN_TOKEN_CHARS) return `the token has ${token.length} characters, too few: ${TOKEN_ADVICE}`;
  if (token.length > MAX_TOKEN_CHARS) return `the token has ${token.length} characters, more than ${MAX_TOKEN_CHARS}: ${TOKEN_ADVICE}`;
  if (new Set(token).size < MIN_TOKEN_DISTINCT_CHARS) return `the token repeats too few characters to be random: ${TOKEN_ADVICE}`;
  return undefined;
}

/** Largest coordinator secret a join may carry (the server mints 32 characters). */
export const MAX_COORDINATOR_SECRET_CHARS = 128;
/** Most signals a `resume` answer may hand over (the server keeps 64 per member). */
export const MAX_HELD_SIGNALS_IN_REPLY = 256;
/** Largest resume secret a `resume` may carry (the server mints 32 characters). */
export const MAX_RESUME_SECRET_CHARS = 128;

export const JoinRequestSchema = v.strictObject({
  role: RoleSchema,
  cluster: v.pipe(v.string(), v.regex(CLUSTER_NAME, 'a cluster name is 1–64 letters, digits, _ . -')),
  token: v.pipe(v.string(), v.maxLength(MAX_TOKEN_CHARS)),
  resources,
  gpuFallback: v.boolean(),
  label: v.optional(v.pipe(v.string(), v.maxLength(100))),
  /**
   * Coordinators only: the secret the server gave this cluster's coordinator when it created the
   * cluster. It reclaims the name while the server holds it after the coordinator left (a page
   * reload); the join token cannot. Ignored on a node's join.
   */
  coordinatorSecret: v.optional(v.pipe(v.string(), v.maxLength(MAX_COORDINATOR_SECRET_CHARS))),
});
export type JoinRequest = v.InferOutput<typeof JoinRequestSchema>;

export interface MemberInfo {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly resources: Readonly<Record<string, number>>;
  readonly gpuFallback: boolean;
  readonly label?: string;
}

/**
 * Why a `join` was refused:
 * - `bad_request`: the request failed its schema;
 * - `wrong_token`: (to a node) no coordinator runs that cluster with that token. A wrong token and
 *   a cluster nobody runs get the same code and message, so a refusal never tells whether a name
 *   is in use;
 * - `weak_token`: (to a coordinator) the token is below the minimum strength (TOKEN_ADVICE);
 * - `coordinator_exists`: the cluster already has a coordinator;
 * - `name_held`: the cluster's coordinator left moments ago and the name is held for it to come
 *   back (with its `coordinatorSecret`); a missing or wrong secret gets this;
 * - `coordinator_away`: a node's join with the right token while the cluster's coordinator is
 *   away and its name held for it (its page reloading): join again shortly (no strike);
 * - `too_many_attempts`: this socket or address failed too many joins lately; it must wait;
 * - `already_joined`: this socket is already a member of a cluster;
 * - `unavailable`: the server cannot reach its shared registry (Redis) right now: try again shortly.
 */
export const JOIN_REFUSALS = [
  'bad_request',
  'wrong_token',
  'weak_token',
  'coordinator_exists',
  'name_held',
  'coordinator_away',
  'too_many_attempts',
  'already_joined',
  'unavailable',
] as const;
export type JoinRefusal = (typeof JOIN_REFUSALS)[number];

/**
 * The answer to `join`. `members` is the node table as the joiner may see it, itself included:
 * the coordinator sees every member (only itself, since its join creates the cluster); a node
 * sees the coordinator and itself. Later changes arrive as `node_joined` / `node_left`.
 * `coordinatorSecret` goes to the coordinator only: keep it (the tab's sessionStorage) to reclaim
 * the seat after a reload.
 */
export type JoinReply =
  | {
      readonly ok: true;
      readonly nodeId: NodeId;
      readonly coordinatorId: NodeId;
      readonly members: readonly MemberInfo[];
      readonly coordinatorSecret?: string;
      /**
       * This member's proof for `resume`: after its socket reconnects (to the same server, or to
       * another process of the same deployment), `resume` with it binds the new socket to this
       * membership. Keep it in memory only; it dies with the membership.
       */
      readonly resumeSecret: string;
    }
  | { readonly ok: false; readonly code: JoinRefusal; readonly message: string };

export const ResumeRequestSchema = v.strictObject({
  cluster: v.pipe(v.string(), v.regex(CLUSTER_NAME, 'a cluster name is 1–64 letters, digits, _ . -')),
  nodeId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  resumeSecret: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_RESUME_SECRET_CHARS)),
});
export type ResumeRequest = v.InferOutput<typeof ResumeRequestSchema>;

/**
 * Why a `resume` was refused:
 * - `bad_request`: the request failed its schema;
 * - `unknown_member`: no such membership is held (it ended: the member was dropped, its cluster
 *   closed, the server restarted without a shared registry), or the secret is not its secret —
 *   one answer for both. Join again;
 * - `too_many_attempts`, `already_joined`, `unavailable`: as for `join`.
 */
export const RESUME_REFUSALS = ['bad_request', 'unknown_member', 'too_many_attempts', 'already_joined', 'unavailable'] as const;
export type ResumeRefusal = (typeof RESUME_REFUSALS)[number];
/**
 * The answer to `resume`: on success the node table as the member may see it now (as in the join
 * reply), so that it learns what changed while it was away (a node that joined or left then), and
 * the signals kept for it while its server process was gone, oldest first — before any signal
 * relayed to it after this answer.
 */
export type ResumeReply =
  | { readonly ok: true; readonly members: readonly MemberInfo[]; readonly held: readonly { readonly from: NodeId; readonly data: unknown }[] }
  | { readonly ok: false; readonly code: ResumeRefusal; readonly message: string };

export const SignalOutSchema = v.strictObject({
  to: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  data: v.unknown(),
});
export type SignalOut = v.InferOutput<typeof SignalOutSchema>;

/**
 * Why a member left, in `node_left`: it sent `leave`; its socket closed (tab closed, crashed,
 * navigated away, network gone); it stopped answering pings (a frozen tab); or the server dropped
 * it for sending garbage.
 */
export const NODE_LEFT_REASONS = ['left', 'disconnected', 'timed_out', 'dropped'] as const;
export type NodeLeftReason = (typeof NODE_LEFT_REASONS)[number];

/**
 * Events the server sends to tabs. Only members hear them, and only about their own cluster.
 * - `signal`: a WebRTC signal another member of the cluster addressed to this tab.
 * - `node_joined`: to the coordinator only, after the new node has its `join` reply.
 * - `node_left`: to every remaining member (coordinator and nodes) when a node leaves.
 * - `cluster_closed`: to every node when the coordinator leaves; the cluster is gone and the
 *   node is no longer a member (it may `join` again). `reason` is a sentence for the user.
 */
export interface ServerToClient {
  signal: (msg: { from: NodeId; data: unknown }) => void;
  node_joined: (member: MemberInfo) => void;
  node_left: (msg: { nodeId: NodeId; reason: NodeLeftReason }) => void;
  cluster_closed: (msg: { reason: string }) => void;
}

/**
 * Events tabs send to the server.
 * - `join` (with an ack): become a member; one membership per socket at a time.
 * - `signal`: `{ to, data }` relayed as `{ from, data }` to `to` if it is in the sender's cluster
 *   and the JSON is at most MAX_SIGNAL_BYTES; anything else is dropped without a reply.
 * - `resume` (with an ack): a socket that reconnected takes back the membership its tab held
 *   (`{ cluster, nodeId, resumeSecret }` from the join reply). Its node id, role and cluster are
 *   unchanged; nobody is told, since nothing changed for them.
 * - `leave`: end the membership (no payload; acknowledged once recorded, so the tab can close its
 *   socket after it); the socket may `join` again. A coordinator leaving closes its cluster. A
 *   socket that disconnects leaves the same way, but a coordinator that disconnected is taken as
 *   away (its page reloading) rather than shut down.
 * Any other event, or a payload that fails its schema, is garbage: past a small allowance the
 * server disconnects the socket.
 */
export interface ClientToServer {
  join: (req: unknown, ack: (reply: JoinReply) => void) => void;
  resume: (req: unknown, ack: (reply: ResumeReply) => void) => void;
  signal: (msg: unknown) => void;
  leave: (ack?: () => void) => void;
}

/** The events a tab may send; the server treats any other event name as garbage. */
export const CLIENT_EVENTS = ['join', 'resume', 'signal', 'leave'] as const satisfies readonly (keyof ClientToServer)[];

// Schemas for what a tab receives from the server (a tab trusts nothing it did not check).
export const SignalInSchema = v.strictObject({ from: v.string(), data: v.unknown() });
export const MemberSchema = v.object({
  nodeId: v.string(),
  role: RoleSchema,
  resources,
  gpuFallback: v.boolean(),
  label: v.optional(v.string()),
});
export const NodeLeftSchema = v.object({ nodeId: v.string(), reason: v.picklist(NODE_LEFT_REASONS) });
export const ClusterClosedSchema = v.object({ reason: v.string() });
export const JoinReplySchema = v.union([
  v.object({
    ok: v.literal(true),
    nodeId: v.string(),
    coordinatorId: v.string(),
    members: v.array(MemberSchema),
    coordinatorSecret: v.optional(v.pipe(v.string(), v.maxLength(MAX_COORDINATOR_SECRET_CHARS))),
    resumeSecret: v.pipe(v.string(), v.maxLength(MAX_RESUME_SECRET_CHARS)),
  }),
  v.object({
    ok: v.literal(false),
    code: v.picklist(JOIN_REFUSALS),
    message: v.string(),
  }),
]);
export const ResumeReplySchema = v.union([
  v.object({ ok: v.literal(true), members: v.array(MemberSchema), held: v.pipe(v.array(SignalInSchema), v.maxLength(MAX_HELD_SIGNALS_IN_REPLY)) }),
  v.object({ ok: v.literal(false), code: v.picklist(RESUME_REFUSALS), message: v.string() }),
]);
