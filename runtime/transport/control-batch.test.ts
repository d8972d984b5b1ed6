import { describe, expect, it, vi } from 'vitest';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import { decode } from './codec.ts';
import { MAX_CONTROL_DECODE_CONTAINERS, MAX_DECODE_DEPTH } from './constants.ts';
import { CONTROL_DECODE_BUDGET, encodeControlBatch } from './control-batch.ts';
import { checkDecodeBudget } from './decode-budget.ts';

/** A message carrying `objects` small objects inline (as a task's inline argument would). */
function carrying(objects: number): PeerMessage {
  return { type: 'to_coordinator', msg: { type: 'object_put', id: 'p1', size: 1, obj: { v: Array.from({ length: objects }, (_, i) => ({ i })), size: 1 } } } as unknown as PeerMessage;
}

describe('encodeControlBatch', () => {
  it('sends a batch within the budget as one message', () => {
    const batch: PeerMessage[] = [{ type: 'ping', n: 1 }, { type: 'pong', n: 2 }];
    const out = encodeControlBatch(batch, () => expect.unreachable());
    expect(out).toHaveLength(1);
    expect(decode(out[0]!)).toEqual(batch);
  });

  it('splits a batch over the container budget into parts the receiver accepts, in order', () => {
    const per = Math.ceil(MAX_CONTROL_DECODE_CONTAINERS / 3);
    const batch = [carrying(per), carrying(per), carrying(per), carrying(per), { type: 'ping', n: 9 } as PeerMessage];
    const refused = vi.fn();
    const out = encodeControlBatch(batch, refused);
    expect(refused).not.toHaveBeenCalled();
    expect(out.length).toBeGreaterThan(1);
    for (const bytes of out) expect(checkDecodeBudget(bytes, CONTROL_DECODE_BUDGET)).toBeUndefined();
    const types = out.flatMap((b) => (decode(b) as PeerMessage[]).map((m) => m.type));
    expect(types).toEqual(['to_coordinator', 'to_coordinator', 'to_coordinator', 'to_coordinator', 'ping']);
  });

  it('does not send a single message the receiver would refuse, and says why', () => {
    const deep = { type: 'to_coordinator', msg: Array.from({ length: MAX_DECODE_DEPTH + 5 }).reduce<unknown>((inner) => [inner], 0) } as unknown as PeerMessage;
    const refused = vi.fn();
    const out = encodeControlBatch([{ type: 'ping', n: 1 }, deep], refused);
    expect(out.map((b) => decode(b))).toEqual([[{ type: 'ping', n: 1 }]]);
    expect(refused).toHaveBeenCalledWith(deep, `it is over the receiver's decode budget: it nests deeper than ${MAX_DECODE_DEPTH}`);
  });
});
