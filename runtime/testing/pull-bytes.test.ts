import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { remote, wait } from '../api/ray-api.ts';
import type { ObjectRef } from '../api/object-ref.ts';
import { InMemoryCluster, waitFor } from './in-memory-cluster.fixture.ts';

// The bytes of pull replies a node keeps in flight for one peer are capped: past the cap a pull is
// refused as busy (no strike, the grant kept) and the puller asks again later, so an honest puller
// with many large pulls is slowed, never refused for good.

let cluster: InMemoryCluster | undefined;

beforeEach(() => {
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(async () => {
  await cluster?.shutdown();
  cluster = undefined;
  vi.restoreAllMocks();
});

describe('pull bytes in flight per peer', () => {
  it('refuses a pull past the cap as busy, without a strike, and the puller gets it once the first reply has left', async () => {
    const c = (cluster = await InMemoryCluster.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }], maxPullBytesPerPeer: 100_000 }));
    const [v1, v2] = c.volunteers;
    const make = remote({ schedulingStrategy: { nodeId: v1!.nodeId } }, (n: number) => Float64Array.from({ length: n }, (_, i) => i));
    const a: ObjectRef<Float64Array> = make.remote(20_000); // 160 kB each: one fills the cap
    const b: ObjectRef<Float64Array> = make.remote(20_000);
    await wait([a, b], { numReturns: 2, fetchLocal: false });
    v1!.node.handle({ type: 'expect_pulls', puller: v2!.nodeId, ids: [a.id, b.id] });
    await v2!.mesh.link(v1!.nodeId);
    c.network.holdBulk = true; // a slow channel: a's reply stays in flight
    const first = v2!.mesh.pull(a.id, [v1!.nodeId]);
    await waitFor(() => c.network.heldBulkMessages === 1, "a's reply to be in flight");
    const errsBefore = c.network.count('pull_err');
    const second = v2!.mesh.pull(b.id, [v1!.nodeId]);
    await waitFor(() => c.network.count('pull_err') === errsBefore + 1, 'the busy refusal');
    expect(warnings().filter((w) => /refused pull/.test(w))).toEqual([]); // no strike
    c.network.releaseBulk();
    expect((await first).size).toBeGreaterThan(100_000);
    expect((await second).size).toBeGreaterThan(100_000); // asked again, with its grant still there
    expect(v1!.node.pullGrants.size).toBe(0);
  });
});

function warnings(): string[] {
  return (console.warn as unknown as { mock: { calls: unknown[][] } }).mock.calls.map((args) => args.map(String).join(' '));
}
