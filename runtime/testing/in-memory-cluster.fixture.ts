// For unit tests: a whole cluster in one process — a head (Coordinator, its own Node, the driver
// as the process's Core) and volunteer Nodes, linked by PeerMeshes over a MemoryNetwork, with
// signals relayed in memory (the signaling server's part) and in-process workers. Wired as
// session/head-session.ts and session/volunteer-session.ts wire a tab (those open a socket.io
// connection and WebRTC links of their own, so they are not used here); no heartbeats: a
// volunteer leaves by `leave()` (its tab closes its links, the server says `node_left`) or
// `crash()` (its links drop, nothing else is said).

import { afterEach, beforeEach, vi, type MockInstance } from 'vitest';
import { setCore } from '../api/core.ts';
import { Coordinator } from '../coordinator/coordinator.ts';
import { DriverCore } from '../driver/driver-core.ts';
import { Node } from '../node/node.ts';
import { ObjectStore } from '../node/object-store.ts';
import { IdGenerator, type NodeId, type ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { ResourceSet, SerializedObject } from '../protocol/task-spec.ts';
import { LocalChannel } from '../transport/local-channel.ts';
import { MemoryNetwork } from '../transport/memory-link.ts';
import { PeerMesh } from '../transport/peer-mesh.ts';
import { inProcessWorkers, type InProcessWorker } from './in-process-worker.fixture.ts';

export interface ClusterMember {
  readonly nodeId: NodeId;
  readonly node: Node;
  readonly store: ObjectStore;
  readonly mesh: PeerMesh;
  readonly workers: InProcessWorker[];
}

export interface Volunteer extends ClusterMember {
  /** The volunteer leaves (`node.leave()`): it closes its links and the server tells the head. */
  leave(): void;
  /** The volunteer's tab vanishes: its links drop; the head learns it from its link closing. */
  crash(): void;
}

export interface ClusterOptions {
  /** The head's own node; `{ CPU: 0 }` keeps every task on volunteers. */
  readonly head?: ResourceSet;
  readonly volunteers?: readonly ResourceSet[];
  /** Volunteers' cap on pull-reply bytes in flight per peer (default MAX_PULL_BYTES_PER_PEER). */
  readonly maxPullBytesPerPeer?: number;
}

export class InMemoryCluster {
  readonly network = new MemoryNetwork();
  readonly coordinator: Coordinator;
  readonly driver: DriverCore;
  readonly head: ClusterMember;
  readonly volunteers: Volunteer[] = [];
  private readonly meshes = new Map<NodeId, PeerMesh>();
  /** Members as the signaling server knows them (the head accepts links only from these). */
  private readonly members = new Map<NodeId, ResourceSet>();
  private readonly channels: LocalChannel<unknown>[] = [];
  private nextVolunteer = 1;
  private maxPullBytesPerPeer: number | undefined;
  private stopped = false;

  private constructor(headResources: ResourceSet) {
    const headId = 'node-head' as NodeId;
    const ids = new IdGenerator('head-');
    const store = new ObjectStore();
    store.start();
    const coord = new Coordinator(headId);
    this.coordinator = coord;
    const toCoordinator = new LocalChannel<NodeToCoordinator>((msg) => coord.handleNodeMessage(headId, msg));
    const mesh: PeerMesh = new PeerMesh({
      self: headId,
      rtcConfig: () => ({}),
      createLink: this.network.createLink,
      sendSignal: (to, data) => this.relaySignal(headId, to, data),
      isMember: (remote) => this.members.has(remote),
      lookup: (id) => store.load(id),
      mayPull: (from, id) => node.pullGrants.take(from, id),
      onLinkOpen: (remote) => {
        const resources = this.members.get(remote);
        if (!resources) return;
        const link = { send: (msg: CoordinatorToNode) => mesh.send(remote, { type: 'to_node', msg }), close: (reason: string) => this.nodeGone(remote, reason) };
        coord.addNode(remote, resources, link, { isCoordinator: false, gpuFallback: false });
      },
      onLinkClosed: (remote, reason) => {
        if (this.members.has(remote)) this.nodeGone(remote, `its link closed (${reason})`);
      },
      onMessage: (from: NodeId, msg: PeerMessage) => {
        if (msg.type === 'to_coordinator' && this.members.has(from)) coord.handleNodeMessage(from, msg.msg);
        else if (msg.type === 'ping') mesh.send(from, { type: 'pong', n: msg.n });
      },
    });
    this.meshes.set(headId, mesh);
    const pull = (id: ObjectId, from: readonly NodeId[]): Promise<SerializedObject> => mesh.pull(id, from);
    const workers = inProcessWorkers();
    const node = new Node({ nodeId: headId, resources: headResources, ids, store, createWorker: workers.create, send: (msg) => toCoordinator.send(msg), pull });
    const toNode = new LocalChannel<CoordinatorToNode>((msg) => node.handle(msg));
    this.channels.push(toCoordinator as LocalChannel<unknown>, toNode as LocalChannel<unknown>);
    coord.addNode(headId, headResources, toNode, { isCoordinator: true, gpuFallback: false });
    node.start();
    this.head = { nodeId: headId, node, store, mesh, workers: workers.workers };
    this.driver = new DriverCore({ ids, coordinator: coord, node, nodeId: headId, pull, onShutdown: () => this.shutdown() });
    setCore(this.driver);
  }

  /** A head and its volunteers, every volunteer linked and known to the coordinator. */
  static async start(opts: ClusterOptions = {}): Promise<InMemoryCluster> {
    const cluster = new InMemoryCluster(opts.head ?? { CPU: 1 });
    cluster.maxPullBytesPerPeer = opts.maxPullBytesPerPeer;
    for (const r of opts.volunteers ?? []) await cluster.addVolunteer(r);
    return cluster;
  }

  /** The signaling server's relay: delivered a turn later, only between current members. */
  private relaySignal(from: NodeId, to: NodeId, data: unknown): void {
    queueMicrotask(() => this.meshes.get(to)?.onSignal(from, data));
  }

  private nodeGone(remote: NodeId, reason: string): void {
    this.members.delete(remote);
    this.coordinator.removeNode(remote, reason);
    this.head.node.pullGrants.dropPuller(remote);
    this.head.mesh.close(remote, reason);
    // The server's node_left to the other volunteers (volunteer-session.ts).
    for (const v of this.volunteers) {
      if (v.nodeId === remote) continue;
      v.node.pullGrants.dropPuller(remote);
      v.mesh.close(remote, reason);
    }
  }

  /** A volunteer joins (`ray.join`): it links to the head, which then schedules on it. */
  async addVolunteer(resources: ResourceSet): Promise<Volunteer> {
    const nodeId = `node-v${this.nextVolunteer++}` as NodeId;
    const headId = this.head.nodeId;
    const ids = new IdGenerator(`${nodeId}-`);
    const store = new ObjectStore();
    store.start();
    this.members.set(nodeId, resources);
    // eslint-disable-next-line prefer-const -- the mesh's handlers reach the node made after it
    let node: Node | undefined;
    const mesh: PeerMesh = new PeerMesh({
      self: nodeId,
      rtcConfig: () => ({}),
      createLink: this.network.createLink,
      sendSignal: (to, data) => this.relaySignal(nodeId, to, data),
      isMember: () => true,
      lookup: (id) => store.load(id),
      ...(this.maxPullBytesPerPeer !== undefined ? { maxPullBytesPerPeer: this.maxPullBytesPerPeer } : {}),
      mayPull: (from, id) => from === headId || (node?.pullGrants.take(from, id) ?? false),
      onLinkClosed: (remote, _reason, cutOff) => {
        if (remote === headId) end();
        else if (cutOff) node?.pullGrants.dropPuller(remote);
      },
      onMessage: (from: NodeId, msg: PeerMessage) => {
        if (msg.type === 'to_node' && from === headId) node?.handle(msg.msg);
        else if (msg.type === 'ping') mesh.send(from, { type: 'pong', n: msg.n });
      },
    });
    this.meshes.set(nodeId, mesh);
    const workers = inProcessWorkers();
    node = new Node({
      nodeId,
      coordinatorId: headId,
      resources,
      ids,
      store,
      createWorker: workers.create,
      send: (msg) => mesh.send(headId, { type: 'to_coordinator', msg }),
      pull: (id, from) => mesh.pull(id, from),
    });
    node.start();
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      node.stop();
      mesh.closeAll();
      store.clear();
      this.meshes.delete(nodeId);
    };
    await mesh.link(headId);
    // The head adds the node once its side of the link is open (a turn after this side's).
    await waitFor(() => this.coordinator.nodeInfos().some((n) => n.nodeId === nodeId && n.alive), `${nodeId} to be added by the coordinator`);
    const v: Volunteer = {
      nodeId,
      node,
      store,
      mesh,
      workers: workers.workers,
      leave: () => {
        end();
        if (this.members.has(nodeId)) this.nodeGone(nodeId, 'left the cluster (node_left)');
      },
      crash: () => {
        ended = true;
        this.network.cut(nodeId);
        node.stop();
        this.meshes.delete(nodeId);
      },
    };
    this.volunteers.push(v);
    return v;
  }

  shutdown(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    for (const v of this.volunteers) v.leave();
    this.coordinator.stop();
    this.head.node.stop();
    for (const c of this.channels) c.close();
    this.head.mesh.closeAll();
    this.head.store.clear();
    setCore(undefined);
    return Promise.resolve();
  }
}

