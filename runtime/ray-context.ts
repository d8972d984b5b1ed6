// The tab's ray context, as in Ray's `ray.init()`: whether this tab runs webray (as the head of a
// local or cluster session) or is a volunteer node, and the init/join/shutdown plumbing that wires
// the coordinator, this tab's node and the driver together (runtime/session/). The public calls
// are re-exported by runtime/index.ts; runtime/testing.ts calls `initWith`/`joinWith` to pass its
// object-store test settings, which the public entry has no way to set.

import { currentCore } from './api/core.ts';
import { validateInitOptions, validateJoinOptions, type InitOptions } from './api/options.ts';
import { setVerificationDefaults } from './api/replication.ts';
import { SPILL_DB_PREFIX } from './node/constants.ts';
import { IdbSpillStore, indexedDbAvailable } from './node/idb-spill-store.ts';
import { ObjectStore } from './node/object-store.ts';
import { probeResources } from './node/resources-probe.ts';
import { browserWorkerEndpoint, type WorkerFactory } from './node/worker-endpoint.ts';
import { createIsolatedWorkerFactory } from './node/isolated-workers.ts';
import { AdvertisedIceServers, fetchServerConfig, runnerUrlOf, type ServerConfig } from './node/server-config.ts';
import { rtcConfigFromOptions, type IceServer, type RtcConfig } from './protocol/rtc-config.ts';
import { randomPrefix, type NodeId } from './protocol/ids.ts';
import type { ResourceSet } from './protocol/task-spec.ts';
import { startHead, type ClusterOptions } from './session/head-session.ts';
import { startVolunteer, type NodeHandle } from './session/volunteer-session.ts';
import WebrayWorker from './worker/entry.ts?worker&inline';

export interface InitInfo {
  readonly nodeId: NodeId;
  readonly mode: 'local' | 'cluster';
  readonly resources: ResourceSet;
  /** Cluster mode: the coordinator's own credential (kept in this tab's sessionStorage too); pass
   *  it as `coordinatorSecret` to take the seat back from another tab within the hold period. */
  readonly coordinatorSecret?: string;
}

export interface JoinOptions {
  readonly address: string;
  readonly cluster: string;
  readonly token?: string;
  readonly numCpus?: number;
  readonly numGpus?: number;
  readonly resources?: Readonly<Record<string, number>>;
  readonly objectStoreMemory?: number;
  /** Shorthand for `rtcConfig.iceServers`. */
  readonly iceServers?: readonly IceServer[];
  /**
   * Passed to every peer connection: `iceServers` (STUN, TURN), `iceTransportPolicy` ('relay':
   * only through TURN), `iceCandidatePoolSize`, `bundlePolicy`. Without ICE servers here, the
   * ones the server advertises in its /config.json are used.
   */
  readonly rtcConfig?: RtcConfig;
  /** Shown to the coordinator (e.g. "Ana's laptop"). */
  readonly label?: string;
  /**
   * Where shipped task code runs. 'origin' (default; `init` in local mode: 'none'): in workers on
   * the server's separate task origin, unable to reach this page's storage or cookies
   * (docs/isolation.md). 'none': in this page's own workers — only for code you trust.
   */
  readonly isolation?: 'origin' | 'none';
}

/** Settings of this tab's object stores that only the test entry (runtime/testing.ts) passes. */
export interface ObjectStoreTestSettings {
  /**
   * Makes the spill store behave as if IndexedDB's quota ran out past this many bytes (the real
   * quota is gigabytes, too much for a test to fill).
   */
  readonly spillQuotaBytes?: number | undefined;
  /** Called with each object store this tab's node makes (tests reach its contents). */
  readonly onCreated?: ((store: ObjectStore) => void) | undefined;
}

let session: { shutdown: () => Promise<void> } | undefined;
let volunteer: NodeHandle | undefined;
let starting = false;

const directWorkers: WorkerFactory = () => browserWorkerEndpoint(new WebrayWorker({ name: 'webray-worker' }));

function clusterOptions(
  o: { address?: string; cluster?: string; token?: string; iceServers?: unknown; rtcConfig?: unknown; coordinatorSecret?: string },
  what: string,
): ClusterOptions {
  if (!o.cluster) {
    throw new TypeError(`${what} with an address needs a cluster name too: ${what}({ address, cluster: 'lab', token: '…' })`);
  }
  return {
    address: o.address!,
    cluster: o.cluster,
    token: o.token ?? '',
    rtcConfig: constant(rtcConfigFromOptions(o.rtcConfig, o.iceServers, what) ?? {}),
    ...(o.coordinatorSecret === undefined ? {} : { coordinatorSecret: o.coordinatorSecret }),
  };
}

