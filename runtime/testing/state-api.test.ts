// The state API (docs/api.md "State API"): ray.actors(), ray.objects(), ray.summary() in the driver,
// refused in task code. Real nodes on the in-memory cluster.
import { describe, expect, it } from 'vitest';
import { actors, get, kill, objects, put, remote, summary } from '../api/ray-api.ts';
import { useInMemoryCluster, waitFor } from './in-memory-cluster.fixture.ts';

// Inside task code, `ray` is the worker's global.
declare const ray: { summary(): Promise<unknown> };

const clusters = useInMemoryCluster();

describe('state API', () => {
  it('ray.actors() lists every actor with its class, name, node, state and restarts; a state filter selects', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const Box = remote({ numCpus: 1 }, class Box { v() { return 1; } });
    const named = Box.options({ name: 'keeper' }).remote();
    const other = Box.remote();
    await get([named.v.remote(), other.v.remote()]);
    kill(other);
    await waitFor(() => c.coordinator.actorListings('DEAD').length === 1, 'the killed actor listed dead');
    const all = await actors();
    expect(all).toHaveLength(2);
    const keeper = all.find((a) => a.name === 'keeper')!;
    expect(keeper).toMatchObject({ actorId: named.actorId, className: 'Box', state: 'ALIVE', numRestarts: 0, deathCause: null, replicas: 1, degraded: false });
    expect(c.volunteers.map((v) => v.nodeId)).toContain(keeper.nodeId);
    expect(keeper.replicaNodes).toEqual([keeper.nodeId]);
    const dead = await actors({ state: 'DEAD' });
    expect(dead).toEqual([expect.objectContaining({ actorId: other.actorId, nodeId: null, deathCause: expect.stringMatching(/^ActorDiedError: .*killed by ray\.kill/) as unknown })]);
    expect(() => actors({ state: 'GONE' as never })).toThrow(/ray\.actors: state must be one of PENDING_CREATION, ALIVE, RESTARTING, DEAD/);
  });

  it('ray.objects() lists objects with size, state, where their copies are and who holds them', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const small = put({ a: 1 });
    const big = remote(() => new Uint8Array(300_000)).remote();
    const boom = remote(() => {
      throw new Error('no');
    }).remote();
    await get(big);
    await get(boom).catch(() => undefined);
    const list = await objects();
    const of = (id: string) => list.find((o) => o.objectId === id);
    expect(of(small.id)).toMatchObject({ state: 'READY', inline: true, holders: ['driver'] });
    // Made on the volunteer, and pulled to the driver's node by the get.
    expect(of(big.id)).toMatchObject({ state: 'READY', inline: false, holders: ['driver'] });
    expect([...of(big.id)!.locations].sort()).toEqual([c.volunteers[0]!.nodeId, c.head.nodeId].sort());
    expect(of(big.id)!.size).toBeGreaterThanOrEqual(300_000);
    expect(of(boom.id)).toMatchObject({ state: 'FAILED', inline: true });
    expect(of(small.id)!.references).toBeGreaterThanOrEqual(1);
  });

  it('ray.summary() counts tasks by name and state; task code is refused the state API', async () => {
    await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const ok = remote(function ok() { return 1; });
    const bad = remote({ maxRetries: 0 }, function bad() { throw new Error('no'); });
    await get([ok.remote(), ok.remote()]);
    await get(bad.remote()).catch(() => undefined);
    const s = await summary();
    expect(s.byName.ok).toEqual({ kind: 'normal', total: 2, states: { FINISHED: 2 } });
    expect(s.byName.bad).toEqual({ kind: 'normal', total: 1, states: { FAILED: 1 } });
    expect(s.total).toBe(3);
    const inTask = remote(async function inTask() {
      return ray.summary().then(() => 'listed', (e: Error) => e.message);
    });
    expect(await get(inTask.remote())).toMatch(/ray\.summary\(\) is the driver's/);
  });
});
