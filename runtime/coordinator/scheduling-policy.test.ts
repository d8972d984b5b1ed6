import { describe, expect, it } from 'vitest';
import type { NodeId } from '../protocol/ids.ts';
import type { ResourceSet, SchedulingStrategy } from '../protocol/task-spec.ts';
import { place, type NodeView, type PlacementRequest, type SpreadState } from './scheduling-policy.ts';

const id = (s: string): NodeId => s as NodeId;

function node(name: string, total: ResourceSet, available: ResourceSet = total, alive = true): NodeView {
  return { nodeId: id(name), alive, total, available };
}

function req(resources: ResourceSet, strategy: SchedulingStrategy = 'DEFAULT', locality?: Record<string, number>): PlacementRequest {
  return {
    resources,
    strategy,
    ...(locality ? { localityBytes: new Map(Object.entries(locality).map(([k, v]) => [id(k), v])) } : {}),
  };
}

const spread = (): SpreadState => ({ cursor: 0 });

describe('place: feasibility', () => {
  it('is infeasible when no node has a GPU, and the reason names the GPU', () => {
    const p = place(req({ CPU: 1, GPU: 1 }), [node('a', { CPU: 8 }), node('b', { CPU: 4 })], spread());
    expect(p.kind).toBe('infeasible');
    if (p.kind !== 'infeasible') return;
    expect(p.reason).toContain('GPU: 1');
    expect(p.reason).not.toContain('CPU: 1 (');
  });

  it('is infeasible when a task needs more CPUs than the largest node has, naming that size', () => {
    const p = place(req({ CPU: 16 }), [node('a', { CPU: 8 }), node('b', { CPU: 4 })], spread());
    expect(p).toMatchObject({ kind: 'infeasible' });
    if (p.kind === 'infeasible') expect(p.reason).toContain('CPU: 16 (largest node has 8)');
  });

  it('is infeasible for a custom resource no node offers, naming it', () => {
    const p = place(req({ CPU: 1, tpu: 2 }), [node('a', { CPU: 8, tpu: 1 })], spread());
    expect(p.kind).toBe('infeasible');
    if (p.kind === 'infeasible') expect(p.reason).toContain('tpu: 2 (largest node has 1)');
  });

  it('ignores dead nodes when judging feasibility', () => {
    const p = place(req({ GPU: 1 }), [node('a', { CPU: 2 }), node('gpu', { CPU: 2, GPU: 1 }, undefined, false)], spread());
    expect(p.kind).toBe('infeasible');
  });

  it('says no node is alive when the cluster is empty', () => {
    const p = place(req({ CPU: 1 }), [node('a', { CPU: 2 }, undefined, false)], spread());
    expect(p.kind).toBe('infeasible');
    if (p.kind === 'infeasible') expect(p.reason).toContain('no node is alive');
  });

  it('places a custom-resource task only on the node that offers it', () => {
    const p = place(req({ CPU: 1, camera: 1 }), [node('a', { CPU: 8 }), node('b', { CPU: 1, camera: 1 })], spread());
    expect(p).toEqual({ kind: 'node', nodeId: 'b' });
  });

  it('waits when some node could run it but none has room now, listing only feasible nodes', () => {
    const nodes = [node('small', { CPU: 1 }, { CPU: 1 }), node('big1', { CPU: 4 }, { CPU: 1 }), node('big2', { CPU: 4 }, { CPU: 0 })];
    expect(place(req({ CPU: 2 }), nodes, spread())).toEqual({ kind: 'wait', feasible: ['big1', 'big2'] });
  });
});

describe('place: DEFAULT', () => {
  it('packs onto the first node with room', () => {
    const nodes = [node('a', { CPU: 2 }), node('b', { CPU: 2 })];
    expect(place(req({ CPU: 1 }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'a' });
    expect(place(req({ CPU: 1 }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'a' });
  });

  it('moves to the next node once the first is busy', () => {
    const nodes = [node('a', { CPU: 2 }, { CPU: 0.5 }), node('b', { CPU: 2 })];
    expect(place(req({ CPU: 1 }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'b' });
  });

  it('skips dead nodes even when they have room', () => {
    const nodes = [node('a', { CPU: 2 }, undefined, false), node('b', { CPU: 2 })];
    expect(place(req({ CPU: 1 }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'b' });
  });

  it('places a zero-resource task on the first live node', () => {
    expect(place(req({}), [node('a', { CPU: 0 }, { CPU: 0 })], spread())).toEqual({ kind: 'node', nodeId: 'a' });
  });
});

describe('place: SPREAD', () => {
  it('rotates consecutive tasks across the feasible nodes', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 }), node('c', { CPU: 4 })];
    const st = spread();
    const got = [1, 2, 3, 4].map(() => {
      const p = place(req({ CPU: 1 }, 'SPREAD'), nodes, st);
      return p.kind === 'node' ? p.nodeId : p.kind;
    });
    expect(got).toEqual(['a', 'b', 'c', 'a']);
  });

  it('skips a busy node in the rotation and carries on after the one it chose', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 }, { CPU: 0 }), node('c', { CPU: 4 })];
    const st: SpreadState = { cursor: 1 };
    expect(place(req({ CPU: 1 }, 'SPREAD'), nodes, st)).toEqual({ kind: 'node', nodeId: 'c' });
    expect(place(req({ CPU: 1 }, 'SPREAD'), nodes, st)).toEqual({ kind: 'node', nodeId: 'a' });
  });

  it('does not rotate onto nodes that cannot run the task', () => {
    const nodes = [node('a', { CPU: 4, GPU: 1 }), node('cpu', { CPU: 4 }), node('b', { CPU: 4, GPU: 1 })];
    const st = spread();
    const got = [1, 2, 3].map(() => {
      const p = place(req({ GPU: 1 }, 'SPREAD'), nodes, st);
      return p.kind === 'node' ? p.nodeId : p.kind;
    });
    expect(got).toEqual(['a', 'b', 'a']);
  });

  it('ignores locality', () => {
    const nodes = [node('a', { CPU: 4 }), node('b', { CPU: 4 })];
    expect(place(req({ CPU: 1 }, 'SPREAD', { b: 1e6 }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'a' });
  });
});

