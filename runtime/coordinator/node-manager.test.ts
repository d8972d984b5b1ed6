import { describe, expect, it } from 'vitest';
import type { NodeId } from '../protocol/ids.ts';
import { NodeManager } from './node-manager.ts';

const link = { send: () => {} };

describe('NodeManager: the cluster resource view', () => {
  it('sums totals and free resources over live nodes only, never showing a negative free amount', () => {
    const nodes = new NodeManager();
    nodes.add('a' as NodeId, { CPU: 2, GPU: 1 }, link, { isCoordinator: true, gpuFallback: false });
    nodes.add('b' as NodeId, { CPU: 4 }, link, { isCoordinator: false, gpuFallback: false, label: 'laptop' });
    nodes.add('c' as NodeId, { CPU: 8 }, link, { isCoordinator: false, gpuFallback: false });
    nodes.lendCpu(nodes.get('a' as NodeId)!, -3); // a blocked task's CPU lent and taken back mid-flight
    nodes.markDead('c' as NodeId);

    expect(nodes.clusterResources()).toEqual({ CPU: 6, GPU: 1 });
    expect(nodes.availableResources()).toEqual({ CPU: 4, GPU: 1 });
    const infos = nodes.infos();
    expect(infos.map((n) => [n.nodeId, n.alive, n.available, n.label])).toEqual([
      ['a', true, { CPU: 0, GPU: 1 }, undefined],
      ['b', true, { CPU: 4 }, 'laptop'],
      ['c', false, {}, undefined],
    ]);
  });

  it('lists objectStoreMemory, the live nodes\' store budgets, once a node has reported one', () => {
    const nodes = new NodeManager();
    nodes.add('a' as NodeId, { CPU: 1 }, link, { isCoordinator: true, gpuFallback: false });
    expect(nodes.clusterResources()).toEqual({ CPU: 1 });

    nodes.setStats('a' as NodeId, { memoryBytes: 10, spilledBytes: 0, objects: 1, budgetBytes: 1000 });

    expect(nodes.clusterResources()).toEqual({ CPU: 1, objectStoreMemory: 1000 });
    expect(nodes.availableResources()).toEqual({ CPU: 1, objectStoreMemory: 1000 });
    expect(nodes.infos()[0]!.objectStore).toEqual({ memoryBytes: 10, spilledBytes: 0, objects: 1, budgetBytes: 1000 });
  });
});
