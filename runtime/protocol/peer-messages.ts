// Messages between two tabs over their WebRTC data channel: the control plane (coordinator ⇄
// node), heartbeats, and object pulls (the data plane). Checked on arrival: a peer is a cluster
// member, but a buggy or hostile one must not crash the tab.

import * as v from 'valibot';
import type { ObjectId } from './ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from './node-messages.ts';
import type { SerializedObject } from './task-spec.ts';
import type { WireError } from './wire-error.ts';

export type PeerMessage =
  | { readonly t: 'to_node'; readonly msg: CoordinatorToNode }
  | { readonly t: 'to_coordinator'; readonly msg: NodeToCoordinator }
  | { readonly t: 'ping'; readonly n: number }
  | { readonly t: 'pong'; readonly n: number }
  | { readonly t: 'pull'; readonly reqId: number; readonly id: ObjectId }
  | { readonly t: 'pull_ok'; readonly reqId: number; readonly obj: SerializedObject }
  | { readonly t: 'pull_err'; readonly reqId: number; readonly error: WireError };

const wireErrorSchema = v.looseObject({ name: v.string(), message: v.string() });
const serializedSchema = v.looseObject({ size: v.number() });
const typed = v.looseObject({ type: v.string() });

const peerMessageSchema = v.variant('t', [
  v.object({ t: v.literal('to_node'), msg: typed }),
  v.object({ t: v.literal('to_coordinator'), msg: typed }),
  v.object({ t: v.literal('ping'), n: v.number() }),
  v.object({ t: v.literal('pong'), n: v.number() }),
  v.object({ t: v.literal('pull'), reqId: v.number(), id: v.string() }),
  v.object({ t: v.literal('pull_ok'), reqId: v.number(), obj: serializedSchema }),
  v.object({ t: v.literal('pull_err'), reqId: v.number(), error: wireErrorSchema }),
]);

const TO_NODE = new Set(['run_task', 'cancel_task', 'kill_actor', 'generator_ack', 'fetch_objects', 'free_objects', 'client_reply']);
const TO_COORDINATOR = new Set([
  'task_started',
  'task_done',
  'generator_item',
  'actor_died',
  'task_blocked',
  'task_unblocked',
  'object_put',
  'client_request',
  'node_stats',
  'refs',
  'object_located',
]);

/** Narrows a decoded value to a PeerMessage, or says what is wrong with it. */
export function parsePeerMessage(x: unknown): { ok: true; msg: PeerMessage } | { ok: false; reason: string } {
  const r = v.safeParse(peerMessageSchema, x);
  if (!r.success) return { ok: false, reason: r.issues[0].message };
  const m = r.output as { t: string; msg?: { type: string } };
  if (m.t === 'to_node' && !TO_NODE.has(m.msg!.type)) return { ok: false, reason: `unknown control message ${m.msg!.type}` };
  if (m.t === 'to_coordinator' && !TO_COORDINATOR.has(m.msg!.type)) return { ok: false, reason: `unknown control message ${m.msg!.type}` };
  return { ok: true, msg: x as PeerMessage };
}
