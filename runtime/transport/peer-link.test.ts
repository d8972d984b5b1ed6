import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NodeId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import { encode } from './codec.ts';
import { FRAME_HEADER_BYTES, HIGH_WATER_BYTES, MAX_FRAME_BYTES, PEER_STRIKE_LIMIT } from './constants.ts';
import { CONTROL_LANE, DATA_LANE, frames } from './framing.ts';
import { PeerLink } from './peer-link.ts';

// The peer link over an in-memory twin of simple-peer and its RTCDataChannel: the channel records
// what is sent (a copy, as RTCDataChannel.send makes one) and adds it to `bufferedAmount`; the test
// drains the buffer and fires `bufferedamountlow` as the browser would once the bytes left.

const fake = vi.hoisted(() => {
  type Listener = (...args: unknown[]) => void;

  class FakeChannel extends EventTarget {
    readyState: RTCDataChannelState = 'open';
    bufferedAmount = 0;
    readonly sent: Uint8Array[] = [];
    send(data: Uint8Array): void {
      this.sent.push(data.slice());
      this.bufferedAmount += data.byteLength;
    }
    /** The network took the buffered bytes down to `left`: the browser fires bufferedamountlow. */
    drain(left = 0): void {
      this.bufferedAmount = left;
      this.dispatchEvent(new Event('bufferedamountlow'));
    }
  }

  class FakePeer {
    readonly _channel = new FakeChannel();
    destroyed = false;
    private readonly listeners = new Map<string, { fn: Listener; once: boolean }[]>();
    constructor() {
      peers.push(this);
    }
    on(event: string, fn: Listener): this {
      this.listeners.set(event, [...(this.listeners.get(event) ?? []), { fn, once: false }]);
      return this;
    }
    once(event: string, fn: Listener): this {
      this.listeners.set(event, [...(this.listeners.get(event) ?? []), { fn, once: true }]);
      return this;
    }
    emit(event: string, ...args: unknown[]): void {
      const ls = this.listeners.get(event) ?? [];
      this.listeners.set(
        event,
        ls.filter((l) => !l.once),
      );
      for (const l of ls) l.fn(...args);
    }
    signal(): void {}
    destroy(): void {
      this.destroyed = true;
    }
  }

  const peers: FakePeer[] = [];
  return { FakeChannel, FakePeer, peers };
});

vi.mock('simple-peer/simplepeer.min.js', () => ({ default: fake.FakePeer }));

const MiB = 1024 * 1024;
const FRAME_PAYLOAD = MAX_FRAME_BYTES - FRAME_HEADER_BYTES;

let links: PeerLink[] = [];
afterEach(() => {
  for (const l of links) l.close('test over');
  links = [];
  fake.peers.length = 0;
});

/** A link whose data channel is open, and the link that receives what it sends. */
function connectedPair() {
  const make = (self: string, remote: string, initiator: boolean, received: PeerMessage[]) => {
    const link = new PeerLink({
      self: self as NodeId,
      remote: remote as NodeId,
      initiator,
      rtcConfig: {},
      signal: () => {},
      onMessage: (m) => received.push(m),
      onClose: (reason) => closes.push(reason),
    });
    links.push(link);
    const peer = fake.peers.at(-1)!;
    peer.emit('connect');
    return { link, peer };
  };
  const received: PeerMessage[] = [];
  const closes: string[] = [];
  const a = make('node-a', 'node-b', true, []);
  const b = make('node-b', 'node-a', false, received);
  const ch = a.peer._channel;
  let delivered = 0;
  /** Hands every frame sent so far to the receiving link, in order. */
  const deliver = (): PeerMessage[] => {
    for (; delivered < ch.sent.length; delivered++) b.peer.emit('data', ch.sent[delivered]);
    return received;
  };
  /** Hands the receiving link a frame as if the remote had sent it. */
  const inject = (frame: Uint8Array): void => b.peer.emit('data', frame);
  return { link: a.link, ch, deliver, received, inject, receiver: b.link, closes };
}

const lane = (frame: Uint8Array): number => frame[0]!;

