// Replicated actors (`replicas > 1`, docs/api.md "Verified results"): the actor's constructor runs
// on n distinct nodes, every call goes to each replica in the same order, and its result is taken
// by majority; a replica that disagrees or whose node leaves is dropped, and with fewer than a
// majority left the actor dies. Real nodes and executors on the in-memory cluster; a "liar" is
// task code that answers wrongly on one node, as in the e2e tests.
import { afterEach, describe, expect, it } from 'vitest';
import { get, kill, remote } from '../api/ray-api.ts';
import { setVerificationDefaults } from '../api/replication.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster } from './in-memory-cluster.fixture.ts';

// Inside task code, `ray` is the worker's global.
declare const ray: { getRuntimeContext(): { nodeId: string | null } };

const clusters = useInMemoryCluster();
const g = globalThis as { __liar?: string; __liar2?: string; __slow?: string; __gate?: Promise<void> };
afterEach(() => {
  setVerificationDefaults(undefined);
  delete g.__liar;
  delete g.__liar2;
  delete g.__slow;
  delete g.__gate;
});
const dropped = () => clusters.warn().mock.calls.filter((call) => /dropped a replica/.test(String(call[0])));

/** A counter whose replica on the node named by `globalThis.__liar` adds 100 more (on `__liar2`, 1000 more). */
class Counter {
  n = 0;
  add(k: number): number {
    const here = ray.getRuntimeContext().nodeId;
    const g = globalThis as { __liar?: string; __liar2?: string };
    this.n += k + (here === g.__liar ? 100 : 0) + (here === g.__liar2 ? 1000 : 0);
    return this.n;
  }
}

const infoOf = (c: InMemoryCluster, id: string) => c.coordinator.nodeInfos().find((n) => n.nodeId === id)!;

/** Every run_task each volunteer is sent from now on: its node and the kind of task. */
function recordRuns(c: InMemoryCluster): { to: string; kind: string }[] {
  const runs: { to: string; kind: string }[] = [];
  for (const v of c.volunteers) {
    const handle = v.node.handle.bind(v.node);
    v.node.handle = (msg) => {
      if (msg.type === 'run_task') runs.push({ to: v.nodeId, kind: msg.spec.kind });
      handle(msg);
    };
  }
  return runs;
}

