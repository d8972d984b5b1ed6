import { describe, expect, it, vi } from 'vitest';
import { GetTimeoutError, ObjectLostError, RayTaskError } from '../api/errors.ts';
import { get, put, remote, wait } from '../api/ray-api.ts';
import type { ObjectId } from '../protocol/ids.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster } from '../testing/in-memory-cluster.fixture.ts';

// The driver's Core over a whole cluster in one process (testing/in-memory-cluster.fixture.ts):
// the head's node has no CPU, so task results are made on volunteers.

const clusters = useInMemoryCluster();

function start(volunteers = 1): Promise<InMemoryCluster> {
  return clusters.start({ head: { CPU: 0 }, volunteers: Array.from({ length: volunteers }, () => ({ CPU: 1 })) });
}

describe('DriverCore', () => {
  it('puts a small object inline in the directory and a large one in its own node store', async () => {
    const c = await start();
    const small = put('hi');
    const large = put(new Uint8Array(200_000));
    expect(c.coordinator.locate(small.id)?.obj).toBeDefined();
    expect(c.head.store.has(small.id)).toBe(false);
    expect(c.coordinator.locate(large.id)).toMatchObject({ nodes: [c.head.nodeId] });
    expect(c.coordinator.locate(large.id)?.obj).toBeUndefined();
    expect(c.head.store.has(large.id)).toBe(true);
    expect(await get(small)).toBe('hi');
    expect(((await get(large)) as Uint8Array).length).toBe(200_000);
    expect(c.network.count('pull')).toBe(0);
  });

  it('reads a large result from the volunteer that holds it over the mesh', async () => {
    const c = await start();
    const make = remote(() => new Uint8Array(300_000).fill(3));
    const ref = make.remote();
    const value = (await get(ref)) as Uint8Array;
    expect(value.length).toBe(300_000);
    expect(value[299_999]).toBe(3);
    expect(c.network.count('pull_ok')).toBe(1);
    expect(c.head.store.has(ref.id)).toBe(true);
    await get(ref); // now local: no second pull
    expect(c.network.count('pull_ok')).toBe(1);
  });

  it('refuses an ObjectRef from another session at once, naming what to do', async () => {
    await start();
    const { ObjectRef } = await import('../api/object-ref.ts');
    const stranger = new ObjectRef('someone-else.0' as ObjectId);
    const refused = await get(stranger).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ObjectLostError);
    expect(refused).toHaveProperty('message', expect.stringMatching(/do not survive ray.shutdown\(\); make the object again after ray.init\(\)/));
    await expect(wait([stranger])).rejects.toBeInstanceOf(ObjectLostError);
    const f = remote((x: unknown) => x);
    expect(() => f.remote(stranger)).toThrow(ObjectLostError);
  });

  it('times out a get whose object is not ready, saying the task keeps running', async () => {
    await start();
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>(() => {});
    const slow = remote(async () => {
      await (globalThis as unknown as { __gate: Promise<void> }).__gate;
    });
    const ref = slow.remote();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const getting = get(ref, { timeoutMs: 1000 });
    getting.catch(() => {});
    await vi.advanceTimersByTimeAsync(1000);
    await expect(getting).rejects.toBeInstanceOf(GetTimeoutError);
    await expect(getting).rejects.toThrow(/1 of 1 object\(s\) not ready; the task\(s\) keep running/);
  });

  it('raises a failed task’s error from get as soon as it fails, even with other objects pending', async () => {
    await start(2);
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>(() => {});
    const slow = remote(async () => {
      await (globalThis as unknown as { __gate: Promise<void> }).__gate;
    });
    const bad = remote(() => {
      throw new TypeError('bad input');
    });
    await expect(get([slow.remote(), bad.remote()])).rejects.toBeInstanceOf(RayTaskError);
  });

  it('counts an object in wait with fetchLocal only once it has been pulled to this node', async () => {
    const c = await start();
    const make = remote(() => new Uint8Array(200_000));
    const ref = make.remote();
    expect(await wait([ref], { fetchLocal: false })).toEqual([[ref], []]);
    expect(c.head.store.has(ref.id)).toBe(false);
    expect(await wait([ref])).toEqual([[ref], []]);
    expect(c.head.store.has(ref.id)).toBe(true);
    expect(c.network.count('to_node:fetch_objects')).toBe(0); // the head's own node is asked in-process
    expect(c.network.count('pull_ok')).toBe(1);
  });

  it('reads an object again when its holder vanishes during the pull: waits for it to be rebuilt, then reads the new copy', async () => {
    const c = await start(2);
    const make = remote(() => new Uint8Array(200_000).fill(9));
    const ref = make.remote();
    await wait([ref], { fetchLocal: false });
    const holder = c.volunteers.find((v) => v.store.has(ref.id))!;
    // The holder takes the pull but never answers it; then its tab vanishes.
    vi.spyOn(holder.store, 'load').mockImplementation(() => new Promise(() => {}));
    const getting = get(ref);
    await waitFor(() => c.network.count('pull') === 1, 'the pull to reach the holder');
    holder.crash();
    const value = (await getting) as Uint8Array;
    expect(value[0]).toBe(9);
    expect(value.length).toBe(200_000);
    const other = c.volunteers.find((v) => v !== holder)!;
    expect(other.node.stats().finished).toBe(1);
  });

  it('looks actors up by name', async () => {
    const c = await start();
    const A = remote(
      class A {
        ping(): string {
          return 'pong';
        }
      },
    );
    const a = A.options({ name: 'the-a' }).remote();
    expect(await get(a.ping.remote())).toBe('pong');
    expect(c.driver.actorNameTaken('the-a')).toBe(true);
    expect(c.driver.actorNameTaken('nobody')).toBe(false);
    await expect(c.driver.getActor('the-a')).resolves.toMatchObject({ name: 'the-a' });
    await expect(c.driver.getActor('nobody')).rejects.toThrow('ray.getActor: no live actor is named "nobody"');
    await waitFor(() => c.driver.nodes().length === 2, 'the cluster view');
    expect(c.driver.clusterResources()).toMatchObject({ CPU: 1 });
  });

  it('shuts the cluster down through ray.shutdown', async () => {
    const c = await start();
    await c.driver.shutdown();
    const { currentCore } = await import('../api/core.ts');
    expect(currentCore()).toBeUndefined();
  });
});
