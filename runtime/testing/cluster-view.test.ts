// Task code reads the cluster (`ray.nodes()`, `clusterResources()`, `availableResources()`)
// synchronously: the coordinator sends a fresh view with the task when its code names one of them,
// so the first call answers (issue 11, item 6). On a volunteer it lists only that node.
import { describe, expect, it } from 'vitest';
import { get, remote } from '../api/ray-api.ts';
import { useInMemoryCluster } from './in-memory-cluster.fixture.ts';

declare const ray: { nodes(): { nodeId: string }[]; clusterResources(): Record<string, number>; availableResources(): Record<string, number> };

const clusters = useInMemoryCluster();

describe('the cluster view in task code', () => {
  it('answers the first call on a volunteer from the view sent with the task: the totals, and its own node only', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 2 }, { CPU: 1 }] });
    const look = remote({ numCpus: 1 }, function look() {
      return { nodes: ray.nodes().map((n) => n.nodeId), total: ray.clusterResources().CPU, free: ray.availableResources().CPU };
    });
    const out = await get(look.remote());
    expect(out.total).toBe(3);
    expect(out.free).toBe(2);
    expect(out.nodes).toHaveLength(1);
    expect(c.volunteers.map((v) => v.nodeId)).toContain(out.nodes[0]);
  });

  it('sends no view with a task whose code does not read it', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const views: unknown[] = [];
    const v = c.volunteers[0]!;
    const handle = v.node.handle.bind(v.node);
    v.node.handle = (msg) => {
      if (msg.type === 'run_task') views.push(msg.view);
      handle(msg);
    };
    expect(await get(remote((x: number) => x + 1).remote(1))).toBe(2);
    expect(await get(remote(function reads() { return ray.clusterResources().CPU; }).remote())).toBe(1);
    expect(views.map((x) => x !== undefined)).toEqual([false, true]);
  });
});
