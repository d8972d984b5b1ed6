// The coordinator tab: Ray's head node. Wires the coordinator, this tab's node and the driver;
// in cluster mode also the signaling connection, the links to volunteer nodes, heartbeats and pulls.

import { setCore } from '../api/core.ts';
import { createLogger } from '../common/logger.ts';
import { Coordinator, type VerificationSettings } from '../coordinator/coordinator.ts';
import { DriverCore } from '../driver/driver-core.ts';
import { Node } from '../node/node.ts';
import type { ObjectStore } from '../node/object-store.ts';
import type { WorkerFactory } from '../node/worker-endpoint.ts';
import { IdGenerator, type NodeId, type ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { MemberInfo } from '../protocol/signaling.ts';
import type { ResourceSet, SerializedObject } from '../protocol/task-spec.ts';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS } from '../transport/constants.ts';
import { LocalChannel } from '../transport/local-channel.ts';
import { PeerMesh } from '../transport/peer-mesh.ts';
import type { RtcConfig } from '../protocol/rtc-config.ts';
import { SignalingClient } from '../transport/signaling-client.ts';
import { loadCoordinatorSecret, saveCoordinatorSecret } from './coordinator-seat.ts';

export interface ClusterOptions {
  readonly address: string;
  readonly cluster: string;
  readonly token: string;
  /** Passed to each new peer connection (ICE servers, transport policy); asked per link. */
  readonly rtcConfig: () => RtcConfig;
  /**
   * Coordinators: the secret that reclaims the cluster's name after this coordinator left (a
   * reload); default the one this tab kept in sessionStorage for this address and cluster.
   */
  readonly coordinatorSecret?: string;
}

export interface HeadOptions {
  readonly resources: ResourceSet;
  readonly gpuFallback: boolean;
  readonly createWorker: WorkerFactory;
  /** Makes this node's object store (memory budget, spill store) once the node id is known. */
  readonly createObjectStore: (nodeId: NodeId) => ObjectStore;
  readonly cluster?: ClusterOptions;
  /** `init({ verification: { spotCheck, quarantineAfter } })`: the fraction of tasks on proven volunteers spot-checked, the mismatches that quarantine a node. */
  readonly verification?: VerificationSettings | undefined;
  /** `init({ namespace })`: the job's namespace for actor names. */
  readonly namespace?: string | undefined;
  /** `init({ maxTaskEvents })`: finished tasks kept for `ray.tasks()` and `ray.timeline()`. */
  readonly maxTaskEvents?: number | undefined;
}

export interface HeadSession {
  readonly nodeId: NodeId;
  /** The seat's secret in cluster mode (also kept in this tab's sessionStorage). */
  readonly coordinatorSecret?: string;
  shutdown(): Promise<void>;
}

