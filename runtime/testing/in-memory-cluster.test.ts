import { describe, expect, it } from 'vitest';
import { ActorDiedError } from '../api/errors.ts';
import { get, remote, wait } from '../api/ray-api.ts';
import { useInMemoryCluster, waitFor, type ClusterMember, type InMemoryCluster, type Volunteer } from './in-memory-cluster.fixture.ts';

// Cluster scenarios in one process: a head whose own node has no CPU (so every task runs on a
// volunteer), volunteers linked over the in-memory network (real PeerMesh, codec and framing),
// task code run by the real executor in in-process workers.

// Inside task code, `ray` is the worker's global.
declare const ray: { getRuntimeContext(): { nodeId: string | null; workerId: string | null } };

const clusters = useInMemoryCluster();

function start(volunteers = 2): Promise<InMemoryCluster> {
  return clusters.start({ head: { CPU: 0 }, volunteers: Array.from({ length: volunteers }, () => ({ CPU: 1 })) });
}

/** A promise task code can wait on (`globalThis.__gate`), opened by the test. */
function gate(): () => void {
  let open = (): void => {};
  (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>((r) => (open = r));
  return open;
}

const finished = (m: ClusterMember): number => m.node.stats().finished;
const running = (m: ClusterMember): number => m.node.stats().running;

describe('in-memory cluster', () => {
  it('links the volunteers to the head and runs a task on one of them', async () => {
    const c = await start();
    expect(c.coordinator.nodeInfos().map((n) => [n.nodeId, n.alive])).toEqual([
      ['node-head', true],
      ['node-v1', true],
      ['node-v2', true],
    ]);
    const add = remote((a: number, b: number) => a + b);
    expect(await get(add.remote(1, 2))).toBe(3);
    expect(c.volunteers.map(finished).reduce((a, b) => a + b)).toBe(1);
    expect(finished(c.head)).toBe(0);
    // It went over the links: the run_task to the volunteer and its task_done back.
    expect(c.network.count('to_node:run_task')).toBe(1);
    expect(c.network.count('to_coordinator:task_done')).toBe(1);
  });

  it('pulls a large object from the volunteer that made it to the one that needs it, and to the driver', async () => {
    const c = await start();
    const v1 = c.volunteers[0]!;
    const v2 = c.volunteers[1]!;
    const make = remote({ schedulingStrategy: { nodeId: v1.nodeId } }, (n: number) => Float64Array.from({ length: n }, (_, i) => i));
    const sum = remote({ schedulingStrategy: { nodeId: v2.nodeId } }, (a: Float64Array) => a.reduce((x, y) => x + y, 0));
    const big = make.remote(20_000); // 160 KB: kept in v1's store, not inline
    expect(await get(sum.remote(big))).toBe((19_999 * 20_000) / 2);
    expect(v1.store.has(big.id)).toBe(true);
    expect(v2.store.has(big.id)).toBe(true); // the pulled copy
    expect(c.network.count('pull')).toBe(1);
    expect(c.network.count('pull_ok')).toBe(1);
    const value = await get(big);
    expect(value).toBeInstanceOf(Float64Array);
    expect((value as Float64Array)[19_999]).toBe(19_999);
    expect(c.network.count('pull_ok')).toBe(2); // the driver's copy came over the mesh too
    expect(c.network.bytes).toBeGreaterThan(2 * 160_000);
  });

  it.each([
    ['leaves (node_left)', 'leave'],
    ['crashes (only its links drop)', 'crash'],
  ] as const)('retries the task of a volunteer that %s mid-task on another node', async (_, how) => {
    const c = await start();
    const open = gate();
    const slow = remote({ maxRetries: 1 }, async (x: number) => {
      await (globalThis as unknown as { __gate: Promise<void> }).__gate;
      return x * 2;
    });
    const ref = slow.remote(21);
    await waitFor(() => c.volunteers.some((v) => running(v) === 1), 'the task to start on a volunteer');
    const first = c.volunteers.find((v) => running(v) === 1)!;
    const other = c.volunteers.find((v) => v !== first)!;
    first[how]();
    await waitFor(() => running(other) === 1, 'the retry to start on the other volunteer');
    expect(c.coordinator.nodeInfos().find((n) => n.nodeId === first.nodeId)?.alive).toBe(false);
    open();
    expect(await get(ref)).toBe(42);
    expect(finished(other)).toBe(1);
    expect(c.network.count('to_node:run_task')).toBe(2);
  });

  it('fails the task when its volunteer leaves and it has no retries left', async () => {
    const c = await start();
    gate();
    const slow = remote({ maxRetries: 0 }, async () => {
      await (globalThis as unknown as { __gate: Promise<void> }).__gate;
    });
    const ref = slow.remote();
    await waitFor(() => c.volunteers.some((v) => running(v) === 1), 'the task to start on a volunteer');
    c.volunteers.find((v) => running(v) === 1)!.leave();
    await expect(get(ref)).rejects.toMatchObject({ name: 'NodeDiedError' });
  });

  it('reconstructs an object lost with its node by running its task again (lineage)', async () => {
    const c = await start();
    const make = remote((n: number) => new Uint8Array(n).fill(7));
    const big = make.remote(200_000);
    expect(await wait([big], { numReturns: 1, fetchLocal: false })).toEqual([[big], []]);
    const holder = c.volunteers.find((v) => v.store.has(big.id))!;
    const other = c.volunteers.find((v) => v !== holder)!;
    expect(c.coordinator.locate(big.id)?.nodes).toEqual([holder.nodeId]);
    holder.leave();
    const value = (await get(big)) as Uint8Array;
    expect(value.length).toBe(200_000);
    expect(value.every((b) => b === 7)).toBe(true);
    expect(finished(other)).toBe(1);
    expect(other.store.has(big.id)).toBe(true);
    // The new copy, and the driver's pulled copy on the head; none on the node that left.
    expect(c.coordinator.locate(big.id)?.nodes.toSorted()).toEqual([c.head.nodeId, other.nodeId].toSorted());
  });

  it('restarts an actor on another node when its node leaves (maxRestarts), with fresh state', async () => {
    const c = await start();
    const Counter = remote(
      { maxRestarts: 1 },
      class Counter {
        n = 0;
        incr(): number {
          return ++this.n;
        }
      },
    );
    const counter = Counter.remote();
    expect(await get(counter.incr.remote())).toBe(1);
    expect(await get(counter.incr.remote())).toBe(2);
    const host = actorHost(c);
    host.leave();
    expect(await get(counter.incr.remote())).toBe(1); // a new instance: state starts over
    const newHost = actorHost(c);
    expect(newHost).not.toBe(host);
    // Restarts are spent: when this node leaves too, the actor is dead for good.
    await c.addVolunteer({ CPU: 1 });
    newHost.leave();
    await expect(get(counter.incr.remote())).rejects.toBeInstanceOf(ActorDiedError);
  });

  it('ships an actor class in scope to a volunteer, whose actor creates actors across the cluster and returns their handles', async () => {
    const c = await start(2);
    const Leaf = remote(
      { numCpus: 1 },
      class Leaf {
        constructor(private readonly k: number) {}
        where(): [number, string | null] {
          return [this.k, ray.getRuntimeContext().nodeId];
        }
      },
    );
    const Root = remote(
      { numCpus: 0, scope: { Leaf } },
      class Root {
        grow(n: number) {
          return Array.from({ length: n }, (_, i) => Leaf.remote(i));
        }
      },
    );
    const leaves = await get(Root.remote().grow.remote(2));
    const out = await get(leaves.map((l) => l.where.remote()));
    expect(out.map(([k]) => k)).toEqual([0, 1]);
    // One CPU each: the two leaves run on the two volunteers.
    expect(new Set(out.map(([, node]) => node))).toEqual(new Set(c.volunteers.map((v) => v.nodeId)));
  });

  it('maxCalls retires a worker after that many calls of the function: the next runs on a fresh worker (Ray test_max_calls)', async () => {
    await start(1);
    const who = (opts: { maxCalls?: number }) => remote({ ...opts }, function who() { return ray.getRuntimeContext().workerId; });
    const sequentially = async (f: ReturnType<typeof who>, n: number) => {
      const out: (string | null)[] = [];
      for (let i = 0; i < n; i++) out.push(await get(f.remote()));
      return out;
    };
    const once = await sequentially(who({ maxCalls: 1 }), 3);
    expect(new Set(once).size).toBe(3);
    const twice = await sequentially(who({ maxCalls: 2 }), 4);
    expect(twice[0]).toBe(twice[1]);
    expect(twice[2]).toBe(twice[3]);
    expect(twice[1]).not.toBe(twice[2]);
    const unlimited = await sequentially(who({}), 3);
    expect(new Set(unlimited).size).toBe(1);
    expect(() => who({ maxCalls: -1 }).remote()).toThrow(/invalid option maxCalls/);
  });

  it('ObjectRefGenerator.completed() is ready when the generator task ends, and raises its error when it failed (Ray completed())', async () => {
    const c = await start(1);
    const count = remote({ numReturns: 'streaming' }, function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    const gen = count.remote(3);
    expect(await get(gen.completed())).toBeNull();
    // Items not read yet stay readable after the end.
    const items: number[] = [];
    for await (const r of gen) items.push(await get(r));
    expect(items).toEqual([0, 1, 2]);
    const broken = remote({ numReturns: 'streaming', maxRetries: 0 }, function* broken() {
      yield 1;
      throw new RangeError('half way');
    });
    const bad = broken.remote();
    await expect(get(bad.completed())).rejects.toThrow(/half way/);
    expect(c.coordinator.locate(gen.completed().id)).toBeDefined();
  });

  it('runs a caller’s calls to a sequential actor in the order made, also when an earlier call’s argument must be pulled first', async () => {
    const c = await start();
    const Ord = remote(
      { numCpus: 1 },
      class Ord {
        n = 1;
        dbl(_xs: unknown): number {
          this.n *= 2;
          return this.n;
        }
        inc(): number {
          this.n += 1;
          return this.n;
        }
      },
    );
    const a = Ord.remote();
    expect(await get(a.inc.remote())).toBe(2);
    // The argument is made on the node that does not host the actor: the actor's node pulls it.
    const other = c.volunteers.find((v) => v !== actorHost(c))!;
    const big = remote({ numCpus: 0, schedulingStrategy: { nodeId: other.nodeId, soft: false } }, () => new Uint8Array(300_000)).remote();
    const r1 = a.dbl.remote(big);
    const r2 = a.inc.remote();
    expect(await get(r1)).toBe(4);
    expect(await get(r2)).toBe(5);
  });
});

/** The volunteer whose live worker hosts the (only) actor. */
function actorHost(c: InMemoryCluster): Volunteer {
  const hosts = c.volunteers.filter((v) => v.workers.some((w) => !w.terminated && w.received.some((m) => m.type === 'create_actor')));
  expect(hosts).toHaveLength(1);
  return hosts[0]!;
}
