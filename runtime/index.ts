// webray's public surface and its composition root: `init` wires the coordinator, this tab's
// node and the driver together; everything else is the API of api/ray-api.ts (see API.md).

import { currentCore, setCore } from './api/core.ts';
import { validateInitOptions, type InitOptions } from './api/options.ts';
import { Coordinator } from './coordinator/coordinator.ts';
import { DriverCore } from './driver/driver-core.ts';
import { Node } from './node/node.ts';
import { ObjectStore } from './node/object-store.ts';
import { probeResources } from './node/resources-probe.ts';
import { browserWorkerEndpoint } from './node/worker-endpoint.ts';
import { IdGenerator, type NodeId } from './protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from './protocol/node-messages.ts';
import type { ResourceSet } from './protocol/task-spec.ts';
import { LocalChannel } from './transport/local-channel.ts';
import WebrayWorker from './worker/entry.ts?worker&inline';
import * as exceptions from './api/errors.ts';

export * from './api/ray-api.ts';
export * from './api/errors.ts';
export { exceptions };
export { ObjectRef } from './api/object-ref.ts';
export { ObjectRefGenerator } from './api/object-ref-generator.ts';
export { RemoteFunction } from './api/remote-function.ts';
export { ActorClass, type ActorHandle, type ActorMethod } from './api/actor.ts';
export type { RuntimeContext } from './api/core.ts';
export type { InitOptions, TaskOptions, ActorOptions, MethodOptions } from './api/options.ts';
export type { NodeInfo, TaskInfo, TaskState, TraceEvent, ResourceSet } from './protocol/task-spec.ts';

export interface InitInfo {
  readonly nodeId: NodeId;
  readonly mode: 'local';
  readonly resources: ResourceSet;
}

let session: { shutdown: () => Promise<void> } | undefined;
let starting = false;

/** Starts webray in this tab. With no `address`: local mode, this tab alone, no server. */
export async function init(options?: InitOptions): Promise<InitInfo> {
  if (session || starting) {
    throw new Error('ray.init() was already called in this tab; call `await ray.shutdown()` first to start again');
  }
  const opts = validateInitOptions(options);
  if (opts.address !== undefined) {
    throw new Error(
      'cluster mode (ray.init({ address })) is not available in this build yet; call ray.init() with no address for local mode',
    );
  }
  starting = true;
  try {
    const { resources, gpuFallback } = await probeResources(opts);
    const ids = new IdGenerator();
    const nodeId = `node-${ids.prefix.slice(0, -1)}` as NodeId;
    const coordinator = new Coordinator(nodeId);
    const store = new ObjectStore();
    const toCoordinator = new LocalChannel<NodeToCoordinator>((msg) => coordinator.handleNodeMessage(nodeId, msg));
    const node = new Node({
      nodeId,
      resources,
      ids,
      store,
      createWorker: () => browserWorkerEndpoint(new WebrayWorker({ name: `webray-worker` })),
      send: (msg) => toCoordinator.send(msg),
    });
    const toNode = new LocalChannel<CoordinatorToNode>((msg) => node.handle(msg));
    coordinator.addNode(nodeId, resources, toNode, { isCoordinator: true, gpuFallback });
    node.start();
    const shutdown = async (): Promise<void> => {
      coordinator.stop();
      node.stop();
      toNode.close();
      toCoordinator.close();
      store.clear();
      setCore(undefined);
      session = undefined;
    };
    const core = new DriverCore({ ids, coordinator, node, nodeId, onShutdown: shutdown });
    setCore(core);
    session = { shutdown };
    return { nodeId, mode: 'local', resources };
  } finally {
    starting = false;
  }
}

/** Makes this tab a volunteer node of a cluster. */
export async function join(): Promise<never> {
  throw new Error('ray.join() (cluster mode) is not available in this build yet; use ray.init() for local mode');
}

/** Stops webray in this tab: pending work fails, workers are terminated. Safe to call twice. */
export async function shutdown(): Promise<void> {
  await session?.shutdown();
}

export function isInitialized(): boolean {
  return session !== undefined && currentCore() !== undefined;
}