/**
 * The server's /config.json. Needed (`required`) when task code runs on its task origin: a failure
 * then fails init/join. Otherwise only its ICE servers are wanted, and a server that cannot say
 * leaves the links to host candidates (a warning says so).
 */
async function loadServerConfig(address: string, what: string, required: boolean, advice: string): Promise<ServerConfig | undefined> {
  try {
    return await fetchServerConfig(address);
  } catch (e) {
    if (required) {
      throw new Error(
        `${what}: could not start the isolated task runner of ${address} (${(e as Error).message}). ${advice}, or pass ` +
          `isolation: 'none' to run task code in this page's own workers (only for code you trust: it can read this page's storage).`,
        { cause: e },
      );
    }
    console.warn(`${what}: could not read the ICE servers ${address} advertises (${(e as Error).message}); links use host candidates only unless rtcConfig names ICE servers`);
    return undefined;
  }
}

function constant(c: RtcConfig): () => RtcConfig {
  return () => c;
}

/**
 * The cluster's RTC configuration: the caller's, with the server's ICE servers when the caller
 * named none — kept fresh, since TURN credentials the server minted expire (AdvertisedIceServers).
 */
function withServerIceServers(cluster: ClusterOptions, server: ServerConfig | undefined): ClusterOptions {
  const own = cluster.rtcConfig();
  if (own.iceServers !== undefined || server?.iceServers === undefined) return cluster;
  const advertised = new AdvertisedIceServers(cluster.address, server.iceServers);
  return { ...cluster, rtcConfig: () => ({ ...own, iceServers: advertised.current() }) };
}

/** Where a node runs shipped task code: `init`'s and `join`'s `isolation` option. */
type Isolation = 'origin' | 'none';

/** A node's worker factory, and what to close when the node stops. */
interface NodeWorkers {
  readonly factory: WorkerFactory;
  close(): void;
}

const direct: NodeWorkers = { factory: directWorkers, close() {} };

/** Workers on the task origin the server advertises, so code shipped to this node cannot act as this page. */
async function isolatedWorkers(address: string, server: ServerConfig, what: string, advice: string): Promise<NodeWorkers> {
  try {
    return await createIsolatedWorkerFactory(runnerUrlOf(server));
  } catch (e) {
    throw new Error(
      `${what}: could not start the isolated task runner of ${address} (${(e as Error).message}). ${advice}, or pass ` +
        `isolation: 'none' to run task code in this page's own workers (only for code you trust: it can read this page's storage).`,
      { cause: e },
    );
  }
}

/**
 * The workers of the coordinator tab's own node. Cluster mode: isolated on the task origin of the
 * server it coordinates through, unless `isolation: 'none'` — volunteers' tasks register code that
 * may end up there. Local mode: this page's own workers unless `isolation: 'origin'` asks for the
 * task origin of the server that served the page — every task there is the page's own code (no
 * member can submit or register any), so isolation would only cost speed (about 5× on a sync
 * task round trip, measured: docs/isolation.md).
 */
async function headWorkers(isolation: Isolation | undefined, address: string | undefined, server: ServerConfig | undefined): Promise<NodeWorkers> {
  if (isolation === 'none') return direct;
  if (address !== undefined) return isolatedWorkers(address, server!, 'ray.init', HEAD_ADVICE(address));
  if (isolation !== 'origin') return direct;
  const page = typeof location === 'undefined' || !/^https?:$/.test(location.protocol) ? undefined : location.origin;
  if (page === undefined) throw new Error("ray.init: isolation: 'origin' in local mode needs a page served by a webray server (its task origin); this page has none");
  const advice = `Serve this page from a webray server (npm start)`;
  return isolatedWorkers(page, (await loadServerConfig(page, 'ray.init', true, advice))!, 'ray.init', advice);
}

const HEAD_ADVICE = (address: string): string => `Check that ${address} is a webray server whose task origin (TASK_PORT) is up`;
const JOIN_ADVICE = 'Open the volunteer page from that server (its /join page)';

function checkIsolation(isolation: unknown, what: string): asserts isolation is Isolation {
  if (isolation !== 'origin' && isolation !== 'none') {
    throw new TypeError(`${what}: isolation must be 'origin' or 'none', got ${String(isolation)}`);
  }
}

function assertIdle(what: string): void {
  if (session || starting) {
    throw new Error(`${what}: webray is already running in this tab (ray.init was called); call \`await ray.shutdown()\` first`);
  }
  if (volunteer && volunteer.state === 'joined') {
    throw new Error(`${what}: this tab is already a node of cluster; call \`await node.leave()\` first`);
  }
}