/** An object of `bytes` bytes, each depending on its index and `seed`. */
function payload(bytes: number, seed: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function bulk(reqId: number, bytes: number): PeerMessage {
  return { type: 'pull_ok', reqId, obj: { v: payload(bytes, reqId), size: bytes } };
}

function sameBytes(a: unknown, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lets the microtask that flushes a control batch run. */
const microtasks = (): Promise<void> => Promise.resolve().then(() => {});

describe('PeerLink backpressure', () => {
  it('stops sending when bufferedAmount reaches the high-water mark and resumes on bufferedamountlow', () => {
    const { link, ch, deliver } = connectedPair();
    const msg = bulk(1, 20 * MiB);
    link.sendBulk(msg);
    // Full frames until the buffer holds the high-water mark (8 MiB), then nothing more.
    const perWindow = HIGH_WATER_BYTES / MAX_FRAME_BYTES;
    expect(perWindow).toBe(32);
    expect(ch.sent).toHaveLength(perWindow);
    expect(ch.bufferedAmount).toBe(HIGH_WATER_BYTES);
    // Another message does not push past the mark either.
    link.sendBulk(bulk(2, 1000));
    expect(ch.sent).toHaveLength(perWindow);

    // One byte below the mark there is room for exactly one more frame.
    ch.drain(HIGH_WATER_BYTES - 1);
    expect(ch.sent).toHaveLength(perWindow + 1);

    // Drained: another window's worth, and so on until both messages are out.
    ch.drain();
    expect(ch.sent).toHaveLength(2 * perWindow + 1);
    let rounds = 0;
    while (ch.bufferedAmount >= HIGH_WATER_BYTES && rounds++ < 10) ch.drain();
    expect(ch.sent).toHaveLength(Math.ceil(encode(msg).length / FRAME_PAYLOAD) + 1);
    expect(ch.sent.every((f) => f.length <= MAX_FRAME_BYTES && lane(f) === DATA_LANE)).toBe(true);

    // Nothing lost or reordered: both arrive whole, in the order sent.
    const got = deliver();
    expect(got.map((m) => m.type === 'pull_ok' && m.reqId)).toEqual([1, 2]);
    const first = got[0] as Extract<PeerMessage, { type: 'pull_ok' }>;
    expect(sameBytes(first.obj.v, payload(20 * MiB, 1))).toBe(true);
    expect(link.bytesSent).toBe(ch.sent.reduce((n, f) => n + f.length, 0));
  });

  it('sends nothing while the channel is not open, and nothing before it connects', () => {
    const link = new PeerLink({
      self: 'node-a' as NodeId,
      remote: 'node-b' as NodeId,
      initiator: true,
      rtcConfig: {},
      signal: () => {},
      onMessage: () => {},
      onClose: () => {},
    });
    links.push(link);
    const peer = fake.peers.at(-1)!;
    link.sendBulk(bulk(1, 1000));
    expect(peer._channel.sent).toEqual([]);
    peer.emit('connect'); // the queued message leaves once the channel opens
    expect(peer._channel.sent).toHaveLength(1);
    peer._channel.readyState = 'closing';
    link.sendBulk(bulk(2, 1000));
    expect(peer._channel.sent).toHaveLength(1);
  });
});

describe('PeerLink control lane', () => {
  it('sends a control message ahead of the rest of an object already being sent', async () => {
    const { link, ch, deliver } = connectedPair();
    link.sendBulk(bulk(1, 20 * MiB));
    const before = ch.sent.length;
    expect(before).toBe(32); // the buffer is full, most of the object still to go

    const ping: PeerMessage = { type: 'ping', n: 7 };
    link.send(ping);
    await microtasks(); // its batch is framed, but the buffer is full
    expect(ch.sent).toHaveLength(before);

    ch.drain();
    // The first frame to leave is the control message, then the object goes on.
    expect(lane(ch.sent[before]!)).toBe(CONTROL_LANE);
    expect(ch.sent.slice(before + 1).every((f) => lane(f) === DATA_LANE)).toBe(true);
    expect(ch.sent.length).toBeGreaterThan(before + 2);

    // The receiver gets the ping while the object is still incomplete.
    expect(deliver()).toEqual([ping]);
    while (ch.bufferedAmount >= HIGH_WATER_BYTES) ch.drain();
    const got = deliver();
    expect(got.map((m) => m.type)).toEqual(['ping', 'pull_ok']);
    expect(sameBytes((got[1] as Extract<PeerMessage, { type: 'pull_ok' }>).obj.v, payload(20 * MiB, 1))).toBe(true);
  });

  it('keeps control messages in order, and objects in order, while the one overtakes the other', async () => {
    const { link, ch, deliver } = connectedPair();
    const controls: PeerMessage[] = [];
    const control = (n: number): void => {
      const m = { type: 'to_coordinator', msg: { type: 'task_unblocked', taskId: `t${n}` } } as PeerMessage;
      controls.push(m);
      link.send(m);
    };
    link.sendBulk(bulk(1, 12 * MiB)); // 48 frames: 32 leave, the buffer is full
    control(1);
    control(2); // the same turn: one batch with 1
    link.sendBulk(bulk(2, 3 * MiB));
    await microtasks(); // batch [1, 2] is framed and waits for room
    control(3); // a later turn: a batch of its own (leaving when the link's batching window ends)
    const before = ch.sent.length;
    expect(before).toBe(32);
    // The network took a few bytes (not enough for bufferedamountlow): room for one frame, which
    // goes out when batch [3] is framed (that pumps): a control frame, not the object's next.
    ch.bufferedAmount = HIGH_WATER_BYTES - 1;
    await vi.waitFor(() => expect(ch.sent).toHaveLength(before + 1));
    expect(lane(ch.sent[before]!)).toBe(CONTROL_LANE);
    ch.drain();
    expect(lane(ch.sent[before + 1]!)).toBe(CONTROL_LANE);
    expect(ch.sent.slice(before + 2).every((f) => lane(f) === DATA_LANE)).toBe(true);
    while (ch.bufferedAmount >= HIGH_WATER_BYTES) ch.drain();

    const got = deliver();
    // Every control message, in order, before the first object (whose sending had begun)...
    expect(got.slice(0, 3)).toEqual(controls);
    // ...and the objects whole, in the order sent.
    const objs = got.slice(3) as Extract<PeerMessage, { type: 'pull_ok' }>[];
    expect(objs.map((m) => m.reqId)).toEqual([1, 2]);
    expect(sameBytes(objs[0]!.obj.v, payload(12 * MiB, 1))).toBe(true);
    expect(sameBytes(objs[1]!.obj.v, payload(3 * MiB, 2))).toBe(true);
  });

  it('drops what is queued when the link closes', async () => {
    const { link, ch } = connectedPair();
    link.sendBulk(bulk(1, 20 * MiB));
    const before = ch.sent.length;
    link.close('gone');
    ch.drain();
    link.send({ type: 'ping', n: 1 });
    await microtasks();
    expect(ch.sent).toHaveLength(before);
  });
});

describe('PeerLink strikes', () => {
  const garbageFrame = (i: number): Uint8Array => new Uint8Array([9, 0, 0, 0, 0, 0, 0, i]); // unknown lane 9
  const controlFrame = (msgNo: number, body: Uint8Array): Uint8Array => [...frames(CONTROL_LANE, msgNo, body)][0]!;

  it('drops malformed frames, undecodable and malformed messages, and cuts the link at the strike limit', async () => {
    const { link, deliver, received, inject, receiver, closes } = connectedPair();
    link.send({ type: 'ping', n: 1 });
    await microtasks();
    deliver();
    expect(received).toEqual([{ type: 'ping', n: 1 }]);
    // One of each kind of garbage, then more malformed frames, up to one short of the limit.
    inject(garbageFrame(0));
    inject(controlFrame(1000, new Uint8Array([0xc1]))); // 0xc1: never used in msgpack
    inject(controlFrame(1001, encode([{ type: 'no_such_message' }])));
    for (let i = 3; i < PEER_STRIKE_LIMIT - 1; i++) inject(garbageFrame(i));
    expect(receiver.isOpen).toBe(true);
    expect(closes).toEqual([]);
    // Honest traffic still flows between strikes.
    inject(controlFrame(1002, encode([{ type: 'ping', n: 2 }])));
    expect(received).toEqual([
      { type: 'ping', n: 1 },
      { type: 'ping', n: 2 },
    ]);
    inject(garbageFrame(99));
    expect(receiver.isOpen).toBe(false);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatch(new RegExp(`node-a sent ${PEER_STRIKE_LIMIT} malformed frames or messages .*unknown lane 9.*cut off`));
    // Nothing more is taken from a cut-off peer.
    inject(controlFrame(2000, encode([{ type: 'ping', n: 3 }])));
    expect(received).toHaveLength(2);
  });

  it('refuses a second message interleaved into a partial one on the same lane', () => {
    const { inject, receiver, received } = connectedPair();
    const big = (msgNo: number) => [...frames(DATA_LANE, msgNo, encode(bulk(msgNo, 2 * MAX_FRAME_BYTES)))];
    const [a0] = big(1);
    const [b0, b1, b2] = big(2);
    inject(a0!);
    inject(b0!); // refused: message 1 has not ended; both are dropped
    inject(b1!);
    inject(b2!);
    expect(received).toEqual([]);
    expect(receiver.isOpen).toBe(true);
  });
});
