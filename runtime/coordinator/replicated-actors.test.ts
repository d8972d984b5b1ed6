// Replicated actors at the coordinator, against a volunteer that reports what it should not: a
// replica's reports cannot put it back in the actor, kill the actor, or slip a wrong result past
// the vote. (The behaviour with real nodes is runtime/testing/replicated-actors.test.ts.)
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TaskResult } from '../protocol/node-messages.ts';
import { resultSha256 } from '../protocol/result-hash.ts';
import type { ActorCreationTaskSpec, TaskSpec } from '../protocol/task-spec.ts';
import { actorSpec, cluster, crash, methodSpec, nid, ret, type Cluster } from './coordinator.fixture.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

/** `node` reports `spec` done with one stored result of hash `sha`. */
function report(k: Cluster, node: string, spec: TaskSpec, sha: string): void {
  const r: TaskResult = { id: ret(spec), size: 1 << 20, sha256: sha };
  k.done(node, spec, [null], { results: [r] });
}

/** A replicated actor (one CPU held per replica) created on n1, n2, n3: its first replica and the others. */
function replicated(k: Cluster, n = 3): { spec: ActorCreationTaskSpec; primary: string; others: string[] } {
  const spec = { ...actorSpec(), heldResources: { CPU: 1 }, replicas: n } as ActorCreationTaskSpec;
  k.submit(spec);
  const nodes = Object.entries(k.links).filter(([, l]) => l.runs().some((r) => r.spec.taskId === spec.taskId));
  const primary = nodes.find(([, l]) => l.runs().find((r) => r.spec.taskId === spec.taskId)!.attempt === 1)![0];
  const others = nodes.map(([name]) => name).filter((name) => name !== primary);
  for (const [name] of nodes) k.done(name, spec);
  return { spec, primary, others };
}

const mismatchesOf = (k: Cluster, node: string) => k.c.nodeInfos().find((n) => n.nodeId === nid(node))!.mismatches;

describe('Coordinator: replicated actors against a misbehaving replica', () => {
  beforeEach(() => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());

  it('actor_died from the first replica drops that replica only, as from any other', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const { spec, primary, others } = replicated(k);
    k.c.handleNodeMessage(nid(primary), { type: 'actor_died', actorId: spec.actorId, error: crash() });
    const m = k.submit(methodSpec(spec));
    for (const n of others) report(k, n, m, A);
    expect(k.errorOf(ret(m))).toBeUndefined();
    expect(k.c.locate(ret(m))?.nodes.slice().sort()).toEqual([...others].sort());
  });

  it('an outvoted first replica cannot put itself back in the actor by reporting its creation again', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const { spec, primary, others } = replicated(k);
    const m1 = k.submit(methodSpec(spec));
    report(k, primary, m1, B); // the first replica lies
    for (const n of others) report(k, n, m1, A);
    expect(mismatchesOf(k, primary)).toBe(1);
    k.done(primary, spec);
    const m2 = k.submit(methodSpec(spec));
    expect(k.links[primary]!.runs().filter((r) => r.spec.taskId === m2.taskId)).toEqual([]);
    for (const n of others) expect(k.links[n]!.runs().filter((r) => r.spec.taskId === m2.taskId)).toHaveLength(1);
  });

  it('an outvoted first replica cannot kill the actor by reporting its creation failed', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const { spec, primary, others } = replicated(k);
    const m1 = k.submit(methodSpec(spec));
    report(k, primary, m1, B);
    for (const n of others) report(k, n, m1, A);
    k.fail(primary, spec, crash(), true);
    const m2 = k.submit(methodSpec(spec));
    for (const n of others) report(k, n, m2, A);
    expect(k.errorOf(ret(m2))).toBeUndefined();
  });

  it('judges a replica whose inline result is still being hashed when the majority lands: the liar is caught and dropped', async () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const { spec, primary, others } = replicated(k);
    const m = k.submit(methodSpec(spec));
    const inline = async (v: number): Promise<TaskResult> => ({ id: ret(m), size: 8, obj: { v, size: 8 }, sha256: await resultSha256({ v }) });
    const [good, bad] = [await inline(1), await inline(666)];
    k.done(primary, m, [1], { results: [good] });
    k.done(others[0]!, m, [1], { results: [good] });
    k.done(others[1]!, m, [666], { results: [bad] });
    await vi.waitFor(() => expect(mismatchesOf(k, others[1]!)).toBe(1));
    expect(k.c.locate(ret(m))?.obj?.v).toBe(1);
    expect(k.links[others[1]!]!.sent.some((x) => x.type === 'kill_actor')).toBe(true);
  });

  it('drops, without blame, a replica that reports it did not run a call (its state is behind the others’)', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 }, n3: { CPU: 1 } });
    const { spec, primary, others } = replicated(k);
    const m1 = k.submit(methodSpec(spec));
    report(k, primary, m1, A);
    k.fail(others[1]!, m1, { name: 'ObjectLostError', message: 'could not fetch an argument of Counter.incr' }, false);
    report(k, others[0]!, m1, A);
    expect(k.errorOf(ret(m1))).toBeUndefined();
    expect(mismatchesOf(k, others[1]!)).toBe(0);
    const m2 = k.submit(methodSpec(spec));
    expect(k.links[others[1]!]!.runs().filter((r) => r.spec.taskId === m2.taskId)).toEqual([]);
  });

  it('refuses a replicated actor that would restart or run calls side by side, whoever submits it', () => {
    const k = cluster({ head: { CPU: 0 }, n1: { CPU: 1 }, n2: { CPU: 1 } });
    const base = actorSpec();
    const spec = { ...base, replicas: 2, actor: { ...base.actor, maxRestarts: 3 } } as ActorCreationTaskSpec;
    k.submit(spec);
    expect(k.errorOf(ret(spec))?.message).toMatch(/a replicated actor runs one call at a time and is not restarted/);
    expect(Object.values(k.links).flatMap((l) => l.runs())).toEqual([]);
  });
});
