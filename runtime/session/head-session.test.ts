import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { currentCore } from '../api/core.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { MemberInfo } from '../protocol/signaling.ts';
import { ObjectStore } from '../node/object-store.ts';
import type { PeerMeshDeps } from '../transport/peer-mesh.ts';
import type { SignalingHandlers } from '../transport/signaling-client.ts';
import { startHead, type HeadSession } from './head-session.ts';

// The head session's heartbeat, wired as in a real cluster but with the signaling server and the
// WebRTC mesh replaced by in-memory fakes: the test plays the volunteer node's side of the link.
// (In e2e a frozen tab is also dropped by the server's socket.io ping after 5 + 5 s, which would
// hide a broken heartbeat; here nothing else can declare the node gone.) README: the coordinator
// pings every 1 s and drops a node silent for 6 s. Figures are written out, not taken from the
// constants, so changing one fails here. The head's rounds fall on whole seconds from its start
// (fake time t0).

const HEAD = 'node-head' as NodeId;
const VOLUNTEER = 'node-vol' as NodeId;

const fakes = vi.hoisted(() => ({
  members: [] as MemberInfo[],
  mesh: undefined as FakeMeshShape | undefined,
}));

interface FakeMeshShape {
  readonly deps: PeerMeshDeps;
  readonly sent: { to: NodeId; msg: PeerMessage; at: number }[];
  readonly closed: { remote: NodeId; reason: string; at: number }[];
  /** Called for each message the head sends (the volunteer's side of the link). */
  onSend: ((to: NodeId, msg: PeerMessage) => void) | undefined;
}

vi.mock('../transport/signaling-client.ts', () => ({
  SignalingClient: {
    connect: (_address: string, _req: unknown, _handlers: SignalingHandlers) => {
      return Promise.resolve({
        client: { signal: () => {}, close: () => {} },
        reply: { ok: true, nodeId: 'node-head', coordinatorId: 'node-head', members: fakes.members },
      });
    },
  },
}));

vi.mock('../transport/peer-mesh.ts', () => ({
  PeerMesh: class implements FakeMeshShape {
    readonly sent: FakeMeshShape['sent'] = [];
    readonly closed: FakeMeshShape['closed'] = [];
    onSend: FakeMeshShape['onSend'];
    constructor(readonly deps: PeerMeshDeps) {
      fakes.mesh = this;
    }
    send(to: NodeId, msg: PeerMessage): void {
      this.sent.push({ to, msg, at: performance.now() });
      this.onSend?.(to, msg);
    }
    close(remote: NodeId, reason: string): void {
      this.closed.push({ remote, reason, at: performance.now() });
    }
    closeAll(): void {}
    onSignal(): void {}
    pull(): Promise<never> {
      return Promise.reject(new Error('no pulls in this test'));
    }
  },
}));

const volunteer: MemberInfo = { nodeId: VOLUNTEER, role: 'node', resources: { CPU: 2 }, gpuFallback: false };
const OTHER = 'node-other' as NodeId;

let session: HeadSession | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  fakes.members = [volunteer, { ...volunteer, nodeId: OTHER }];
  fakes.mesh = undefined;
});

