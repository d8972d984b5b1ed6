import { afterEach, describe, expect, it } from 'vitest';
import type { NodeId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { Link } from './link.ts';
import { MemoryNetwork, messageKind } from './memory-link.ts';

// Two memory links opened by hand (the test relays the signals, as the signaling server would).

const A = 'node-a' as NodeId;
const B = 'node-b' as NodeId;

let links: Link[] = [];
afterEach(() => {
  for (const l of links) l.close('test over');
  links = [];
});

function pair(network = new MemoryNetwork()) {
  const got = { a: [] as PeerMessage[], b: [] as PeerMessage[] };
  const closed = { a: [] as string[], b: [] as string[] };
  let b: Link | undefined;
  // The offer goes out a microtask after the link is made, so `a` is set when it is answered.
  const a: Link = network.createLink({
    self: A,
    remote: B,
    initiator: true,
    rtcConfig: {},
    signal: (data) => {
      b ??= network.createLink({
        self: B,
        remote: A,
        initiator: false,
        rtcConfig: {},
        signal: (answer) => a.signal(answer),
        onMessage: (m) => got.b.push(m),
        onClose: (r) => closed.b.push(r),
      });
      links.push(b);
      b.signal(data);
    },
    onMessage: (m) => got.a.push(m),
    onClose: (r) => closed.a.push(r),
  });
  links.push(a);
  return { network, a, b: () => b!, got, closed };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('MemoryLink', () => {
  it('opens by offer and answer; what was sent before it opened arrives after, in order', async () => {
    const { a, b, got } = pair();
    a.send({ type: 'ping', n: 1 });
    expect(a.isOpen).toBe(false);
    await a.ready();
    expect(a.isOpen).toBe(true);
    expect(b().isOpen).toBe(true);
    a.send({ type: 'ping', n: 2 });
    await settle();
    expect(got.b).toEqual([
      { type: 'ping', n: 1 },
      { type: 'ping', n: 2 },
    ]);
  });

  it('round-trips values through the real codec, as structured clone does between tabs', async () => {
    const { a, b, got, network } = pair();
    await a.ready();
    const v = { m: new Map([[1, 'one']]), d: new Date(5), f: new Float32Array([1.5, 2.5]), s: new Set(['x']) };
    b().sendBulk({ type: 'pull_ok', reqId: 3, obj: { v, size: 99 } });
    await settle();
    const msg = got.a[0] as Extract<PeerMessage, { type: 'pull_ok' }>;
    expect(msg.obj.v).toEqual(v);
    expect((msg.obj.v as typeof v).f).toBeInstanceOf(Float32Array);
    expect(network.count('pull_ok')).toBe(1);
    expect(a.bytesReceived).toBe(b().bytesSent);
    expect(network.bytes).toBe(b().bytesSent);
  });

  it('closes the other side too, and sends nothing once closed', async () => {
    const { a, b, got, closed } = pair();
    await a.ready();
    a.close('bye');
    a.send({ type: 'ping', n: 1 });
    await settle();
    expect(closed.a).toEqual(['bye']);
    expect(closed.b).toEqual(['the peer connection closed']);
    expect(b().isOpen).toBe(false);
    expect(got.b).toEqual([]);
  });

  it('counts control messages by their own type', () => {
    expect(messageKind({ type: 'to_node', msg: { type: 'free_objects', ids: [] } })).toBe('to_node:free_objects');
    expect(messageKind({ type: 'ping', n: 0 })).toBe('ping');
  });
});
