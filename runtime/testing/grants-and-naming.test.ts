import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ObjectRef } from '../api/object-ref.ts';
import { get, put, remote, wait } from '../api/ray-api.ts';
import { PULL_GRANT_WAIT_MS } from '../node/constants.ts';
import type { ObjectId } from '../protocol/ids.ts';
import { PEER_STRIKE_LIMIT } from '../transport/constants.ts';
import { InMemoryCluster } from './in-memory-cluster.fixture.ts';

/** What task code sees as `ray` (a parameter of its compiled body). */
declare const ray: { get: typeof get; put: typeof put; wait: typeof wait };

// Issue 9: grants a holder keeps for a puller go when the puller leaves or is cut off (and the
// coordinator's per-node grants when the node goes); task code on a volunteer may get/wait only
// objects it could have been given, not ids it made up.

let cluster: InMemoryCluster | undefined;

beforeEach(() => {
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(async () => {
  vi.useRealTimers();
  delete (globalThis as { __ObjectRef?: unknown }).__ObjectRef;
  await cluster?.shutdown();
  cluster = undefined;
  vi.restoreAllMocks();
});

const warnings = (): string[] => (console.warn as unknown as { mock: { calls: unknown[][] } }).mock.calls.map((a) => a.map(String).join(' '));

/** A head with no CPU and three volunteers; v1 holds a large object (in its store, not inline). */
async function withObjectOnV1(): Promise<{ c: InMemoryCluster; id: ObjectId }> {
  const c = (cluster = await InMemoryCluster.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] }));
  const make = remote({ schedulingStrategy: { nodeId: c.volunteers[0]!.nodeId } }, (n: number) => Float64Array.from({ length: n }, (_, i) => i));
  const big = make.remote(20_000);
  await wait([big], { numReturns: 1, fetchLocal: false });
  (globalThis as { __keep?: unknown }).__keep = big; // keep it alive for the test
  return { c, id: big.id };
}

describe('pull grants are dropped when the puller goes', () => {
  it('forgets a departed puller’s grants and refuses its waiting pulls; nobody else can use them', async () => {
    const { c, id } = await withObjectOnV1();
    const [v1, v2, v3] = c.volunteers;
    // The coordinator told v1 to expect two pulls of the object from v2; v2 never made them.
    v1!.node.handle({ type: 'expect_pulls', puller: v2!.nodeId, ids: [id, id] });
    expect(v1!.node.pullGrants.size).toBe(2);
    v2!.leave();
    expect(v1!.node.pullGrants.size).toBe(0);
    expect(c.head.node.pullGrants.size).toBe(0);
    // Another member cannot use them either.
    vi.useFakeTimers();
    const pulled = v3!.mesh.pull(id, [v1!.nodeId]).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await vi.advanceTimersByTimeAsync(PULL_GRANT_WAIT_MS);
    expect(await pulled).toMatch(/may not pull object/);
    expect(v1!.node.pullGrants.size).toBe(0);
  });

  it('refuses a pull still waiting for its grant when its puller leaves', async () => {
    const { id } = await withObjectOnV1();
    const v1 = cluster!.volunteers[0]!;
    const v2 = cluster!.volunteers[1]!;
    const waiting = v1.node.pullGrants.take(v2.nodeId, id);
    expect(v1.node.pullGrants.size).toBe(1);
    v2.leave();
    expect(await waiting).toBe(false);
    expect(v1.node.pullGrants.size).toBe(0);
  });

  it('forgets the grants of a puller cut off for misbehaving', async () => {
    const { id } = await withObjectOnV1();
    const [v1, v2] = cluster!.volunteers;
    v1!.node.handle({ type: 'expect_pulls', puller: v2!.nodeId, ids: [id] });
    await v2!.mesh.link(v1!.nodeId);
    vi.useFakeTimers();
    for (let i = 0; i < PEER_STRIKE_LIMIT; i++) v2!.mesh.send(v1!.nodeId, { type: 'pull', reqId: 500 + i, id: `tguess${i}.0` as ObjectId });
    await vi.advanceTimersByTimeAsync(PULL_GRANT_WAIT_MS);
    expect(v1!.mesh.existing(v2!.nodeId)).toBeUndefined();
    expect(v1!.node.pullGrants.size).toBe(0);
  });

  it('the coordinator drops what it kept about a node when the node goes', async () => {
    const c = (cluster = await InMemoryCluster.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] }));
    const v = c.volunteers[0]!;
    const Counter = remote(
      class {
        n = 0;
        inc(): number {
          return ++this.n;
        }
      },
    );
    const counter = Counter.remote();
    expect(await get(counter.inc.remote())).toBe(1);
    const big = put(new Float64Array(20_000).fill(1));
    const sum = remote((a: Float64Array) => a.reduce((s, y) => s + y, 0));
    expect(await get(sum.remote(big))).toBe(20_000);
    expect(c.coordinator.grantsKept(v.nodeId)).toBeGreaterThan(0);
    v.leave();
    expect(c.coordinator.grantsKept(v.nodeId)).toBe(0);
  });
});

describe('task code on a volunteer gets only objects it can name', () => {
  it('refuses a get or wait of an object id the task made up, with a clear error and no strike', async () => {
    const c = (cluster = await InMemoryCluster.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] }));
    (globalThis as { __ObjectRef?: unknown }).__ObjectRef = ObjectRef;
    const secret = put({ secret: 'the driver’s' });
    const snoop = remote(async (id: string, op: string) => {
      const g = globalThis as unknown as { __ObjectRef: new (id: string) => unknown };
      try {
        const ref = new g.__ObjectRef(id) as never;
        return op === 'get' ? { got: await ray.get(ref) } : { got: await ray.wait([ref], { numReturns: 1, timeoutMs: 0, fetchLocal: false }) };
      } catch (e) {
        return { error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    });
    const out = (await get(snoop.remote(secret.id, 'get'))) as { got?: unknown; error?: string };
    expect(out.got).toBeUndefined();
    expect(out.error).toMatch(/PermissionError: .*ray\.get\(\) of object .* which this task was never given/);
    const waited = (await get(snoop.remote(secret.id, 'wait'))) as { got?: unknown; error?: string };
    expect(waited.error).toMatch(/PermissionError: .*ray\.wait\(\) of object/);
    expect(c.coordinator.strikesOf(c.volunteers[0]!.nodeId)).toBe(0);
    expect(await get(secret)).toEqual({ secret: 'the driver’s' });
    expect(warnings()).toContainEqual(expect.stringMatching(/refused refs from node .* never given/));
  });

  it('lets task code get what it was given: its puts, its children’s returns, refs nested in those', async () => {
    const c = (cluster = await InMemoryCluster.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] }));
    const child = remote((x: number) => ({ nested: ray.put(new Float64Array(20_000).fill(x)) }));
    const parent = remote({ scope: { child } }, async (x: number) => {
      const mine = ray.put(7);
      const box = (await ray.get(child.remote(x))) as { nested: unknown };
      const arr = await ray.get<Float64Array>(box.nested as never);
      const [ready] = await ray.wait([mine], { numReturns: 1 });
      return [await ray.get(mine), arr[0], ready.length];
    });
    expect(await get(parent.remote(5))).toEqual([7, 5, 1]);
    for (const v of c.volunteers) expect(c.coordinator.strikesOf(v.nodeId)).toBe(0);
    expect(warnings().filter((w) => /refused/.test(w))).toEqual([]);
  });
});
