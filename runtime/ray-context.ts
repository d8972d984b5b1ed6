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
import { createIsolatedWorkerFactory, fetchRunnerUrl } from './node/isolated-workers.ts';
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
  readonly iceServers?: RTCIceServer[];
  /** Shown to the coordinator (e.g. "Ana's laptop"). */
  readonly label?: string;
  /**
   * Where shipped task code runs. 'origin' (default): in workers on the server's separate task
   * origin, unable to reach this page's storage or cookies (docs/isolation.md).
   * 'none': in this page's own workers — only for clusters whose code you trust.
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
}

let session: { shutdown: () => Promise<void> } | undefined;
let volunteer: NodeHandle | undefined;
let starting = false;

const directWorkers: WorkerFactory = () => browserWorkerEndpoint(new WebrayWorker({ name: 'webray-worker' }));

function clusterOptions(
  o: { address?: string; cluster?: string; token?: string; iceServers?: unknown[]; coordinatorSecret?: string },
  what: string,
): ClusterOptions {
  if (!o.cluster) {
    throw new TypeError(`${what} with an address needs a cluster name too: ${what}({ address, cluster: 'lab', token: '…' })`);
  }
  return {
    address: o.address!,
    cluster: o.cluster,
    token: o.token ?? '',
    iceServers: (o.iceServers ?? []) as RTCIceServer[],
    ...(o.coordinatorSecret === undefined ? {} : { coordinatorSecret: o.coordinatorSecret }),
  };
}

/** Workers on the server's task origin, so code shipped to this volunteer cannot act as this page. */
async function isolatedWorkers(address: string): Promise<{ factory: WorkerFactory; close(): void }> {
  try {
    return await createIsolatedWorkerFactory(await fetchRunnerUrl(address));
  } catch (e) {
    throw new Error(
      `ray.join: could not start the isolated task runner of ${address} (${(e as Error).message}). ` +
        `Open the volunteer page from that server (its /join page), or pass isolation: 'none' to run ` +
        `task code in this page's own workers if you trust the cluster.`,
      { cause: e },
    );
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
function objectStores(memoryBytes: number, { spillQuotaBytes }: ObjectStoreTestSettings): (nodeId: NodeId) => ObjectStore {
  return (nodeId) =>
    new ObjectStore({
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
  const opts = validateInitOptions(options);
  const cluster = opts.address !== undefined ? clusterOptions(opts, 'ray.init') : undefined;
  starting = true;
  try {
    const { resources, gpuFallback, objectStoreMemory } = await probeResources(opts);
    const head = await startHead({
      resources,
      gpuFallback,
      createWorker: directWorkers,
      createObjectStore: objectStores(objectStoreMemory, stores),
      ...(cluster ? { cluster } : {}),
    });
    setVerificationDefaults(opts.verification);
    session = {
      shutdown: async () => {
        session = undefined;
        setVerificationDefaults(undefined);
        await head.shutdown();
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
  if (isolation !== 'origin' && isolation !== 'none') {
    throw new TypeError(`ray.join: isolation must be 'origin' or 'none', got ${String(isolation)}`);
  }
  const opts = validateJoinOptions(rest, 'ray.join');
  if (opts.address === undefined) throw new TypeError("ray.join needs the server's address: ray.join({ address, cluster, token })");
  const cluster = clusterOptions(opts, 'ray.join');
  starting = true;
  try {
    const { resources, gpuFallback, objectStoreMemory } = await probeResources(opts);
    const isolated = isolation === 'origin' ? await isolatedWorkers(cluster.address) : undefined;
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
