import { describe, expect, it } from 'vitest';
import { fits } from '../common/resources.ts';
import type { NodeId } from '../protocol/ids.ts';
import type { ResourceSet } from '../protocol/task-spec.ts';
import { cluster, nid, ret, taskSpec } from './coordinator.fixture.ts';
import { NodeIndex, pipelineCap, type Eligible, type IndexedNode } from './node-index.ts';
import { place } from './scheduling-policy.ts';

interface Node extends IndexedNode {
  alive: boolean;
  available: Record<string, number>;
  pipelined: number;
}

function node(name: string, total: ResourceSet, isCoordinator = false): Node {
  return { nodeId: name as NodeId, alive: true, isCoordinator, total, available: { ...total }, pipelined: 0 };
}

const eligibleOf = (n: Node, e: Eligible): boolean => n.alive && (e === 'any' || !n.isCoordinator);

/** What a scan of every node in joining order answers (scheduling-policy.ts and tryPipeline before the index). */
const scan = {
  firstReady: (nodes: Node[], need: ResourceSet, e: Eligible) => nodes.find((n) => eligibleOf(n, e) && fits(need, n.available)),
  anyFeasible: (nodes: Node[], need: ResourceSet, e: Eligible) => nodes.some((n) => eligibleOf(n, e) && fits(need, n.total)),
  leastPipelined: (nodes: Node[], need: ResourceSet, e: Eligible) => {
    let best: Node | undefined;
    for (const n of nodes) {
      if (!eligibleOf(n, e) || !fits(need, n.total) || n.pipelined >= pipelineCap(n)) continue;
      if (!best || n.pipelined < best.pipelined) best = n;
    }
    return best;
  },
};

describe('NodeIndex: the answers of a scan of every node, without the scan', () => {
  it('finds the first node in joining order with the resources free, skipping the coordinator for volunteers-only tasks', () => {
    const ix = new NodeIndex<Node>();
    const [head, a, b] = [node('head', { CPU: 2 }, true), node('a', { CPU: 1, GPU: 1 }), node('b', { CPU: 4 })];
    for (const n of [head, a, b]) ix.add(n);
    expect(ix.firstReady({ CPU: 1 }, 'any')?.nodeId).toBe('head');
    expect(ix.firstReady({ CPU: 1 }, 'volunteers')?.nodeId).toBe('a');
    expect(ix.firstReady({ CPU: 3 }, 'any')?.nodeId).toBe('b');
    expect(ix.firstReady({ GPU: 1 }, 'any')?.nodeId).toBe('a');
    expect(ix.firstReady({ tpu: 1 }, 'any')).toBeUndefined();
    a.available.GPU = 0;
    ix.update(a);
    expect(ix.firstReady({ GPU: 1 }, 'any')).toBeUndefined();
    expect(ix.anyFeasible({ GPU: 1 }, 'any')).toBe(true);
    a.alive = false;
    ix.membershipChanged(a);
    expect(ix.anyFeasible({ GPU: 1 }, 'any')).toBe(false);
    expect(ix.firstReady({}, 'volunteers')?.nodeId).toBe('b');
  });

  it('agrees with the scan over random joins, deaths, takes, gives back, lends and pipelines', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const shapes: ResourceSet[] = [{}, { CPU: 1 }, { CPU: 2 }, { CPU: 0.5 }, { GPU: 1 }, { CPU: 1, GPU: 1 }, { CPU: 1, tpu: 1 }, { CPU: 0 }, { CPU: 9 }];
    const sizes: ResourceSet[] = [{ CPU: 1 }, { CPU: 4 }, { CPU: 2, GPU: 1 }, { CPU: 8, tpu: 2 }, {}];
    const ix = new NodeIndex<Node>();
    const nodes: Node[] = [];
    for (let step = 0; step < 20_000; step++) {
      const op = rand(10);
      if (op === 0 || nodes.length === 0) {
        const n = node(`n${nodes.length}`, sizes[rand(sizes.length)]!, nodes.length === 0);
        nodes.push(n);
        ix.add(n);
        continue;
      }
      const n = nodes[rand(nodes.length)]!;
      const shape = shapes[rand(shapes.length)]!;
      if (op === 1 && rand(4) === 0) {
        n.alive = false;
        ix.membershipChanged(n);
      } else if (op === 2) {
        for (const k in shape) n.available[k] = (n.available[k] ?? 0) - shape[k]!;
        ix.update(n);
      } else if (op === 3) {
        for (const k in shape) n.available[k] = Math.min((n.available[k] ?? 0) + shape[k]!, n.total[k] ?? Infinity);
        ix.update(n);
      } else if (op === 4) {
        n.pipelined = rand(2) === 0 ? rand(pipelineCap(n) + 2) : pipelineCap(n) - rand(2);
        ix.update(n);
      } else {
        const e: Eligible = rand(2) === 0 ? 'any' : 'volunteers';
        const what = `step ${step}: ${JSON.stringify(shape)} ${e}`;
        expect(ix.firstReady(shape, e)?.nodeId, what).toBe(scan.firstReady(nodes, shape, e)?.nodeId);
        expect(ix.anyFeasible(shape, e), what).toBe(scan.anyFeasible(nodes, shape, e));
        expect(ix.leastPipelined(shape, e)?.nodeId, what).toBe(scan.leastPipelined(nodes, shape, e)?.nodeId);
      }
    }
    expect(nodes.length).toBeGreaterThan(1_000);
  });

  it('keeps a node that joins again under its id in its place in the order', () => {
    const ix = new NodeIndex<Node>();
    const first = node('a', { CPU: 1 });
    ix.add(first);
    ix.add(node('b', { CPU: 1 }));
    first.alive = false;
    ix.membershipChanged(first);
    expect(ix.firstReady({ CPU: 1 }, 'any')?.nodeId).toBe('b');
    const again = node('a', { CPU: 1 });
    ix.add(again);
    expect(ix.firstReady({ CPU: 1 }, 'any')).toBe(again);
  });
});

