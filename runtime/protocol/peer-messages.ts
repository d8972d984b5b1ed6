// Messages between two tabs over their WebRTC data channel: the control plane (coordinator ⇄
// node), heartbeats, and object pulls (the data plane). Checked on arrival, field by field: a
// peer is a cluster member, but a stranger's tab; a buggy or hostile one must not crash this one.

import * as v from 'valibot';
import type { ObjectId } from './ids.ts';
import {
  coordinatorToNodeSchema,
  describeIssues,
  int,
  nodeToCoordinatorSchema,
  objectId,
  serializedObjectSchema,
  type Same,
  wireErrorSchema,
} from './message-schemas.ts';
import type { CoordinatorToNode, NodeToCoordinator } from './node-messages.ts';
import type { SerializedObject } from './task-spec.ts';
import type { WireError } from './wire-error.ts';

export type PeerMessage =
  | { readonly type: 'to_node'; readonly msg: CoordinatorToNode }
  | { readonly type: 'to_coordinator'; readonly msg: NodeToCoordinator }
  | { readonly type: 'ping'; readonly n: number }
  | { readonly type: 'pong'; readonly n: number }
  | { readonly type: 'pull'; readonly reqId: number; readonly id: ObjectId }
  | { readonly type: 'pull_ok'; readonly reqId: number; readonly obj: SerializedObject }
  | { readonly type: 'pull_err'; readonly reqId: number; readonly error: WireError };

/** Requests one tab makes of another (common/rpc.ts), each with its reply: a pull answers the object. */
export interface PeerRequests {
  readonly pull: { readonly req: { readonly type: 'pull'; readonly id: ObjectId }; readonly reply: SerializedObject };
}

const peerMessageSchema = v.variant('type', [
  v.object({ type: v.literal('to_node'), msg: coordinatorToNodeSchema }),
  v.object({ type: v.literal('to_coordinator'), msg: nodeToCoordinatorSchema }),
  // Heartbeat numbers and request ids count up from 1 (common/rpc.ts): whole numbers ≥ 0.
  v.object({ type: v.literal('ping'), n: int(0) }),
  v.object({ type: v.literal('pong'), n: int(0) }),
  v.object({ type: v.literal('pull'), reqId: int(0), id: objectId }),
  v.object({ type: v.literal('pull_ok'), reqId: int(0), obj: serializedObjectSchema }),
  v.object({ type: v.literal('pull_err'), reqId: int(0), error: wireErrorSchema }),
]);

/**
 * Narrows a decoded value to a PeerMessage, field by field (message-schemas.ts), or says what is
 * wrong with it. The message returned holds only the fields its type names.
 */
export function parsePeerMessage(x: unknown): { ok: true; msg: PeerMessage } | { ok: false; reason: string } {
  let r;
  try {
    r = v.safeParse(peerMessageSchema, x);
  } catch (e) {
    return { ok: false, reason: `could not be checked: ${(e as Error).message}` };
  }
  if (r.success) return { ok: true, msg: r.output };
  const issue = r.issues[0];
  const path = issue.path?.map((p) => String(p.key)) ?? [];
  // A control message of a type the other side does not send.
  if (path.length === 2 && path[0] === 'msg' && path[1] === 'type') return { ok: false, reason: `unknown control message ${String(issue.input)}` };
  return { ok: false, reason: describeIssues(r.issues) };
}

// The schema's output is PeerMessage and covers every PeerMessage (fails to compile when they drift).
const typesMatch: Same<typeof peerMessageSchema, PeerMessage> = true;
void typesMatch;