/** Resolves once `cond()` holds, checking after each turn of the event loop (no fixed sleeps). */
export async function waitFor(cond: () => boolean, what: string, maxTurns = 10_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what} after ${maxTurns} turns`);
}

/** What a test file gets from `useInMemoryCluster()`. */
export interface ClusterHooks {
  /** Starts a cluster, shut down after the test. */
  start(opts?: ClusterOptions): Promise<InMemoryCluster>;
  /** `console.warn`, silenced for each test; its calls are what the runtime warned. */
  readonly warn: () => MockInstance<typeof console.warn>;
}

/**
 * The hooks every cluster test file needs, registered once: before each test `console.warn` is
 * silenced (the runtime warns of nodes leaving, refusals, …); after it, real timers come back, the
 * cluster the test started is shut down, the `globalThis.__gate` task code waited on is removed
 * and mocks are restored.
 */
export function useInMemoryCluster(): ClusterHooks {
  let cluster: InMemoryCluster | undefined;
  let warn: MockInstance<typeof console.warn> | undefined;
  beforeEach(() => {
    warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(async () => {
    vi.useRealTimers();
    await cluster?.shutdown();
    cluster = undefined;
    delete (globalThis as { __gate?: unknown }).__gate;
    vi.restoreAllMocks();
  });
  return {
    start: async (opts) => (cluster = await InMemoryCluster.start(opts)),
    warn: () => {
      if (!warn) throw new Error('useInMemoryCluster().warn() is for use inside a test');
      return warn;
    },
  };
}
