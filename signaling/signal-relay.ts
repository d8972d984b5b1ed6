// Decides what becomes of a WebRTC signal a tab sent: relayed, opaque, to a member of the same
// cluster, or dropped. No I/O; the connection handler does the sending.

import * as v from 'valibot';
import type { NodeId } from '../runtime/protocol/ids.ts';
import { MAX_SIGNAL_BYTES, SignalOutSchema } from '../runtime/protocol/signaling.ts';
import type { ConnectionId, Registry } from './registry.ts';

export type RelayDecision =
  | { readonly kind: 'relay'; readonly connection: ConnectionId; readonly message: { readonly from: NodeId; readonly data: unknown } }
  /**
   * `garbage`: no well-behaved tab sends this (bad shape, too big), so it counts against the
   * sender. A signal to a node that just left, or from a tab whose cluster just closed, is a race
   * and does not.
   */
  | { readonly kind: 'drop'; readonly garbage: boolean; readonly reason: string };

export async function routeSignal(registry: Registry, from: ConnectionId, payload: unknown): Promise<RelayDecision> {
  const parsed = v.safeParse(SignalOutSchema, payload);
  if (!parsed.success) return { kind: 'drop', garbage: true, reason: 'a signal is { to, data }' };
  const bytes = jsonBytes(payload);
  if (bytes === undefined) return { kind: 'drop', garbage: true, reason: 'a signal must be JSON' };
  if (bytes > MAX_SIGNAL_BYTES) {
    return { kind: 'drop', garbage: true, reason: `a signal is at most ${MAX_SIGNAL_BYTES} bytes of JSON, got ${bytes}` };
  }
  const route = await registry.route(from, parsed.output.to);
  if (route === undefined) return { kind: 'drop', garbage: false, reason: 'no such member in the sender’s cluster' };
  return { kind: 'relay', connection: route.connection, message: { from: route.from, data: parsed.output.data } };
}

/** UTF-8 length of the value's JSON; undefined when it has none (too deep, cyclic, not JSON). */
export function jsonBytes(value: unknown): number | undefined {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : Buffer.byteLength(json, 'utf8');
  } catch {
    return undefined;
  }
}
