// The test entry, built to dist/webray-testing.js (never part of dist/webray.js): everything the
// public entry exports, plus internals for the browser tests and benchmarks. Not part of the API
// (docs/api.md). The server serves it only when started with WEBRAY_TEST_ENTRY=1 (the Playwright
// config and the benchmark runner do).
//
// It imports the public entry rather than bundling its own runtime: in the page the bundle imports
// /webray.js, so a test that loads this file drives the same `ray` (one module instance) as a page
// that loads /webray.js.

import type { InitOptions } from './api/options.ts';
import { initWith, joinWith, type InitInfo, type JoinOptions, type ObjectStoreTestSettings } from './ray-context.ts';
import type { ObjectStore } from './node/object-store.ts';
import type { NodeHandle } from './session/volunteer-session.ts';
import { currentCore } from './api/core.ts';
import { DriverCore } from './driver/driver-core.ts';
import type { NodeId, ObjectId } from './protocol/ids.ts';
import type { PeerMessage } from './protocol/peer-messages.ts';
import { encode } from './transport/codec.ts';
import { CONTROL_LANE, frames } from './transport/framing.ts';
import { PeerLink } from './transport/peer-link.ts';
import { SignalingClient } from './transport/signaling-client.ts';
import { fetchServerConfig, runnerUrlOf } from './node/server-config.ts';

export * from './index.ts';

/** Workers isolated on the server's task origin (runtime/node/isolated-workers.ts). */
export { createIsolatedWorkerFactory as __createIsolatedWorkerFactory } from './node/isolated-workers.ts';

/** The task runner's URL on the task origin a webray server advertises in `/config.json`. */
export async function __fetchRunnerUrl(address: string): Promise<string> {
  return runnerUrlOf(await fetchServerConfig(address));
}

/** A node's object store and its IndexedDB spill store, for the spill and restore benchmarks (bench/groups/object-store.js). */
export { ObjectStore as __ObjectStore } from './node/object-store.ts';
export { IdbSpillStore as __IdbSpillStore } from './node/idb-spill-store.ts';

/**
 * Test hooks of the object store. `spillQuotaBytes` makes the next init/join (of this entry)
 * give its spill store a quota of that many bytes, as if IndexedDB's quota ran out there (the
 * real quota is gigabytes, too much for a test to fill). `stores` collects the object stores
 * init/join of this entry made, so a test can read or tamper with what a node keeps.
 */
export const __objectStoreTestHooks: { spillQuotaBytes: number | undefined; stores: ObjectStore[] } = { spillQuotaBytes: undefined, stores: [] };

function storeSettings(): ObjectStoreTestSettings {
  return { spillQuotaBytes: __objectStoreTestHooks.spillQuotaBytes, onCreated: (s) => __objectStoreTestHooks.stores.push(s) };
}

/** `ray.init` with the object-store test hooks applied (shadows the public entry's `init`). */
export function init(options?: InitOptions): Promise<InitInfo> {
  return initWith(options, storeSettings());
}

/** `ray.join` with the object-store test hooks applied (shadows the public entry's `join`). */
export function join(options: JoinOptions): Promise<NodeHandle> {
  return joinWith(options, storeSettings());
}

// ---------------------------------------------------------------------------------------------
// The hostile volunteer harness (e2e/hostile-volunteer.spec.ts): a page that joins a real cluster
// through the real signaling server and opens a real WebRTC link (webray's own PeerLink) to the
// coordinator, but never runs a Node: the test speaks the protocol itself, through webray's codec
// and framing (`send`) or as raw frames (`sendFrame`), and sees everything the coordinator sends
// (`received`, decoded and checked; `receivedFrames`, as they came off the channel). It answers
// heartbeats unless told not to, so the coordinator keeps it as a live node.

/** One hostile member's WebRTC link to another tab of the cluster. */
export interface HostileLink {
  readonly remote: NodeId;
  /** Every message that tab sent, decoded and checked by the link's own inbox, in order. */
  readonly received: PeerMessage[];
  /** Every frame that tab sent, copied as it came off the data channel (for replays). */
  readonly receivedFrames: Uint8Array[];
  /** Why the link closed; undefined while it is open. */
  readonly closedReason: string | undefined;
  /** Sends messages as one control-lane batch, through webray's codec and framing, at once. */
  send(...msgs: PeerMessage[]): void;
  /** The frames `send` would put on the wire for `value` (encoded as it is: wrap messages in an array). */
  framesOf(value: unknown, lane?: 0 | 1): Uint8Array[];
  /** Puts one raw frame on the data channel, as it is. */
  sendFrame(frame: Uint8Array): void;
  /** Frames `bytes` as one message on `lane` (default control) and sends it: an already encoded message, or a bomb. */
  sendEncoded(bytes: Uint8Array, lane?: 0 | 1): void;
  close(): void;
}

