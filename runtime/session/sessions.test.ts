import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { get, remote } from '../api/ray-api.ts';
import { ObjectStore } from '../node/object-store.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { JoinRequest, MemberInfo } from '../protocol/signaling.ts';
import { inProcessWorkers } from '../testing/in-process-worker.fixture.ts';
import { waitFor } from '../testing/in-memory-cluster.fixture.ts';
import type { LinkOptions } from '../transport/link.ts';
import type { MemoryNetwork } from '../transport/memory-link.ts';
import type { SignalingHandlers } from '../transport/signaling-client.ts';
import { startHead, type HeadSession } from './head-session.ts';
import { startVolunteer, type NodeHandle } from './volunteer-session.ts';

// The real head and volunteer sessions in one process: the signaling server is an in-memory hub
// (join, relayed signals, node_left, cluster_closed) and every WebRTC link is a MemoryLink, so
// the sessions' own wiring — links, control messages, departures — runs as in a cluster of tabs.

const net = vi.hoisted(() => ({
  hub: undefined as undefined | { members: Map<string, { info: MemberInfo; handlers: SignalingHandlers }>; next: number; coordinatorId: string | undefined },
  network: undefined as undefined | MemoryNetwork,
}));

vi.mock('../transport/peer-link.ts', () => ({
  // The mesh makes its links with `new PeerLink(opts)`: hand it a memory link instead.
  PeerLink: function PeerLink(opts: LinkOptions) {
    return net.network!.createLink(opts);
  },
}));

vi.mock('../transport/signaling-client.ts', () => ({
  SignalingClient: {
    connect: (_address: string, req: JoinRequest, handlers: SignalingHandlers) => {
      const hub = net.hub!;
      const nodeId = (req.role === 'coordinator' ? 'node-head' : `node-v${hub.next++}`) as NodeId;
      if (req.role === 'coordinator') hub.coordinatorId = nodeId;
      const info: MemberInfo = { nodeId, role: req.role, resources: req.resources, gpuFallback: req.gpuFallback, ...(req.label ? { label: req.label } : {}) };
      const others = [...hub.members.values()];
      hub.members.set(nodeId, { info, handlers });
      for (const o of others) queueMicrotask(() => o.handlers.onNodeJoined(info));
      let closed = false;
      const client = {
        signal: (to: NodeId, data: unknown) => queueMicrotask(() => hub.members.get(to)?.handlers.onSignal(nodeId, data)),
        close: () => {
          if (closed) return;
          closed = true;
          hub.members.delete(nodeId);
          for (const o of hub.members.values()) {
            if (nodeId === hub.coordinatorId) queueMicrotask(() => o.handlers.onClusterClosed('the coordinator left'));
            else queueMicrotask(() => o.handlers.onNodeLeft(nodeId, 'left'));
          }
        },
      };
      return Promise.resolve({ client, reply: { ok: true, nodeId, coordinatorId: hub.coordinatorId ?? nodeId, members: others.map((o) => o.info) } });
    },
  },
}));

const cluster = { address: 'http://signaling.invalid', cluster: 'c', token: 't', rtcConfig: () => ({}) };
let head: HeadSession | undefined;
let volunteers: NodeHandle[] = [];

beforeEach(async () => {
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  const { MemoryNetwork } = await import('../transport/memory-link.ts');
  net.network = new MemoryNetwork();
  net.hub = { members: new Map(), next: 1, coordinatorId: undefined };
});

afterEach(async () => {
  for (const v of volunteers) await v.leave();
  volunteers = [];
  await head?.shutdown();
  head = undefined;
  delete (globalThis as { __gate?: unknown }).__gate;
  vi.restoreAllMocks();
});

async function startCluster(n: number) {
  head = await startHead({ resources: { CPU: 0 }, gpuFallback: false, createWorker: inProcessWorkers().create, createObjectStore: () => new ObjectStore(), cluster });
  for (let i = 0; i < n; i++) {
    volunteers.push(await startVolunteer({ resources: { CPU: 1 }, gpuFallback: false, createWorker: inProcessWorkers().create, createObjectStore: () => new ObjectStore(), cluster, label: `v${i + 1}` }));
  }
  const { currentCore } = await import('../api/core.ts');
  const core = currentCore()!;
  await waitFor(() => core.nodes().filter((x) => x.alive).length === n + 1, 'every volunteer to be linked');
  return { core };
}

describe('head and volunteer sessions in one process', () => {
  it('a volunteer joins through the server, links to the head and runs its tasks', async () => {
    const { core } = await startCluster(1);
    const v = volunteers[0]!;
    expect(v.coordinatorId).toBe('node-head');
    expect(v.state).toBe('joined');
    expect(core.nodes().map((x) => [x.nodeId, x.label])).toEqual([
      ['node-head', undefined],
      ['node-v1', 'v1'],
    ]);
    const sq = remote((x: number) => x * x);
    expect(await get(sq.remote(7))).toBe(49);
    const s = v.stats();
    expect(s.tasksRun).toBe(1);
    expect(s.bytesSent).toBeGreaterThan(0);
    expect(s.bytesReceived).toBeGreaterThan(0);
  });

  it('a volunteer that leaves: the server says node_left, its running task is retried on another volunteer', async () => {
    await startCluster(2);
    let open = (): void => {};
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>((r) => (open = r));
    const slow = remote({ maxRetries: 1 }, async () => {
      await (globalThis as unknown as { __gate: Promise<void> }).__gate;
      return 'done';
    });
    const ref = slow.remote();
    await waitFor(() => volunteers.some((v) => v.stats().running === 1), 'the task to start');
    const first = volunteers.find((v) => v.stats().running === 1)!;
    const other = volunteers.find((v) => v !== first)!;
    const reasons: string[] = [];
    first.onClose((r) => reasons.push(r));
    await first.leave();
    expect(first.state).toBe('left');
    expect(reasons).toEqual(['left by node.leave()']);
    await waitFor(() => other.stats().running === 1, 'the retry to start');
    open();
    expect(await get(ref)).toBe('done');
    expect(other.stats().tasksRun).toBe(1);
  });

  it('volunteers are told when the coordinator ends the cluster', async () => {
    await startCluster(1);
    const v = volunteers[0]!;
    const reasons: string[] = [];
    v.onClose((r) => reasons.push(r));
    await head!.shutdown();
    await waitFor(() => v.state !== 'joined', 'the volunteer to notice');
    expect(v.state).toBe('closed');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/the coordinator ended the cluster|the link to the coordinator closed/);
  });
});
