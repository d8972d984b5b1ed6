// Actors with no handle left are terminated (Ray: "actor processes will be terminated automatically
// when all copies of the actor handle have gone out of scope"), once their calls end; detached
// actors stay until ray.kill. Garbage collection of a handle is played by telling the driver's
// reference table that the ObjectRef the handle holds was collected (what its FinalizationRegistry
// does); the e2e test (actors.spec) runs the real gc().
import { describe, expect, it } from 'vitest';
import { actors, get, getActor, put, remote } from '../api/ray-api.ts';
import type { ObjectId } from '../protocol/ids.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster } from './in-memory-cluster.fixture.ts';

const clusters = useInMemoryCluster();

/** The driver drops every instance of `id` it holds (a handle, or a ref), as GC would. */
function collect(c: InMemoryCluster, id: ObjectId): void {
  c.driver.refs.collected(id);
}

const stateOf = async (actorId: string) => (await actors()).find((a) => a.actorId === actorId)?.state;

describe('actor lifetimes: out of scope, detached', () => {
  it('terminates an actor once no handle to it is left, giving its CPU back', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const Box = remote({ numCpus: 1 }, class Box { v() { return 1; } });
    const box = Box.remote();
    expect(await get(box.v.remote())).toBe(1);
    expect(c.coordinator.availableResources().CPU ?? 0).toBe(0);
    collect(c, box.info.handleId!);
    await waitFor(() => c.coordinator.actorListings('DEAD').length === 1, 'the actor terminated');
    expect((await actors())[0]!.deathCause).toMatch(/no handle to it was left/);
    await waitFor(() => c.coordinator.availableResources().CPU === 1, 'its CPU back');
  });

  it('lets the calls it was given finish first', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    let open!: () => void;
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>((r) => (open = r));
    const Slow = remote(
      { numCpus: 1 },
      class Slow {
        async wait() {
          await (globalThis as { __gate?: Promise<void> }).__gate;
          return 'done';
        }
      },
    );
    const s = Slow.remote();
    const ref = s.wait.remote();
    collect(c, s.info.handleId!);
    await new Promise((r) => setTimeout(r, 20));
    expect(await stateOf(s.actorId)).toBe('ALIVE');
    open();
    expect(await get(ref)).toBe('done');
    await waitFor(() => c.coordinator.actorListings('DEAD').length === 1, 'the actor terminated after its call');
  });

  it('lives while a handle inside a stored object or one from getActor does, and a detached actor until kill', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 2 }] });
    const Box = remote({ numCpus: 1 }, class Box { v() { return 1; } });
    const held = Box.remote();
    const stored = put({ handle: held });
    collect(c, held.info.handleId!);
    await get(held.v.remote());
    expect(await stateOf(held.actorId)).toBe('ALIVE'); // the stored object holds a handle
    collect(c, stored.id);
    await waitFor(() => c.coordinator.actorListings('DEAD').length === 1, 'terminated with the object that held its last handle');

    const named = Box.options({ name: 'found' }).remote();
    const found = await getActor('found');
    collect(c, named.info.handleId!);
    expect(await get((found as typeof named).v.remote())).toBe(1);
    expect(await stateOf(named.actorId)).toBe('ALIVE');

    const detached = Box.options({ lifetime: 'detached' }).remote();
    await get(detached.v.remote());
    collect(c, detached.info.handleId!);
    await new Promise((r) => setTimeout(r, 20));
    expect(await stateOf(detached.actorId)).toBe('ALIVE');
  });
});
