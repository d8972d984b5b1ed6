// The simulation's correctness at a small scale (issue 12: "no lost task, every result right"):
// the real coordinator against simulated nodes, with and without churn. The figures themselves
// come from `npm run sim`, not from tests.
import { describe, expect, it } from 'vitest';
import { simulate } from './cluster-sim.ts';

describe('cluster simulation', () => {
  it('finishes every task with its own result on 10 nodes', async () => {
    const r = await simulate({ nodes: 10, tasks: 2_000 });
    expect(r).toMatchObject({ finished: 2_000, lost: 0, nodesLeft: 0 });
    expect(r.dispatchP99Ms).toBeGreaterThanOrEqual(r.dispatchP50Ms);
  });

  it('loses no task while nodes leave and join (their running tasks are retried)', async () => {
    const r = await simulate({ nodes: 20, tasks: 5_000, churnFraction: 0.1, churnEveryMs: 2 });
    expect(r.nodesLeft).toBeGreaterThan(0);
    expect(r).toMatchObject({ finished: 5_000, lost: 0 });
  });
});
