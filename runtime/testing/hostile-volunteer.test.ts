import { describe, expect, it, vi } from 'vitest';
import { get, put, remote } from '../api/ray-api.ts';
import { VOLUNTEER_STRIKE_LIMIT } from '../coordinator/constants.ts';
import type { HolderId, ObjectId, TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import { useInMemoryCluster, waitFor, type InMemoryCluster, type Volunteer } from './in-memory-cluster.fixture.ts';

// A volunteer that speaks the protocol directly over its real link, while honest volunteers run a
// job: its forged messages are refused and counted, it is dropped at the strike limit, nothing it
// sent is kept, and the job finishes with correct results.

const clusters = useInMemoryCluster();

function forge(c: InMemoryCluster, v: Volunteer, msg: NodeToCoordinator): void {
  v.mesh.send(c.head.nodeId, { type: 'to_coordinator', msg });
}

const refusals = (): string[] => clusters.warn().mock.calls.map((call) => String(call[0])).filter((m) => /\] refused /.test(m));

describe('a hostile volunteer in an in-memory cluster', () => {
  it('runs an honest job with no refusals', async () => {
    await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const square = remote((x: number) => x * x);
    const big = put(new Float64Array(20_000).fill(2));
    const sum = remote((a: Float64Array) => a.reduce((s, y) => s + y, 0));
    const out = get([sum.remote(big), ...[1, 2, 3].map((i) => square.remote(i))]);
    expect(await out).toEqual([40_000, 1, 4, 9]);
    expect(refusals()).toEqual([]);
  });

  it('is refused, counted and dropped, keeps nothing, and the job on honest volunteers finishes', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const [bad, honest] = c.volunteers as [Volunteer, Volunteer];
    const replies: Extract<CoordinatorToNode, { type: 'client_reply' }>[] = [];
    const handle = bad.node.handle.bind(bad.node);
    vi.spyOn(bad.node, 'handle').mockImplementation((m: CoordinatorToNode) => {
      if (m.type === 'client_reply') replies.push(m);
      else handle(m);
    });
    const mine = put({ secret: 'the driver’s' });
    const slow = remote({ schedulingStrategy: { nodeId: honest.nodeId, soft: false } }, (x: number) => x + 1);
    const job = Array.from({ length: 10 }, (_, i) => slow.remote(i));

    const forged: NodeToCoordinator[] = [
      { type: 'object_put', id: mine.id, size: 6, obj: { v: 'FORGED', size: 6 }, holder: 'w' as HolderId },
      { type: 'refs', holder: 'driver' as HolderId, release: [mine.id] },
      { type: 'object_located', id: mine.id },
      { type: 'task_done', taskId: 'nope' as TaskId, attempt: 1, workerId: null, startMs: 0, endMs: 0, results: [{ id: mine.id, size: 6, obj: { v: 'FORGED', size: 6 } }] },
      { type: 'client_request', reqId: 1, taskId: null, req: { type: 'put', id: 'x-p0' as ObjectId, obj: { v: 1, size: 8 } }, holder: 'w' as HolderId },
      { type: 'client_request', reqId: 2, taskId: 'nope' as TaskId, req: { type: 'clusterView' }, holder: 'w' as HolderId },
    ];
    for (const m of forged) forge(c, bad, m);
    await waitFor(() => c.coordinator.strikesOf(bad.nodeId) === forged.length, 'the forged messages to be counted');
    await waitFor(() => replies.length === 2, 'the refusals to be answered');
    expect(replies.map((r) => (r.ok ? 'ok' : `${r.error.name}: ${r.error.message}`))).toEqual([
      expect.stringMatching(/^PermissionError: .*names no task/),
      expect.stringMatching(/^PermissionError: .*not running on this node/),
    ]);
    expect(c.coordinator.locate(mine.id)?.obj?.v).toEqual({ secret: 'the driver’s' });
    expect(c.coordinator.locate(mine.id)?.nodes ?? []).not.toContain(bad.nodeId);

    for (let i = forged.length; i < VOLUNTEER_STRIKE_LIMIT; i++) forge(c, bad, { type: 'task_blocked', taskId: `t${i}` as TaskId });
    await waitFor(() => c.coordinator.nodeInfos().find((n) => n.nodeId === bad.nodeId)?.alive === false, 'the hostile volunteer to be dropped');
    expect(c.head.mesh.existing(bad.nodeId)).toBeUndefined(); // its link was closed
    expect(await get(job)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(await get(mine)).toEqual({ secret: 'the driver’s' });
    expect(c.coordinator.strikesOf(honest.nodeId)).toBe(0);
    expect(refusals()).toHaveLength(VOLUNTEER_STRIKE_LIMIT);
  });
});
