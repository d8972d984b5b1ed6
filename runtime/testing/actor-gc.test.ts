// Actors with no handle left are terminated (Ray: "actor processes will be terminated automatically
// when all copies of the actor handle have gone out of scope"), once their calls end; detached
// actors stay until ray.kill. Garbage collection of a handle is played by telling the driver's
// reference table that the ObjectRef the handle holds was collected (what its FinalizationRegistry
// does); the e2e test (actors.spec) runs the real gc().
import { describe, expect, it, vi } from 'vitest';
import { keepAlive } from '../api/local-refs.ts';
import { actors, get, getActor, put, remote, summary } from '../api/ray-api.ts';
import type { HolderId, ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster } from './in-memory-cluster.fixture.ts';

// Inside task code, `ray` is the worker's global.
declare const ray: { get(r: unknown): Promise<unknown>; put(v: unknown): unknown };

const clusters = useInMemoryCluster();

/** The driver drops every instance of `id` it holds (a handle, or a ref), as GC would. */
function collect(c: InMemoryCluster, id: ObjectId): void {
  c.driver.refs.collected(id);
}

const stateOf = async (actorId: string) => (await actors()).find((a) => a.actorId === actorId)?.state;
const settle = () => new Promise((r) => setTimeout(r, 30));

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

  it('keeps an actor whose last handle went while its call is retried after an error (retryExceptions)', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const Flaky = remote(
      { numCpus: 1, maxTaskRetries: 2 },
      class Flaky {
        calls = 0;
        flaky() {
          if (++this.calls <= 2) throw new RangeError(`call ${this.calls}`);
          return `ok after ${this.calls} calls`;
        }
      },
    );
    const f = Flaky.remote();
    const ref = f.flaky.options({ retryExceptions: true }).remote();
    collect(c, f.info.handleId!);
    expect(await get(ref)).toBe('ok after 3 calls');
    await waitFor(() => c.coordinator.actorListings('DEAD').length === 1, 'collected after its last retry');
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

  // A hostile review's findings, each a test.
  it('maxCalls: a task returning the handle of an actor it created (and a ref it put) keeps them, though its worker is retired', async () => {
    await clusters.start({ head: { CPU: 1 }, volunteers: [] });
    const Box = remote({ numCpus: 0 }, class Box { v() { return 7; } });
    const make = remote({ numCpus: 1, maxCalls: 1, scope: { Box } }, async () => {
      const box = (Box as unknown as { remote(): { v: { remote(): unknown } } }).remote();
      await ray.get(box.v.remote());
      return { box, kept: ray.put('kept') };
    });
    const result = make.remote();
    const { box, kept } = (await get(result)) as { box: { actorId: string; v: { remote(): unknown } }; kept: never };
    await settle();
    expect(await stateOf(box.actorId)).toBe('ALIVE');
    expect(await get(box.v.remote() as never)).toBe(7);
    expect(await get(kept)).toBe('kept');
    keepAlive(result);
  });

  it('a handle captured in a function’s scope keeps the actor from the moment the function is defined', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 2 }] });
    const Box = remote({ numCpus: 1 }, class Box { v() { return 1; } });
    const h = Box.remote();
    await get(h.v.remote());
    const use = remote({ scope: { h } }, async () => (await ray.get((h as unknown as { v: { remote(): unknown } }).v.remote())) as number);
    collect(c, h.info.handleId!);
    await settle();
    expect(await stateOf(h.actorId)).toBe('ALIVE');
    expect(await get(use.remote())).toBe(1);
  });

  it('getIfExists never attaches to an actor whose last handle is gone: its name is free for a new one', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 2 }] });
    let open!: () => void;
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>((r) => (open = r));
    const Svc = remote(
      { numCpus: 1 },
      class Svc {
        async slow() {
          await (globalThis as { __gate?: Promise<void> }).__gate;
          return 'slow';
        }
        v() { return 1; }
      },
    );
    const first = Svc.options({ name: 'svc' }).remote();
    const pending = first.slow.remote();
    await waitFor(() => c.coordinator.actorListings('ALIVE').length === 1, 'alive');
    collect(c, first.info.handleId!);
    await settle();
    const second = Svc.options({ name: 'svc', getIfExists: true }).remote();
    expect(second.actorId).not.toBe(first.actorId);
    expect(await get(second.v.remote())).toBe(1);
    open();
    expect(await get(pending)).toBe('slow');
    await settle();
    expect(await get(second.v.remote())).toBe(1);
  });

  it('a volunteer cannot drop the refs of a worker on the coordinator’s node (its holder name is in the specs it runs)', async () => {
    const c = await clusters.start({ head: { CPU: 1 }, volunteers: [{ CPU: 1 }] });
    const [v] = c.volunteers;
    const seen: string[] = [];
    const handle = v!.node.handle.bind(v!.node);
    vi.spyOn(v!.node, 'handle').mockImplementation((m: CoordinatorToNode) => {
      if (m.type === 'run_task') seen.push(m.spec.callerId);
      handle(m);
    });
    const Box = remote({ numCpus: 0, schedulingStrategy: { nodeId: v!.nodeId, soft: false } }, class Box { v() { return 5; } });
    const onVolunteer = remote({ numCpus: 1, schedulingStrategy: { nodeId: v!.nodeId, soft: false } }, () => 0);
    const Keeper = remote(
      { numCpus: 1, schedulingStrategy: { nodeId: c.head.nodeId, soft: false }, scope: { Box, onVolunteer } },
      class Keeper {
        box = (Box as unknown as { remote(): { v: { remote(): unknown } } }).remote();
        async ping() {
          await ray.get((onVolunteer as unknown as { remote(): unknown }).remote());
          return ray.get(this.box.v.remote());
        }
      },
    );
    const k = Keeper.remote();
    expect(await get(k.ping.remote())).toBe(5);
    const headWorker = seen.find((h) => h !== 'driver')!;
    expect(headWorker).toBeDefined();
    const forged: NodeToCoordinator = { type: 'refs', holder: headWorker as HolderId, gone: true };
    v!.mesh.send(c.head.nodeId, { type: 'to_coordinator', msg: forged });
    await settle();
    expect(c.coordinator.actorListings('DEAD')).toEqual([]);
    expect(await get(k.ping.remote())).toBe(5);
  });

  it('an actor collected before its constructor finished is listed once, and leaves the live task table', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const Slow = remote({ numCpus: 1 }, class Slow { v() { return 1; } });
    const s = Slow.remote();
    collect(c, s.info.handleId!);
    await waitFor(() => c.coordinator.actorListings('DEAD').length === 1, 'collected at birth');
    await settle();
    expect(c.coordinator.availableResources().CPU).toBe(1);
    expect(c.coordinator.taskInfos().filter((t) => t.kind === 'actor-creation')).toHaveLength(1);
    expect((await summary()).total).toBe(1);
  });
});