describe('place: node affinity', () => {
  const nodes = [node('a', { CPU: 2 }), node('b', { CPU: 2 }), node('dead', { CPU: 2 }, undefined, false)];

  it('pins to the named node when it has room, even if another comes first', () => {
    expect(place(req({ CPU: 1 }, { nodeId: id('b'), soft: false }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'b' });
    expect(place(req({ CPU: 1 }, { nodeId: id('b'), soft: true }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'b' });
  });

  it('makes a hard affinity to a dead node unschedulable, saying it is dead', () => {
    const p = place(req({ CPU: 1 }, { nodeId: id('dead'), soft: false }), nodes, spread());
    expect(p.kind).toBe('unschedulable');
    if (p.kind === 'unschedulable') expect(p.reason).toContain('dead');
  });

  it('makes a hard affinity to a node not in the cluster unschedulable', () => {
    const p = place(req({ CPU: 1 }, { nodeId: id('ghost'), soft: false }), nodes, spread());
    expect(p.kind).toBe('unschedulable');
    if (p.kind === 'unschedulable') expect(p.reason).toContain('not in the cluster');
  });

  it('falls back to other nodes for a soft affinity to a dead or missing node', () => {
    expect(place(req({ CPU: 1 }, { nodeId: id('dead'), soft: true }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'a' });
    expect(place(req({ CPU: 1 }, { nodeId: id('ghost'), soft: true }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'a' });
  });

  it('waits for a busy target under a hard affinity instead of using another node', () => {
    const busy = [node('a', { CPU: 2 }), node('b', { CPU: 2 }, { CPU: 0 })];
    expect(place(req({ CPU: 1 }, { nodeId: id('b'), soft: false }), busy, spread())).toEqual({ kind: 'wait', feasible: ['b'] });
  });

  it('waits for a busy soft-affinity target, as Ray does when the node is alive and feasible', () => {
    const busy = [node('a', { CPU: 2 }), node('b', { CPU: 2 }, { CPU: 0 })];
    expect(place(req({ CPU: 1 }, { nodeId: id('b'), soft: true }), busy, spread())).toEqual({ kind: 'wait', feasible: ['b'] });
  });

  it('is infeasible under a hard affinity to a node too small, naming what it lacks', () => {
    const p = place(req({ GPU: 1 }, { nodeId: id('a'), soft: false }), [node('a', { CPU: 2 }), node('g', { CPU: 2, GPU: 1 })], spread());
    expect(p.kind).toBe('infeasible');
    if (p.kind === 'infeasible') expect(p.reason).toContain('GPU: 1');
  });

  it('uses a node that fits when a soft-affinity target is too small', () => {
    const p = place(req({ GPU: 1 }, { nodeId: id('a'), soft: true }), [node('a', { CPU: 2 }), node('g', { CPU: 2, GPU: 1 })], spread());
    expect(p).toEqual({ kind: 'node', nodeId: 'g' });
  });
});

describe('place: locality', () => {
  const nodes = [node('a', { CPU: 2 }), node('b', { CPU: 2 }), node('c', { CPU: 2 })];

  it('prefers the node holding the most argument bytes', () => {
    expect(place(req({ CPU: 1 }, 'DEFAULT', { b: 100, c: 5000 }), nodes, spread())).toEqual({ kind: 'node', nodeId: 'c' });
  });

  it('skips a busy holder and takes the next-best node with room', () => {
    const busy = [node('a', { CPU: 2 }), node('b', { CPU: 2 }), node('c', { CPU: 2 }, { CPU: 0 })];
    expect(place(req({ CPU: 1 }, 'DEFAULT', { b: 100, c: 5000 }), busy, spread())).toEqual({ kind: 'node', nodeId: 'b' });
  });

  it('packs as usual when no node with room holds any argument', () => {
    const busy = [node('a', { CPU: 2 }), node('b', { CPU: 2 }, { CPU: 0 })];
    expect(place(req({ CPU: 1 }, 'DEFAULT', { b: 100 }), busy, spread())).toEqual({ kind: 'node', nodeId: 'a' });
  });
});
