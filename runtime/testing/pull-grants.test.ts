import { describe, expect, it, vi } from 'vitest';
import type { ObjectRef } from '../api/object-ref.ts';
import { get, remote, wait } from '../api/ray-api.ts';
import { PULL_GRANT_WAIT_MS } from '../node/constants.ts';
import type { ObjectId } from '../protocol/ids.ts';
import { MAX_QUEUED_PULLS_PER_PEER, PEER_STRIKE_LIMIT } from '../transport/constants.ts';
import { useInMemoryCluster, type InMemoryCluster } from './in-memory-cluster.fixture.ts';

// Pulls only from expected members: a node answers a pull only when the coordinator told it
// (`expect_pulls`) that this member was sent there for that object; a member that pulls what it
// was not given gets `pull_err` and a strike, and is cut off at PEER_STRIKE_LIMIT.

const clusters = useInMemoryCluster();

/** A head with no CPU and two volunteers; v1 makes a large object (kept in its store, not inline). */
async function withObjectOnV1(): Promise<{ c: InMemoryCluster; id: ObjectId; big: ObjectRef<Float64Array>; before: (kind: string) => number }> {
  const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
  const make = remote({ schedulingStrategy: { nodeId: c.volunteers[0]!.nodeId } }, (n: number) => Float64Array.from({ length: n }, (_, i) => i));
  const big = make.remote(20_000);
  await wait([big], { numReturns: 1, fetchLocal: false });
  expect(c.volunteers[0]!.store.has(big.id)).toBe(true);
  const counts = new Map(c.network.counted());
  // Messages of a kind since the object was made.
  const before = (kind: string): number => c.network.count(kind) - (counts.get(kind) ?? 0);
  return { c, id: big.id, big, before };
}

describe('pulls only from expected members', () => {
  it('grants the pull the coordinator sends a task for, and answers it', async () => {
    const { c, id, big, before } = await withObjectOnV1();
    const [v1, v2] = c.volunteers;
    const sum = remote({ schedulingStrategy: { nodeId: v2!.nodeId } }, (a: Float64Array) => a.reduce((x, y) => x + y, 0));
    expect(await get(sum.remote(big))).toBe((19_999 * 20_000) / 2);
    expect(before('to_node:expect_pulls')).toBe(1);
    expect(before('pull_ok')).toBe(1);
    expect(before('pull_err')).toBe(0);
    expect(v2!.store.has(id)).toBe(true);
    expect(v1!.mesh.existing(v2!.nodeId)?.isOpen).toBe(true);
  });

  it('refuses a member that pulls an object it was never sent for, with pull_err and a strike', async () => {
    const { c, id, before } = await withObjectOnV1();
    const [v1, v2] = c.volunteers;
    vi.useFakeTimers();
    const pulled = v2!.mesh.pull(id, [v1!.nodeId]).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await vi.advanceTimersByTimeAsync(PULL_GRANT_WAIT_MS);
    expect(await pulled).toMatch(/may not pull object .* the coordinator did not send it here for it/);
    expect(before('pull_ok')).toBe(0);
    expect(before('pull_err')).toBe(1);
    expect(warnings()).toContainEqual(expect.stringMatching(/refused pull.*strike 1 of/));
  });

  it('cuts off a member after PEER_STRIKE_LIMIT refused pulls', async () => {
    const { c } = await withObjectOnV1();
    const [v1, v2] = c.volunteers;
    const link = await v2!.mesh.link(v1!.nodeId);
    vi.useFakeTimers();
    // Guessed ids it was given nothing for, each refused once its grant never comes.
    for (let i = 0; i < PEER_STRIKE_LIMIT; i++) v2!.mesh.send(v1!.nodeId, { type: 'pull', reqId: 1000 + i, id: `tguess${i}.0` as ObjectId });
    await vi.advanceTimersByTimeAsync(PULL_GRANT_WAIT_MS);
    expect(link.isOpen).toBe(false);
    expect(v1!.mesh.existing(v2!.nodeId)).toBeUndefined();
    await expect(v1!.mesh.link(v2!.nodeId)).rejects.toThrow(/cut off/);
  });

  it('bounds the pulls one member may have waiting, and refuses a duplicate of one in flight', async () => {
    const { c, before } = await withObjectOnV1();
    const [v1, v2] = c.volunteers;
    await v2!.mesh.link(v1!.nodeId);
    vi.useFakeTimers();
    for (let i = 0; i < MAX_QUEUED_PULLS_PER_PEER; i++) v2!.mesh.send(v1!.nodeId, { type: 'pull', reqId: 2000 + i, id: `tq${i}.0` as ObjectId });
    v2!.mesh.send(v1!.nodeId, { type: 'pull', reqId: 3000, id: 'tq0.0' as ObjectId }); // a duplicate: refused, not a strike
    v2!.mesh.send(v1!.nodeId, { type: 'pull', reqId: 3001, id: 'tover.0' as ObjectId }); // one too many: refused and a strike
    await vi.advanceTimersByTimeAsync(0);
    expect(before('pull_err')).toBe(2);
    expect(warnings().filter((w) => /refused pull/.test(w))).toEqual([expect.stringMatching(/already has 16 pulls waiting.*strike 1 of/)]);
  });
});

function warnings(): string[] {
  return clusters.warn().mock.calls.map((args) => args.map(String).join(' '));
}
