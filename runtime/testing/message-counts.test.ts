import { afterEach, describe, expect, it, vi } from 'vitest';
import { get, remote } from '../api/ray-api.ts';
import { InMemoryCluster } from './in-memory-cluster.fixture.ts';

// How many messages one task costs between a volunteer and the head (over the in-memory network,
// as over WebRTC), and between the volunteer's node and its workers: a task the driver submits,
// and a nested one (a task that submits a child and gets its result). The nested calls go through
// the worker's own Core, as in a browser worker (in-process-worker.fixture.ts).

/** What task code sees as `ray` (a parameter of its compiled body). */
declare const ray: { get: typeof get };

let cluster: InMemoryCluster | undefined;

afterEach(async () => {
  await cluster?.shutdown();
  cluster = undefined;
  vi.restoreAllMocks();
});

function countSince(c: InMemoryCluster, before: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of c.network.counted()) {
    const d = n - (before.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

describe('messages per task', () => {
  it('a task from the driver, and a nested task from task code', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const c = (cluster = await InMemoryCluster.start({ head: { CPU: 0 }, volunteers: [{ CPU: 2 }] }));
    const v = c.volunteers[0]!;
    const add = remote((a: number, b: number) => a + b);
    expect(await get(add.remote(0, 0))).toBe(0); // warm: the function is sent once

    let before = new Map(c.network.counted());
    expect(await get(add.remote(1, 2))).toBe(3);
    const local = countSince(c, before);

    const child = remote(function child(x: number) {
      return x + 1;
    });
    // Task code sees `ray` (not this file's imports), `child` by its scope.
    const parent = remote({ scope: { child } }, async function parent(x: number) {
      return ray.get(child.remote(x));
    });
    expect(await get(parent.remote(1))).toBe(2); // warm
    const replies = (): number => v.workers.flatMap((w) => w.received).filter((m) => m.type === 'reply').length;
    before = new Map(c.network.counted());
    const repliesBefore = replies();
    expect(await get(parent.remote(5))).toBe(6);
    const nested = countSince(c, before);
    const nestedReplies = replies() - repliesBefore;

    console.log(`local task: ${total(local)} messages ${JSON.stringify(local)}`);
    console.log(`nested task (parent + child): ${total(nested)} messages ${JSON.stringify(nested)}; replies to the worker: ${nestedReplies}`);
    expect(local['to_coordinator:client_reply'] ?? 0).toBe(0);
    // The child's submit is a notification: only the parent's get is answered.
    expect(nested['to_node:client_reply']).toBe(1);
    expect(nestedReplies).toBe(1);
  });
});