describe('placement through the index answers as the scan does, in the corners', () => {
  it('locality tie: two nodes holding equally many argument bytes -> the first in joining order (as the scan picks)', () => {
    const { c, links, submit } = cluster({ n1: { CPU: 4 }, n2: { CPU: 4 } });
    // Two producers: p2 on n2, p1 on n1 (hard affinity), each returning 1 MB stored on its node.
    const p2 = submit(taskSpec({ strategy: { nodeId: nid('n2'), soft: false } }));
    const p1 = submit(taskSpec({ strategy: { nodeId: nid('n1'), soft: false } }));
    c.handleNodeMessage(nid('n2'), { type: 'task_done', taskId: p2.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(p2), size: 1e6 }] });
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: p1.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(p1), size: 1e6 }] });
    // The consumer's arguments: p2's result first, then p1's. 1 MB on each node: a tie.
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(p2) }, { kind: 'ref', id: ret(p1) }] }));
    // What the scan answers for the same view (ready nodes in joining order; first max wins).
    const scan = place(
      { resources: { CPU: 1 }, strategy: 'DEFAULT', localityBytes: new Map([[nid('n2'), 1e6], [nid('n1'), 1e6]]) },
      [node('n1', { CPU: 4 }), node('n2', { CPU: 4 })],
      { cursor: 0 },
    );
    expect(scan).toEqual({ kind: 'node', nodeId: 'n1' });
    const ranOn = links.n1!.ranIds().includes(consumer.taskId) ? 'n1' : links.n2!.ranIds().includes(consumer.taskId) ? 'n2' : 'none';
    expect(ranOn).toBe('n1');
  });

  it('anyFeasible: shapes whose keys contain ":" or "," do not share a cache entry (shapeKey collision)', () => {
    const ix = new NodeIndex<Node>();
    ix.add(node('a', { a: 1, b: 2 }));
    // { a: 1, b: 2 } and { 'a:1,b': 2 } both have shapeKey "a:1,b:2".
    expect(ix.anyFeasible({ a: 1, b: 2 }, 'any')).toBe(true);
    // No node has a resource called "a:1,b": the scan says infeasible.
    expect(ix.anyFeasible({ 'a:1,b': 2 }, 'any')).toBe(false);
  });

  it('firstReady: a need just above EPS that fits() accepts is found (EPS of the free sets vs fits)', () => {
    const ix = new NodeIndex<Node>();
    const n = node('a', { X: 1 });
    ix.add(n);
    n.available.X = 5e-10; // after takes/gives back of tiny fractions
    ix.update(n);
    const need = { X: 1.2e-9 };
    const scanAnswer = [n].find((m) => m.alive && Object.keys(need).every((k) => need[k as 'X'] <= (m.available[k] ?? 0) + 1e-9));
    expect(scanAnswer?.nodeId).toBe('a');
    expect(ix.firstReady(need, 'any')?.nodeId).toBe('a');
  });
});