export async function startHead(opts: HeadOptions): Promise<HeadSession> {
  const ids = new IdGenerator();
  let nodeId = `node-${ids.prefix.slice(0, -1)}` as NodeId;
  let signaling: SignalingClient | undefined;
  let mesh: PeerMesh | undefined;
  const members = new Map<NodeId, MemberInfo>();
  const lastPong = new Map<NodeId, number>();
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  // Filled in once the pieces exist; signaling events may arrive as soon as we join.
  // eslint-disable-next-line prefer-const -- assigned below, after the handlers that read it
  let coordinator: Coordinator | undefined;
  const log = createLogger('webray:head');

  const pull = (id: ObjectId, from: readonly NodeId[]): Promise<SerializedObject> => {
    if (!mesh) return Promise.reject(new Error(`object ${id} is on another node, but this tab is not in a cluster`));
    return mesh.pull(id, from);
  };

  const nodeGone = (remote: NodeId, reason: string): void => {
    members.delete(remote);
    lastPong.delete(remote);
    coordinator?.removeNode(remote, reason);
    // Grants this tab's node kept for it go: a member that rejoins cannot use them.
    headNode?.pullGrants.dropPuller(remote);
    mesh?.close(remote, reason);
  };
  let headNode: Node | undefined;

  let coordinatorSecret: string | undefined;
  if (opts.cluster) {
    const c = opts.cluster;
    const secret = c.coordinatorSecret ?? loadCoordinatorSecret(c.address, c.cluster);
    const { client, reply } = await SignalingClient.connect(
      c.address,
      {
        role: 'coordinator',
        cluster: c.cluster,
        token: c.token,
        resources: { ...opts.resources },
        gpuFallback: opts.gpuFallback,
        ...(secret === undefined ? {} : { coordinatorSecret: secret }),
      },
      {
        onSignal: (from, data) => mesh?.onSignal(from, data),
        onNodeJoined: (m) => {
          members.set(m.nodeId, m);
          log(`node ${m.nodeId} joined the cluster; waiting for its link`);
        },
        onNodeLeft: (id, reason) => nodeGone(id, `left the cluster (${reason})`),
        onClusterClosed: (reason) => log.warn(`the server closed the cluster: ${reason}`),
        onDisconnect: (reason) => log.warn(`lost the signaling server (${reason}); nodes already linked keep working`),
        onReconnecting: (reason) => log.warn(`lost the signaling server (${reason}); reconnecting, nodes already linked keep working`),
        onResumed: (now) => {
          // Joins and leaves announced while this tab was away reached no one: catch up.
          const listed = new Set(now.map((m) => m.nodeId));
          for (const m of now) {
            if (m.role !== 'node' || members.has(m.nodeId)) continue;
            members.set(m.nodeId, m);
            log(`node ${m.nodeId} joined the cluster while the signaling server was away; waiting for its link`);
          }
          for (const id of [...members.keys()]) if (!listed.has(id)) nodeGone(id, 'left the cluster while the signaling server was away');
          log('back in touch with the signaling server; nodes can join again');
        },
      },
    );
    signaling = client;
    nodeId = reply.nodeId;
    coordinatorSecret = reply.coordinatorSecret;
    if (coordinatorSecret !== undefined) saveCoordinatorSecret(c.address, c.cluster, coordinatorSecret);
    for (const m of reply.members) if (m.role === 'node') members.set(m.nodeId, m);
  }

  const store = opts.createObjectStore(nodeId);
  store.start();
  coordinator = new Coordinator(nodeId);
  coordinator.setVerification(opts.verification ?? {});
  coordinator.setNamespace(opts.namespace);
  coordinator.setMaxTaskEvents(opts.maxTaskEvents);
  const coord = coordinator;
  const toCoordinator = new LocalChannel<NodeToCoordinator>((msg) => coord.handleNodeMessage(nodeId, msg));
  const node = (headNode = new Node({
    nodeId,
    resources: opts.resources,
    ids,
    store,
    createWorker: opts.createWorker,
    send: (msg) => toCoordinator.send(msg),
    pull,
  }));
  const toNode = new LocalChannel<CoordinatorToNode>((msg) => node.handle(msg));
  coord.addNode(nodeId, opts.resources, toNode, { isCoordinator: true, gpuFallback: opts.gpuFallback });
  node.start();

  if (signaling) {
    const sig = signaling;
    mesh = new PeerMesh({
      self: nodeId,
      rtcConfig: opts.cluster!.rtcConfig,
      sendSignal: (to, data) => sig.signal(to, data),
      isMember: (remote) => members.has(remote),
      lookup: (id) => store.load(id),
      // Volunteers pull from this node only what the coordinator sent them here for.
      mayPull: (from, id) => node.pullGrants.take(from, id),
      onLinkOpen: (remote) => {
        const m = members.get(remote);
        if (!m || m.role !== 'node') return;
        lastPong.set(remote, performance.now());
        const link = { send: (msg: CoordinatorToNode) => mesh!.send(remote, { type: 'to_node', msg }), close: (reason: string) => nodeGone(remote, reason) };
        coord.addNode(remote, m.resources, link, { isCoordinator: false, gpuFallback: m.gpuFallback, ...(m.label ? { label: m.label } : {}) });
      },
      onLinkClosed: (remote, reason) => {
        if (members.has(remote)) nodeGone(remote, `its link closed (${reason})`);
      },
      onMessage: (from: NodeId, msg: PeerMessage) => {
        switch (msg.type) {
          case 'to_coordinator':
            if (members.has(from)) coord.handleNodeMessage(from, msg.msg);
            return;
          case 'pong':
            lastPong.set(from, performance.now());
            return;
          case 'ping':
            mesh!.send(from, { type: 'pong', n: msg.n });
            return;
          default:
            log.warn(`unexpected ${msg.type} from ${from}`);
        }
      },
    });
    let n = 0;
    heartbeat = setInterval(() => {
      const now = performance.now();
      n++;
      for (const [remote, seen] of lastPong) {
        if (now - seen > HEARTBEAT_TIMEOUT_MS) {
          nodeGone(remote, `it missed heartbeats for ${HEARTBEAT_TIMEOUT_MS} ms (frozen or unreachable tab)`);
          continue;
        }
        mesh!.send(remote, { type: 'ping', n });
      }
    }, HEARTBEAT_INTERVAL_MS);
  }

  let stopped = false;
  const shutdown = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (heartbeat !== undefined) clearInterval(heartbeat);
    coord.stop();
    node.stop();
    toNode.close();
    toCoordinator.close();
    mesh?.closeAll();
    signaling?.close();
    store.clear();
    setCore(undefined);
  };
  setCore(new DriverCore({ ids, coordinator: coord, node, nodeId, pull, onShutdown: shutdown }));
  return { nodeId, shutdown, ...(coordinatorSecret === undefined ? {} : { coordinatorSecret }) };
}
