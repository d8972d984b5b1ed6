import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { encode } from './codec.ts';
import { CONNECT_TIMEOUT_MS, PEER_STRIKE_LIMIT, PULL_TIMEOUT_MS } from './constants.ts';
import { CONTROL_LANE, frames } from './framing.ts';
import type { Link } from './link.ts';
import { MemoryNetwork } from './memory-link.ts';
import { PeerMesh } from './peer-mesh.ts';

// PeerMesh over the in-memory network: links open by offer/answer through a relay standing in
// for the signaling server, and every message crosses as encoded frames.

const A = 'node-a' as NodeId;
const B = 'node-b' as NodeId;
const C = 'node-c' as NodeId;

interface Tab {
  readonly mesh: PeerMesh;
  readonly objects: Map<ObjectId, SerializedObject>;
  readonly received: { from: NodeId; msg: PeerMessage }[];
  readonly opened: NodeId[];
  readonly closed: { remote: NodeId; reason: string }[];
}

let network: MemoryNetwork;
let tabs: Map<NodeId, Tab>;

beforeEach(() => {
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  network = new MemoryNetwork();
  tabs = new Map();
});

afterEach(() => {
  for (const t of tabs.values()) t.mesh.closeAll();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function tab(self: NodeId, opts: { members?: readonly NodeId[]; lookup?: (id: ObjectId) => SerializedObject | undefined | Promise<SerializedObject | undefined> } = {}): Tab {
  const objects = new Map<ObjectId, SerializedObject>();
  const t: Tab = {
    objects,
    received: [],
    opened: [],
    closed: [],
    mesh: new PeerMesh({
      self,
      rtcConfig: () => ({}),
      createLink: network.createLink,
      sendSignal: (to, data) => queueMicrotask(() => tabs.get(to)?.mesh.onSignal(self, data)),
      isMember: (remote) => opts.members?.includes(remote) ?? true,
      lookup: opts.lookup ?? ((id) => objects.get(id)),
      onMessage: (from, msg) => t.received.push({ from, msg }),
      onLinkOpen: (remote) => t.opened.push(remote),
      onLinkClosed: (remote, reason) => t.closed.push({ remote, reason }),
    }),
  };
  tabs.set(self, t);
  return t;
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('PeerMesh', () => {
  it('opens a link on demand, both sides see it open, and messages flow both ways', async () => {
    const a = tab(A);
    const b = tab(B);
    const link = await a.mesh.link(B);
    expect(link.isOpen).toBe(true);
    await settle();
    expect(a.opened).toEqual([B]);
    expect(b.opened).toEqual([A]);
    a.mesh.send(B, { type: 'ping', n: 1 });
    a.mesh.send(B, { type: 'ping', n: 2 });
    b.mesh.send(A, { type: 'pong', n: 3 });
    await settle();
    expect(b.received).toEqual([
      { from: A, msg: { type: 'ping', n: 1 } },
      { from: A, msg: { type: 'ping', n: 2 } },
    ]);
    expect(a.received).toEqual([{ from: B, msg: { type: 'pong', n: 3 } }]);
    // The two pings left in one control batch: one frame.
    expect(network.frames).toBe(2);
    expect(a.mesh.traffic().sent).toBe(b.mesh.traffic().received);
    expect(a.mesh.traffic().sent).toBeGreaterThan(0);
  });

  it('reuses the open link', async () => {
    const a = tab(A);
    tab(B);
    const first = await a.mesh.link(B);
    expect(await a.mesh.link(B)).toBe(first);
    expect(a.mesh.existing(B)).toBe(first);
    expect(network.openLinks().toSorted()).toEqual([`${A}→${B}`, `${B}→${A}`]);
  });

  it('pulls an object from the first holder that has it, skipping itself and those that do not', async () => {
    const a = tab(A);
    const b = tab(B);
    const c = tab(C);
    const id = 'obj-1' as ObjectId;
    const bytes = new Uint8Array(600_000).map((_, i) => i & 0xff); // three frames on the bulk lane
    c.objects.set(id, { v: bytes, size: bytes.length });
    const obj = await a.mesh.pull(id, [A, B, C]);
    expect(obj.size).toBe(600_000);
    expect(obj.v).toBeInstanceOf(Uint8Array);
    expect(Buffer.compare(obj.v as Uint8Array, bytes)).toBe(0); // (byte compare: the matcher's diff is slow here)
    expect(network.count('pull')).toBe(2); // B said no, C had it
    expect(network.count('pull_err')).toBe(1);
    expect(network.count('pull_ok')).toBe(1);
    expect(b.received).toEqual([]); // pulls are answered by the mesh, not handed on
  });

  it('shares one pull between concurrent callers of the same object', async () => {
    const a = tab(A);
    const b = tab(B);
    const id = 'obj-2' as ObjectId;
    b.objects.set(id, { v: 'x', size: 1 });
    const [x, y] = await Promise.all([a.mesh.pull(id, [B]), a.mesh.pull(id, [B])]);
    expect(x).toEqual({ v: 'x', size: 1 });
    expect(y).toEqual(x);
    expect(network.count('pull')).toBe(1);
  });

  it('fails a pull when no holder has the object, with the last holder error', async () => {
    const a = tab(A);
    tab(B);
    await expect(a.mesh.pull('missing' as ObjectId, [B])).rejects.toThrow(/node-b does not hold object missing/);
    await expect(a.mesh.pull('missing' as ObjectId, [A])).rejects.toThrow(/no node holds object missing/);
  });

  it('carries the holder’s error when its lookup throws', async () => {
    const a = tab(A);
    tab(B, {
      lookup: () => {
        throw new RangeError('spill store unreadable');
      },
    });
    await expect(a.mesh.pull('o' as ObjectId, [B])).rejects.toThrow(/spill store unreadable/);
  });

  it('fails a pull in flight when its link closes, and reports the closed link on both sides', async () => {
    const a = tab(A);
    const b = tab(B, { lookup: () => new Promise(() => {}) }); // never answers
    const pulling = a.mesh.pull('o' as ObjectId, [B]);
    await vi.waitFor(() => expect(network.count('pull')).toBe(1));
    network.cut(B);
    await expect(pulling).rejects.toThrow(/the link to node-b closed during the pull/);
    await settle();
    expect(a.closed).toEqual([{ remote: B, reason: 'the peer connection closed' }]);
    expect(b.closed).toEqual([{ remote: A, reason: 'the peer connection closed' }]);
    expect(a.mesh.existing(B)).toBeUndefined();
  });

  it('gives a pull up after PULL_TIMEOUT_MS', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const a = tab(A);
    tab(B, { lookup: () => new Promise(() => {}) });
    const pulling = a.mesh.pull('o' as ObjectId, [B]);
    pulling.catch(() => {});
    await vi.advanceTimersByTimeAsync(PULL_TIMEOUT_MS - 1);
    let settled = false;
    void pulling.then(
      () => (settled = true),
      () => (settled = true),
    );
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(pulling).rejects.toThrow(`pulling object o from node-b timed out after ${PULL_TIMEOUT_MS} ms`);
  });

  it('ignores signals from tabs that are not members: their link never opens', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const a = tab(A);
    const b = tab(B, { members: [] });
    const linking = a.mesh.link(B);
    linking.catch(() => {});
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS);
    await expect(linking).rejects.toThrow(`could not connect to node-b within ${CONNECT_TIMEOUT_MS} ms`);
    expect(a.closed).toEqual([{ remote: B, reason: 'connect timeout' }]);
    // B refused the offer: no link on its side, and a warning naming the stranger.
    expect(b.mesh.existing(A)).toBeUndefined();
    expect(console.warn).toHaveBeenCalledWith(expect.stringMatching(/ignoring a signal from node-a, which is not a known member/));
  });

  it('replaces an open link when the remote sends a new offer (it restarted its side)', async () => {
    const a = tab(A);
    const b = tab(B);
    const first = await a.mesh.link(B);
    await settle();
    const bSide = b.mesh.existing(A)!;
    // B's tab starts over: its mesh opens a fresh link to A.
    b.mesh.closeAll();
    tabs.delete(B);
    const b2 = tab(B);
    await b2.mesh.link(A);
    expect(first.isOpen).toBe(false);
    expect(bSide.isOpen).toBe(false);
    expect(a.mesh.existing(B)).not.toBe(first);
    expect(a.mesh.existing(B)!.isOpen).toBe(true);
  });

  it('drops a malformed message and keeps the link', async () => {
    const a = tab(A);
    const b = tab(B);
    const link = await a.mesh.link(B);
    // A hostile sender puts its own frame on the wire: a batch holding one bad and one good message.
    const rogue = link as Link & { transmit(frame: Uint8Array): void };
    for (const f of frames(CONTROL_LANE, 999, encode([{ type: 'to_node', msg: { type: 'format_disk' } }, { type: 'ping', n: 5 }]))) rogue.transmit(f);
    await settle();
    expect(b.received).toEqual([{ from: A, msg: { type: 'ping', n: 5 } }]);
    expect(console.warn).toHaveBeenCalledWith(expect.stringMatching(/dropping a malformed message: unknown control message format_disk from node-a \(strike 1 of/));
    expect(link.isOpen).toBe(true);
  });

  it('cuts off a tab that keeps sending malformed messages, and opens no new link to or from it', async () => {
    const a = tab(A);
    const b = tab(B);
    const link = await a.mesh.link(B);
    const rogue = link as Link & { transmit(frame: Uint8Array): void };
    for (let i = 0; i < PEER_STRIKE_LIMIT; i++) {
      for (const f of frames(CONTROL_LANE, 1000 + i, encode([{ type: 'pull', reqId: i, id: '' }]))) rogue.transmit(f);
    }
    await settle();
    expect(b.closed).toEqual([{ remote: A, reason: expect.stringMatching(new RegExp(`node-a sent ${PEER_STRIKE_LIMIT} malformed frames or messages .*cut off`)) }]);
    expect(b.mesh.existing(A)).toBeUndefined();
    // The cut-off tab offers a new link: nothing answers it; and b will not open one to it.
    const retry = a.mesh.link(B);
    await settle();
    expect(b.mesh.existing(A)).toBeUndefined();
    await expect(b.mesh.link(A)).rejects.toThrow(/node-a was cut off for sending malformed messages/);
    a.mesh.closeAll();
    await expect(retry).rejects.toThrow();
  });

  it('refuses new links after closeAll', async () => {
    const a = tab(A);
    tab(B);
    await a.mesh.link(B);
    a.mesh.closeAll();
    expect(a.mesh.existing(B)).toBeUndefined();
    await expect(a.mesh.link(B)).rejects.toThrow('this tab has left the cluster');
    expect(network.openLinks()).toEqual([]);
  });
});