/** Each node's object store: `objectStoreMemory` in memory, the rest spilled to its own IndexedDB database. */
function objectStores(memoryBytes: number, { spillQuotaBytes, onCreated }: ObjectStoreTestSettings): (nodeId: NodeId) => ObjectStore {
  return (nodeId) => {
    const store = new ObjectStore({
      memoryBytes,
      nodeId,
      ...(indexedDbAvailable()
        ? {
            spill: new IdbSpillStore({
              name: `${SPILL_DB_PREFIX}${nodeId}-${randomPrefix().slice(0, -1)}`,
              ...(spillQuotaBytes !== undefined ? { quotaBytes: spillQuotaBytes } : {}),
            }),
          }
        : {}),
    });
    onCreated?.(store);
    return store;
  };
}

/**
 * Starts webray in this tab. With no `address`: local mode, this tab alone, no server. With an
 * `address`, `cluster` and `token`: this tab becomes the cluster's coordinator and driver.
 */
export function init(options?: InitOptions): Promise<InitInfo> {
  return initWith(options, {});
}

/** `init`, with object-store settings that only the test entry passes. */
export async function initWith(options: InitOptions | undefined, stores: ObjectStoreTestSettings): Promise<InitInfo> {
  assertIdle('ray.init()');
  if (options && typeof options === 'object') checkIsolation((options as { isolation?: unknown }).isolation ?? 'origin', 'ray.init');
  const opts = validateInitOptions(options);
  let cluster = opts.address !== undefined ? clusterOptions(opts, 'ray.init') : undefined;
  starting = true;
  try {
    const { resources, gpuFallback, objectStoreMemory } = await probeResources(opts);
    const server = cluster ? await loadServerConfig(cluster.address, 'ray.init', opts.isolation !== 'none', HEAD_ADVICE(cluster.address)) : undefined;
    if (cluster) cluster = withServerIceServers(cluster, server);
    const workers = await headWorkers(opts.isolation, cluster?.address, server);
    let head: Awaited<ReturnType<typeof startHead>>;
    try {
      head = await startHead({
        resources,
        gpuFallback,
        createWorker: workers.factory,
        createObjectStore: objectStores(objectStoreMemory, stores),
        ...(cluster ? { cluster } : {}),
        verification: opts.verification,
        namespace: opts.namespace,
        maxTaskEvents: opts.maxTaskEvents,
      });
    } catch (e) {
      workers.close();
      throw e;
    }
    setVerificationDefaults(opts.verification);
    session = {
      shutdown: async () => {
        session = undefined;
        setVerificationDefaults(undefined);
        try {
          await head.shutdown();
        } finally {
          workers.close();
        }
      },
    };
    const secret = head.coordinatorSecret;
    return { nodeId: head.nodeId, mode: cluster ? 'cluster' : 'local', resources, ...(secret === undefined ? {} : { coordinatorSecret: secret }) };
  } finally {
    starting = false;
  }
}

/** Makes this tab a volunteer node of a cluster; `node.leave()` leaves. */
export function join(options: JoinOptions): Promise<NodeHandle> {
  return joinWith(options, {});
}

/** `join`, with object-store settings that only the test entry passes. */
export async function joinWith(options: JoinOptions, stores: ObjectStoreTestSettings): Promise<NodeHandle> {
  assertIdle('ray.join()');
  const { label, isolation = 'origin', ...rest } = options ?? ({} as JoinOptions);
  checkIsolation(isolation, 'ray.join');
  const opts = validateJoinOptions(rest, 'ray.join');
  if (opts.address === undefined) throw new TypeError("ray.join needs the server's address: ray.join({ address, cluster, token })");
  let cluster = clusterOptions(opts, 'ray.join');
  starting = true;
  try {
    const { resources, gpuFallback, objectStoreMemory } = await probeResources(opts);
    const server = await loadServerConfig(cluster.address, 'ray.join', isolation === 'origin', JOIN_ADVICE);
    cluster = withServerIceServers(cluster, server);
    const isolated = isolation === 'origin' ? await isolatedWorkers(cluster.address, server!, 'ray.join', JOIN_ADVICE) : undefined;
    try {
      volunteer = await startVolunteer({
        resources,
        gpuFallback,
        createWorker: isolated?.factory ?? directWorkers,
        createObjectStore: objectStores(objectStoreMemory, stores),
        cluster,
        ...(label ? { label } : {}),
      });
    } catch (e) {
      isolated?.close();
      throw e;
    }
    volunteer.onClose(() => isolated?.close());
    return volunteer;
  } finally {
    starting = false;
  }
}

/** Stops webray in this tab: pending work fails, workers are terminated. Safe to call twice. */
export async function shutdown(): Promise<void> {
  await session?.shutdown();
  if (volunteer?.state === 'joined') await volunteer.leave();
}

export function isInitialized(): boolean {
  return session !== undefined && currentCore() !== undefined;
}