export interface HostileVolunteer extends HostileLink {
  readonly nodeId: NodeId;
  readonly coordinatorId: NodeId;
  /** Opens a link to another member (e.g. an honest volunteer), which accepts links from any member. */
  linkTo(remote: NodeId): Promise<HostileLink>;
  /** Leaves the cluster: the server tells the others, the links close. */
  leave(): void;
}

export interface HostileJoinOptions {
  readonly address: string;
  readonly cluster: string;
  readonly token: string;
  /** What it claims to offer (the server checks the shape and bounds only). */
  readonly resources: Readonly<Record<string, number>>;
  readonly label?: string;
  /** Answer the coordinator's heartbeats (default true): without, it is dropped after HEARTBEAT_TIMEOUT_MS. */
  readonly answerPings?: boolean;
}

/** Joins a cluster as a member that speaks the protocol directly (see above); resolves once its link to the coordinator is open. */
export async function __joinHostile(opts: HostileJoinOptions): Promise<HostileVolunteer> {
  const links = new Map<NodeId, PeerLink>();
  const { client, reply } = await SignalingClient.connect(
    opts.address,
    { role: 'node', cluster: opts.cluster, token: opts.token, resources: { ...opts.resources }, gpuFallback: false, ...(opts.label ? { label: opts.label } : {}) },
    {
      onSignal: (from, data) => {
        // Another member opening a link to it (open() registers the link before it awaits).
        if (!links.has(from) && (data as { type?: unknown } | null)?.type === 'offer') void open(from, false).catch(() => {});
        links.get(from)?.signal(data);
      },
      onNodeJoined: () => {},
      onNodeLeft: (id, reason) => links.get(id)?.close(`${id} left (${reason})`),
      onClusterClosed: () => {},
      onDisconnect: () => {},
    },
  );
  const self = reply.nodeId;
  const open = async (remote: NodeId, initiator: boolean): Promise<HostileLink> => {
    const received: PeerMessage[] = [];
    const receivedFrames: Uint8Array[] = [];
    let closedReason: string | undefined;
    const link: PeerLink = new PeerLink({
      self,
      remote,
      initiator,
      rtcConfig: {},
      signal: (data) => client.signal(remote, data),
      onMessage: (msg) => {
        received.push(msg);
        if (msg.type === 'ping' && opts.answerPings !== false) link.send({ type: 'pong', n: msg.n });
      },
      onClose: (reason) => {
        closedReason = reason;
        if (links.get(remote) === link) links.delete(remote);
      },
    });
    links.set(remote, link);
    // The link's private parts, reached on purpose: the raw channel and every frame off it.
    link['peer'].on('data', (chunk: Uint8Array) => receivedFrames.push(chunk.slice()));
    await link.ready();
    let msgNo = 0x4000_0000; // apart from the link's own numbering
    const framesOf = (value: unknown, lane: 0 | 1 = CONTROL_LANE): Uint8Array[] => [...frames(lane, msgNo++, encode(value))];
    const sendFrame = (frame: Uint8Array): void => {
      const ch = link['channel'];
      if (ch?.readyState === 'open') ch.send(frame as Uint8Array<ArrayBuffer>);
    };
    return {
      remote,
      received,
      receivedFrames,
      get closedReason() {
        return closedReason;
      },
      send: (...msgs) => {
        for (const f of framesOf(msgs)) sendFrame(f);
      },
      framesOf,
      sendFrame,
      sendEncoded: (bytes, lane = CONTROL_LANE) => {
        for (const f of frames(lane, msgNo++, bytes)) sendFrame(f);
      },
      close: () => link.close('closed by the test'),
    };
  };
  let toCoordinator: HostileLink;
  try {
    toCoordinator = await open(reply.coordinatorId, true);
  } catch (e) {
    client.close();
    throw e;
  }
  return {
    ...toCoordinator,
    get closedReason() {
      return toCoordinator.closedReason;
    },
    nodeId: self,
    coordinatorId: reply.coordinatorId,
    linkTo: (remote) => open(remote, true),
    leave: () => {
      for (const l of [...links.values()]) l.close('the hostile volunteer left');
      client.close();
    },
  };
}

/** What the coordinator of this tab (after `ray.init` with a cluster) knows, for assertions. */
export interface CoordinatorProbe {
  /** Refused messages counted against a volunteer node (capabilities.ts). */
  strikesOf(nodeId: string): number;
  /** An object's inline value (as it would be read) and the nodes listed as holding it; undefined while not ready. */
  locate(id: string): { inline: boolean; nodes: string[] } | undefined;
}

/** The coordinator of this tab's driver (ray.init must have run here). */
export function __coordinatorProbe(): CoordinatorProbe {
  const core = currentCore();
  if (!(core instanceof DriverCore)) throw new Error('__coordinatorProbe: this tab is not a driver; call ray.init() in it first');
  const coordinator = core['d'].coordinator;
  return {
    strikesOf: (id) => coordinator.strikesOf(id as NodeId),
    locate: (id) => {
      const at = coordinator.locate(id as ObjectId);
      return at && { inline: at.obj !== undefined, nodes: [...at.nodes] };
    },
  };
}