describe('replicated actors', () => {
  it('runs the constructor on n distinct nodes, each call on every replica, and returns the result they agree on', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const runs = recordRuns(c);
    const A = remote({ numCpus: 1 }, Counter).options({ replicas: 2 });
    const a = A.remote();
    expect(await get(a.add.remote(2))).toBe(2);
    expect(await get(a.add.remote(3))).toBe(5);
    const nodes = new Set(runs.filter((r) => r.kind === 'actor-creation').map((r) => r.to));
    expect(nodes.size).toBe(2);
    // Each replica holds the actor's CPU on its node; every call ran on both.
    expect(c.coordinator.availableResources().CPU).toBe(1);
    const calls = runs.filter((r) => r.kind === 'actor-method');
    expect(calls.map((r) => r.to).sort()).toEqual([...nodes, ...nodes].sort());
    expect(c.coordinator.nodeInfos().filter((n) => nodes.has(n.nodeId)).map((n) => n.verified)).toEqual([2, 2]);
    kill(a);
    await waitFor(() => c.coordinator.availableResources().CPU === 3, 'both replicas to give their CPU back');
    await expect(get(a.add.remote(1))).rejects.toThrow(/ActorDiedError|killed/);
  });

  it('outvotes a lying replica (replicas: 3): the caller gets the honest result, the liar is dropped and the actor goes on degraded', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const runs = recordRuns(c);
    const a = remote({ numCpus: 1 }, Counter).options({ replicas: 3 }).remote();
    expect(await get(a.add.remote(1))).toBe(1);
    const liar = c.volunteers[1]!.nodeId;
    g.__liar = liar;
    expect(await get(a.add.remote(1))).toBe(2);
    expect(infoOf(c, liar).mismatches).toBe(1);
    expect(clusters.warn().mock.calls.some((call) => new RegExp(`dropped a replica: its replica on node ${liar} returned a result the majority .* disagree with.*2 of its 3 replicas run`).test(String(call[0])))).toBe(true);
    // The liar's replica was killed there and its CPU given back; the two honest replicas go on.
    await waitFor(() => c.coordinator.availableResources().CPU === 1, 'the dropped replica to give its CPU back');
    const before = runs.filter((r) => r.to === liar).length;
    expect(await get(a.add.remote(1))).toBe(3);
    expect(await get(a.add.remote(1))).toBe(4);
    expect(runs.filter((r) => r.to === liar).length).toBe(before);
  });

  it('fails a call with ResultMismatchError when its replicas reach no majority (replicas: 2, one liar), and the actor dies', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const a = remote({ numCpus: 1 }, Counter).options({ replicas: 2 }).remote();
    expect(await get(a.add.remote(1))).toBe(1);
    g.__liar = c.volunteers[0]!.nodeId;
    const err = await get(a.add.remote(1)).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('ResultMismatchError');
    expect(err?.message).toMatch(/Counter\.add: its 2 replicas reached no majority/);
    await expect(get(a.add.remote(1))).rejects.toThrow(/died: its replicas no longer agree/);
    // Nobody is blamed without a majority, and every replica's CPU is back.
    expect(c.coordinator.nodeInfos().map((n) => n.mismatches)).toEqual([0, 0, 0]);
    await waitFor(() => c.coordinator.availableResources().CPU === 2, 'the CPUs back');
  });

  it('with two liars that disagree and one honest replica (replicas: 3) fails rather than return either', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const a = remote({ numCpus: 1 }, Counter).options({ replicas: 3 }).remote();
    expect(await get(a.add.remote(0))).toBe(0);
    g.__liar = c.volunteers[0]!.nodeId;
    g.__liar2 = c.volunteers[1]!.nodeId;
    await expect(get(a.add.remote(1))).rejects.toThrow(/its 3 replicas reached no majority/);
  });

  it('drops the replica of a node that leaves and goes on; with fewer than a majority left the actor dies', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const a = remote({ numCpus: 1 }, Counter).options({ replicas: 3 }).remote();
    expect(await get(a.add.remote(1))).toBe(1);
    c.volunteers[0]!.crash();
    expect(await get(a.add.remote(1))).toBe(2);
    c.volunteers[1]!.crash();
    await expect(get(a.add.remote(1))).rejects.toThrow(/1 of its 3 replicas are left, fewer than a majority/);
  });

  it('a call in flight when a replica’s node leaves is decided by the replicas left', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    let open!: () => void;
    (globalThis as { __gate?: Promise<void> }).__gate = new Promise<void>((r) => (open = r));
    const Gated = remote(
      { numCpus: 1, replicas: 3 },
      class Gated {
        async slow(): Promise<string> {
          await (globalThis as { __gate?: Promise<void> }).__gate;
          return 'agreed';
        }
      },
    );
    const a = Gated.remote();
    const runs = recordRuns(c);
    const ref = a.slow.remote();
    await waitFor(() => runs.filter((r) => r.kind === 'actor-method').length === 3, 'the call on three replicas');
    c.volunteers[2]!.crash();
    open();
    expect(await get(ref)).toBe('agreed');
  });

  it('waits for nodes when too few can hold a replica, saying so, and starts once they join', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const a = remote({ numCpus: 1 }, Counter).options({ replicas: 2 }).remote();
    const ref = a.add.remote(5);
    await waitFor(() => clusters.warn().mock.calls.some((call) => /runs 2 replicas on distinct nodes, and too few nodes could hold one/.test(String(call[0]))), 'the warning');
    await c.addVolunteer({ CPU: 1 });
    expect(await get(ref)).toBe(5);
  });

  it('refuses a streaming method of a replicated actor, and options that would let replicas diverge', async () => {
    await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const Streamer = remote(
      { numCpus: 1, replicas: 2 },
      class Streamer {
        *items() {
          yield 1;
        }
      },
    );
    const s = Streamer.remote();
    const gen = s.items.options({ numReturns: 'streaming' }).remote() as unknown as AsyncIterable<unknown>;
    await expect((async () => { for await (const r of gen) await get(r as never); })()).rejects.toThrow(/a streaming method of a replicated actor cannot be verified/);
    expect(() => remote({ replicas: 2, maxConcurrency: 4 }, Counter).remote()).toThrow(/runs one call at a time.*leave maxConcurrency out/);
    expect(() => remote({ replicas: 2, maxRestarts: 1 }, Counter).remote()).toThrow(/is not restarted.*leave maxRestarts out/);
    setVerificationDefaults({ replicas: 2 });
    expect(() => remote({ maxRestarts: -1 }, Counter).remote()).toThrow(/replicas: 2, from ray\.init\(\{ verification \}\)/);
  });

  it('quarantines a node after quarantineAfter mismatches (1 here)', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    c.coordinator.setVerification({ quarantineAfter: 1 });
    const a = remote({ numCpus: 1 }, Counter).options({ replicas: 3 }).remote();
    const liar = c.volunteers[2]!.nodeId;
    g.__liar = liar;
    expect(await get(a.add.remote(1))).toBe(1);
    await waitFor(() => !infoOf(c, liar).alive, 'the liar to be dropped');
    expect(infoOf(c, liar)).toMatchObject({ mismatches: 1, quarantined: true });
    expect(await get(a.add.remote(1))).toBe(2);
  });

  it('a call whose majority threw is not cancelled on a slow replica: it runs it too and stays in step', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const Acc = remote(
      { numCpus: 1, replicas: 3 },
      class Acc {
        n = 0;
        async slow(): Promise<number> {
          const g = globalThis as { __slow?: string; __gate?: Promise<void> };
          if (ray.getRuntimeContext().nodeId === g.__slow) await g.__gate;
          return this.n;
        }
        boom(): number {
          this.n += 1;
          throw new RangeError('always');
        }
      },
    );
    const a = Acc.remote();
    expect(await get(a.slow.remote())).toBe(0);
    const slow = c.volunteers[2]!.nodeId;
    let open!: () => void;
    g.__slow = slow;
    g.__gate = new Promise<void>((r) => (open = r));
    expect(await get(a.slow.remote())).toBe(0); // two of three agree; the slow replica is still on it
    await expect(get(a.boom.remote())).rejects.toThrow(/always/); // two of three threw the same error
    open();
    await waitFor(() => c.volunteers[2]!.node.stats().running === 0, 'the slow replica to catch up');
    delete g.__slow;
    expect(await get(a.slow.remote())).toBe(1);
    await waitFor(() => c.volunteers.every((v) => v.node.stats().running === 0), 'every replica to report');
    expect(infoOf(c, slow).mismatches).toBe(0);
    expect(dropped()).toEqual([]);
  });

  it('runs a caller’s calls in the same order on every replica, also when only one replica holds a call’s argument', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] });
    const Ord = remote(
      { numCpus: 1, replicas: 3 },
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
    const holder = c.volunteers[0]!.nodeId;
    const big = remote({ numCpus: 0, schedulingStrategy: { nodeId: holder, soft: false } }, () => new Uint8Array(300_000)).remote();
    const r1 = a.dbl.remote(big);
    const r2 = a.inc.remote();
    expect(await get(r1)).toBe(4);
    expect(await get(r2)).toBe(5);
    expect(dropped()).toEqual([]);
  });
});