afterEach(async () => {
  await session?.shutdown();
  session = undefined;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A head in cluster mode (its heartbeat rounds start now, one a second) and its fake mesh. */
async function head() {
  session = await startHead({
    resources: { CPU: 1 },
    gpuFallback: false,
    createWorker: () => ({ post: () => {}, listen: () => {}, terminate: () => {} }),
    createObjectStore: () => new ObjectStore(),
    cluster: { address: 'http://signaling.invalid', cluster: 'c', token: 't', rtcConfig: () => ({}) },
  });
  expect(session.nodeId).toBe(HEAD);
  const mesh = fakes.mesh!;
  const pings = (remote: NodeId) => mesh.sent.filter((s) => s.to === remote && s.msg.type === 'ping');
  const alive = (remote: NodeId) => currentCore()!.nodes().find((n) => n.nodeId === remote)?.alive;
  const declaredGone = (remote: NodeId) => mesh.closed.filter((c) => c.remote === remote);
  /** When each pong reached the head. */
  const pongsAt: number[] = [];
  /** Volunteers answer each ping after a round trip, while `answering(remote)` says so. */
  const answer = (answering: (remote: NodeId) => boolean, roundTripMs = 200) => {
    mesh.onSend = (to, msg) => {
      if (msg.type !== 'ping' || !answering(to)) return;
      setTimeout(() => {
        pongsAt.push(performance.now());
        mesh.deps.onMessage(to, { type: 'pong', n: msg.n });
      }, roundTripMs);
    };
  };
  return { mesh, pings, alive, declaredGone, answer, pongsAt, t0: performance.now() };
}

describe('head session heartbeat', () => {
  it('pings a linked volunteer once a second', async () => {
    const { mesh, pings } = await head();
    mesh.deps.onLinkOpen!(VOLUNTEER);
    await vi.advanceTimersByTimeAsync(999);
    expect(pings(VOLUNTEER)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(pings(VOLUNTEER)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(pings(VOLUNTEER).map((p) => p.msg)).toEqual([
      { type: 'ping', n: 1 },
      { type: 'ping', n: 2 },
    ]);
  });

  it('keeps a volunteer that answers its pings, however long', async () => {
    const { mesh, pings, alive, declaredGone, answer } = await head();
    answer(() => true);
    mesh.deps.onLinkOpen!(VOLUNTEER);
    expect(alive(VOLUNTEER)).toBe(true);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(declaredGone(VOLUNTEER)).toEqual([]);
    expect(alive(VOLUNTEER)).toBe(true);
    expect(pings(VOLUNTEER)).toHaveLength(600);
  });

  it('keeps a volunteer whose every pong takes 5 s (a busy tab): only the time since the last pong counts', async () => {
    const { mesh, declaredGone, answer } = await head();
    answer(() => true, 5000);
    mesh.deps.onLinkOpen!(VOLUNTEER);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(declaredGone(VOLUNTEER)).toEqual([]);
  });

  it('declares a volunteer that stops answering gone after more than 6 s of silence, within one more second', async () => {
    const { mesh, pings, alive, declaredGone, answer, pongsAt } = await head();
    let frozen = false;
    answer(() => !frozen);
    mesh.deps.onLinkOpen!(VOLUNTEER);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(alive(VOLUNTEER)).toBe(true);
    frozen = true; // the tab freezes; its answer to the ping just sent is already on its way
    await vi.advanceTimersByTimeAsync(200);
    const last = pongsAt.at(-1)!;
    expect(last).toBe(performance.now()); // that pong just arrived: the silence starts now
    // 6000 ms after its last pong it is still a member of the cluster...
    await vi.advanceTimersByTimeAsync(6000);
    expect(declaredGone(VOLUNTEER)).toEqual([]);
    expect(alive(VOLUNTEER)).toBe(true);
    // ...and it is gone by 7000 ms: the first round after 6 s of silence.
    await vi.advanceTimersByTimeAsync(1000);
    expect(declaredGone(VOLUNTEER)).toHaveLength(1);
    const gone = declaredGone(VOLUNTEER)[0]!;
    expect(gone.reason).toMatch(/missed heartbeats for 6000 ms/);
    expect(gone.at - last).toBe(6800); // rounds fall on whole seconds from the head's start; the pong came 200 ms past one
    expect(alive(VOLUNTEER)).toBe(false);
    // No more pings to it.
    const n = pings(VOLUNTEER).length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pings(VOLUNTEER)).toHaveLength(n);
  });

  // Wherever in a round a volunteer's silence begins (here: its link opens and it never answers),
  // it is declared gone at the first round strictly after 6000 ms of it: never at or before
  // 6000 ms, always by 7000 ms.
  it.each([0, 1, 500, 999])('declares a volunteer silent from %i ms into a round gone after more than 6000 ms and at most 7000 ms', async (phase) => {
    const { mesh, alive, declaredGone, t0 } = await head();
    await vi.advanceTimersByTimeAsync(phase);
    const since = performance.now();
    mesh.deps.onLinkOpen!(VOLUNTEER);
    await vi.advanceTimersByTimeAsync(6000);
    expect(declaredGone(VOLUNTEER)).toEqual([]);
    expect(alive(VOLUNTEER)).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(declaredGone(VOLUNTEER)).toHaveLength(1);
    const silence = declaredGone(VOLUNTEER)[0]!.at - since;
    expect(silence).toBeGreaterThan(6000);
    expect(silence).toBeLessThanOrEqual(7000);
    // Exactly: the round at t0 + 7000 (silence 7000 - phase).
    expect(declaredGone(VOLUNTEER)[0]!.at - t0).toBe(7000);
    expect(alive(VOLUNTEER)).toBe(false);
  });

  it('tolerates exactly 6000 ms between pongs', async () => {
    const { mesh, declaredGone } = await head();
    mesh.deps.onLinkOpen!(VOLUNTEER);
    // Pongs (unasked) every 6000 ms, in step with the rounds: a round sees at most 6000 ms of silence.
    const timer = setInterval(() => mesh.deps.onMessage(VOLUNTEER, { type: 'pong', n: 0 }), 6000);
    await vi.advanceTimersByTimeAsync(60_000);
    clearInterval(timer);
    expect(declaredGone(VOLUNTEER)).toEqual([]);
  });

  it('declares only the silent volunteer gone while another keeps answering', async () => {
    const { mesh, alive, declaredGone, answer } = await head();
    answer((remote) => remote === OTHER);
    mesh.deps.onLinkOpen!(VOLUNTEER);
    mesh.deps.onLinkOpen!(OTHER);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(declaredGone(VOLUNTEER)).toHaveLength(1);
    expect(alive(VOLUNTEER)).toBe(false);
    expect(declaredGone(OTHER)).toEqual([]);
    expect(alive(OTHER)).toBe(true);
  });
});
