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
  | { readonly kind: 'drop'; readonly garbage: boolean; readonly reason: string }
  /** Kept for a target whose server process is gone, to be relayed when it resumes. */
  | { readonly kind: 'held' };

/** A signal whose shape and size are right, not yet routed; or garbage. */
export type CheckedSignal =
  | { readonly kind: 'signal'; readonly to: string; readonly data: unknown; readonly bytes: number }
  | Extract<RelayDecision, { kind: 'drop' }>;

/** Checks a signal's shape and size (no I/O). */
export function checkSignal(payload: unknown): CheckedSignal {
  const parsed = v.safeParse(SignalOutSchema, payload);
  if (!parsed.success) return { kind: 'drop', garbage: true, reason: 'a signal is { to, data }' };
  const bytes = jsonBytes(payload);
  if (bytes === undefined) return { kind: 'drop', garbage: true, reason: 'a signal must be JSON' };
  if (bytes > MAX_SIGNAL_BYTES) {
    return { kind: 'drop', garbage: true, reason: `a signal is at most ${MAX_SIGNAL_BYTES} bytes of JSON, got ${bytes}` };
  }
  return { kind: 'signal', to: parsed.output.to, data: parsed.output.data, bytes };
}

/** Where a checked signal from `from` goes. */
export async function relaySignal(registry: Registry, from: ConnectionId, signal: Extract<CheckedSignal, { kind: 'signal' }>): Promise<RelayDecision> {
  const route = await registry.route(from, signal.to, signal.data);
  if (route === undefined) return { kind: 'drop', garbage: false, reason: 'no such member in the sender’s cluster' };
  if (route.held) return { kind: 'held' };
  return { kind: 'relay', connection: route.connection, message: { from: route.from, data: signal.data } };
}

export async function routeSignal(registry: Registry, from: ConnectionId, payload: unknown): Promise<RelayDecision> {
  const checked = checkSignal(payload);
  return checked.kind === 'drop' ? checked : relaySignal(registry, from, checked);
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
