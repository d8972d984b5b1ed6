// A volunteer tab: joins a cluster as a node (Ray's worker node): its Node runs what the
// coordinator assigns, over a WebRTC control link; objects move to and from other tabs by pulls.

import { createLogger } from '../common/logger.ts';
import { Node } from '../node/node.ts';
import type { ObjectStore } from '../node/object-store.ts';
import type { WorkerFactory } from '../node/worker-endpoint.ts';
import { IdGenerator, type NodeId } from '../protocol/ids.ts';
import type { NodeToCoordinator } from '../protocol/node-messages.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import type { ResourceSet } from '../protocol/task-spec.ts';
import { PeerMesh } from '../transport/peer-mesh.ts';
import { SignalingClient } from '../transport/signaling-client.ts';
import type { ClusterOptions } from './head-session.ts';

export type NodeState = 'joined' | 'left' | 'closed';

/** What `ray.join` returns: this tab's membership. */
export interface NodeHandle {
  readonly nodeId: NodeId;
  readonly coordinatorId: NodeId;
  readonly resources: ResourceSet;
  /** 'joined' until it leaves or the cluster closes. */
  readonly state: NodeState;
  /** Leaves at once; the coordinator retries this node's tasks elsewhere. */
  leave(): Promise<void>;
  /** Called once when membership ends: by `leave()`, or because the cluster or server went away. */
  onClose(cb: (reason: string) => void): void;
  /** Figures for the volunteer page. */
  stats(): {
    tasksRun: number;
    running: number;
    /** Names of the tasks and actor calls on this node's workers now. */
    runningNames: string[];
    queued: number;
    bytesSent: number;
    bytesReceived: number;
    objects: number;
    memoryBytes: number;
  };
}

export interface VolunteerOptions {
  readonly resources: ResourceSet;
  readonly gpuFallback: boolean;
  readonly createWorker: WorkerFactory;
  /** Makes this node's object store (memory budget, spill store) once the node id is known. */
  readonly createObjectStore: (nodeId: NodeId) => ObjectStore;
  readonly cluster: ClusterOptions;
  readonly label?: string;
}

export async function startVolunteer(opts: VolunteerOptions): Promise<NodeHandle> {
  const log = createLogger('webray:volunteer');
  const ids = new IdGenerator();
  // Assigned below, after the signaling handlers that read them are created.
  // eslint-disable-next-line prefer-const
  let mesh: PeerMesh | undefined;
  // eslint-disable-next-line prefer-const
  let node: Node | undefined;
  let state: NodeState = 'joined';
  const closeCallbacks: ((reason: string) => void)[] = [];
  let end: (reason: string, next: NodeState) => void = () => {};

  const c = opts.cluster;
  const { client, reply } = await SignalingClient.connect(
    c.address,
    { role: 'node', cluster: c.cluster, token: c.token, resources: { ...opts.resources }, gpuFallback: opts.gpuFallback, ...(opts.label ? { label: opts.label } : {}) },
    {
      onSignal: (from, data) => mesh?.onSignal(from, data),
      onNodeJoined: () => {},
      onNodeLeft: (id, reason) => {
        // Grants kept for it go: a member that rejoins (or takes its id) cannot use them.
        node?.pullGrants.dropPuller(id);
        mesh?.close(id, reason);
      },
      onClusterClosed: (reason) => end(`the coordinator ended the cluster (${reason})`, 'closed'),
      onDisconnect: (reason) => end(`lost the connection to the server (${reason})`, 'closed'),
      // Meanwhile the link to the coordinator carries on: only new links wait for the server.
      onReconnecting: (reason) => log.warn(`lost the connection to the server (${reason}); tasks go on, reconnecting`),
      onResumed: () => log('back in touch with the server'),
    },
  );
  const nodeId = reply.nodeId;
  const coordinatorId = reply.coordinatorId;
  const store = opts.createObjectStore(nodeId);
  store.start();
  const toCoordinator = (msg: NodeToCoordinator): void => mesh?.send(coordinatorId, { type: 'to_coordinator', msg });
  mesh = new PeerMesh({
    self: nodeId,
    rtcConfig: c.rtcConfig,
    sendSignal: (to, data) => client.signal(to, data),
    // Links come from the coordinator and from other volunteers pulling objects.
    isMember: () => true,
    lookup: (id) => store.load(id),
    // The coordinator's node pulls anything; another volunteer only what the coordinator sent it here for.
    mayPull: (from, id) => from === coordinatorId || (node?.pullGrants.take(from, id) ?? false),
    onLinkClosed: (remote, reason, cutOff) => {
      if (remote === coordinatorId) end(`the link to the coordinator closed (${reason})`, 'closed');
      else if (cutOff) node?.pullGrants.dropPuller(remote);
    },
    onMessage: (from: NodeId, msg: PeerMessage) => {
      if (msg.type === 'to_node' && from === coordinatorId) node?.handle(msg.msg);
      else if (msg.type === 'ping') mesh?.send(from, { type: 'pong', n: msg.n });
      else log.warn(`unexpected ${msg.type} from ${from}`);
    },
  });
  node = new Node({
    nodeId,
    coordinatorId,
    resources: opts.resources,
    ids,
    store,
    createWorker: opts.createWorker,
    send: toCoordinator,
    pull: (id, from) => mesh.pull(id, from),
  });
  node.start();
  const onPageHide = (): void => end('the page was closed', 'left');
  end = (reason, next) => {
    if (state !== 'joined') return;
    state = next;
    globalThis.removeEventListener?.('pagehide', onPageHide);
    node?.stop();
    mesh?.closeAll();
    client.close();
    store.clear();
    log(`membership ended: ${reason}`);
    for (const cb of closeCallbacks) {
      try {
        cb(reason);
      } catch (e) {
        log.warn(`an onClose callback threw: ${(e as Error).message}`);
      }
    }
  };
  globalThis.addEventListener?.('pagehide', onPageHide);
  try {
    await mesh.link(coordinatorId);
  } catch (e) {
    end(`could not link to the coordinator: ${(e as Error).message}`, 'closed');
    throw new Error(`joined cluster ${c.cluster} but could not open a WebRTC link to its coordinator: ${(e as Error).message}`, { cause: e });
  }
  const countingNode = node;
  return {
    nodeId,
    coordinatorId,
    resources: opts.resources,
    get state() {
      return state;
    },
    leave: async () => end('left by node.leave()', 'left'),
    onClose: (cb) => {
      if (state !== 'joined') cb('already closed');
      else closeCallbacks.push(cb);
    },
    stats: () => {
      const s = countingNode.stats();
      const t = mesh.traffic();
      const st = store.stats();
      return { tasksRun: s.finished, running: s.running, runningNames: s.runningNames, queued: s.queued, bytesSent: t.sent, bytesReceived: t.received, objects: st.objects, memoryBytes: st.memoryBytes };
    },
  };
}
