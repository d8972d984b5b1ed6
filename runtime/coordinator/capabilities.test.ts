// The capability model: what a volunteer node may do. Each forged message is refused (an error
// reply for requests), counted as a strike, keeps nothing, and an honest job still finishes.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HolderId, NodeId, ObjectId, TaskId } from '../protocol/ids.ts';
import type { ClientRequest } from '../protocol/client-requests.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { NormalTaskSpec } from '../protocol/task-spec.ts';
import { VOLUNTEER_STRIKE_LIMIT } from './constants.ts';
import { actorSpec, cluster, nid, ret, taskSpec, type Cluster } from './coordinator.fixture.ts';

let warn: { mock: { calls: unknown[][] } };
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const V1 = nid('v1');
const V2 = nid('v2');

/** The head (the coordinator's own node, no CPU) and two volunteers. */
function start(): Cluster {
  return cluster({ head: { CPU: 0 }, v1: { CPU: 1 }, v2: { CPU: 1 } });
}

const on = (node: NodeId, over: Partial<NormalTaskSpec> = {}): NormalTaskSpec => taskSpec({ strategy: { nodeId: node, soft: false }, ...over });

function send(k: Cluster, from: NodeId, msg: NodeToCoordinator): CoordinatorToNode[] {
  const replies: CoordinatorToNode[] = [];
  k.c.handleNodeMessage(from, msg, (m) => replies.push(m));
  return replies;
}

function request(k: Cluster, from: NodeId, taskId: TaskId | null, req: ClientRequest, holder = 'v1-w0' as HolderId): CoordinatorToNode[] {
  return send(k, from, { type: 'client_request', reqId: 7, taskId, req, holder });
}

const refusal = (message: RegExp): unknown => [{ type: 'client_reply', reqId: 7, ok: false, error: { name: 'PermissionError', message: expect.stringMatching(message) } }];

/** An honest job alongside: a task on v2, finished by v2. */
function honestJob(k: Cluster): void {
  const t = k.submit(on(V2));
  k.done('v2', t, [42]);
  expect(k.c.locate(ret(t))?.obj?.v).toBe(42);
}

describe('capabilities: reports on assigned tasks', () => {
  it('refuses tasks_waiting naming a task assigned to another node: a strike, and no resources move', () => {
    const k = start();
    const t = k.submit(on(V1));
    const before = k.c.availableResources();
    send(k, V2, { type: 'tasks_waiting', taskIds: [t.taskId] });
    send(k, V2, { type: 'tasks_waiting', taskIds: ['never-submitted' as TaskId] });
    expect(k.c.strikesOf(V2)).toBe(2);
    expect(k.c.availableResources()).toEqual(before);
    for (const l of Object.values(k.links)) expect(l.sent.some((m) => m.type === 'start_task')).toBe(false);
    k.done('v1', t, [1]);
    expect(k.c.locate(ret(t))?.obj?.v).toBe(1);
    honestJob(k);
  });

  it('refuses task_done, task_started and task_blocked for a task assigned to another node', () => {
    const k = start();
    const t = k.submit(on(V1));
    k.c.handleNodeMessage(V2, { type: 'task_started', taskId: t.taskId, workerId: 'x' as never, atMs: 0 });
    k.c.handleNodeMessage(V2, { type: 'task_blocked', taskId: t.taskId });
    k.done('v2', t, ['FORGED'], { attempt: 1 });
    expect(k.c.strikesOf(V2)).toBe(3);
    expect(k.c.locate(ret(t))).toBeUndefined();
    expect(k.c.taskInfos()[0]!.state).toBe('SUBMITTED_TO_WORKER'); // not RUNNING on v2's word
    expect(k.c.availableResources().CPU).toBe(1); // v1's CPU was not lent back
    k.done('v1', t, [1]);
    expect(k.c.locate(ret(t))?.obj?.v).toBe(1);
    expect(k.c.strikesOf(V1)).toBe(0);
    honestJob(k);
  });

  it('refuses a task_done naming another object as its result, keeps nothing and retries the attempt', () => {
    const k = start();
    k.c.putObject('driver-p0' as ObjectId, 8, { v: 'mine', size: 8 }, nid('head'));
    const other = k.submit(on(V2));
    const t = k.submit(on(V1, { maxRetries: 1 }));
    for (const id of ['driver-p0', ret(other)] as ObjectId[]) {
      k.c.handleNodeMessage(V1, { type: 'task_done', taskId: t.taskId, attempt: k.links.v1!.runs().at(-1)!.attempt, workerId: null, startMs: 0, endMs: 1, results: [{ id, size: 6, obj: { v: 'FORGED', size: 6 } }] });
    }
    expect(k.c.strikesOf(V1)).toBe(2);
    expect(k.c.locate('driver-p0' as ObjectId)?.obj?.v).toBe('mine');
    expect(k.c.locate(ret(other))).toBeUndefined();
    // Each malformed completion failed the attempt: retried once, then failed, never left waiting.
    expect(k.links.v1!.runs().map((r) => r.attempt)).toEqual([1, 2]);
    expect(k.errorOf(ret(t))).toMatchObject({ name: 'RaySystemError', message: expect.stringMatching(/malformed report/) });
    k.done('v2', other, [2]);
    expect(k.c.locate(ret(other))?.obj?.v).toBe(2);
  });

  it('fails the attempt of a task_done with fewer results than returns instead of wedging the task', () => {
    const k = start();
    const t = k.submit(on(V1, { numReturns: 2, maxRetries: 1 }));
    k.done('v1', t, ['only one']);
    expect(k.c.strikesOf(V1)).toBe(1);
    expect(k.links.v1!.runs().map((r) => r.attempt)).toEqual([1, 2]);
    k.done('v1', t, ['a', 'b']);
    expect([k.c.locate(ret(t, 0))?.obj?.v, k.c.locate(ret(t, 1))?.obj?.v]).toEqual(['a', 'b']);
  });

  it('refuses generator items that skip ahead or name another object, failing the attempt', () => {
    const k = start();
    const t = k.submit(on(V1, { numReturns: 'streaming' }));
    const item = (index: number, id: ObjectId): NodeToCoordinator => ({ type: 'generator_item', taskId: t.taskId, attempt: 1, index, result: { id, size: 8, obj: { v: index, size: 8 } } });
    k.c.handleNodeMessage(V1, item(0, ret(t, 0)));
    k.c.handleNodeMessage(V1, item(5, ret(t, 5)));
    expect(k.c.strikesOf(V1)).toBe(1);
    expect(k.errorOf(ret(t, 1))).toMatchObject({ name: 'RaySystemError' }); // the stream ends with the failure
    const u = k.submit(on(V1, { numReturns: 'streaming' }));
    k.c.handleNodeMessage(V1, { type: 'generator_item', taskId: u.taskId, attempt: 1, index: 0, result: { id: ret(t, 0), size: 8, obj: { v: 'FORGED', size: 8 } } });
    expect(k.c.strikesOf(V1)).toBe(2);
    expect(k.c.locate(ret(t, 0))?.obj?.v).toBe(0);
  });

  it('takes a late report about a task the coordinator moved on from quietly (no strike)', () => {
    const k = start();
    const a = k.submit({ ...actorSpec(), strategy: { nodeId: V1, soft: false } });
    k.done('v1', a);
    const call = k.submit(taskSpec({ kind: 'actor-method', actorId: a.actorId, method: 'm', resources: {} }));
    expect(k.links.v1!.ranIds()).toContain(call.taskId);
    k.c.killActor(a.actorId, true); // the call fails at once; v1 learns it later
    k.c.handleNodeMessage(V1, { type: 'task_unblocked', taskId: call.taskId });
    k.done('v1', call, [1]);
    k.c.handleNodeMessage(V1, { type: 'actor_died', actorId: a.actorId, error: { name: 'Error', message: 'killed' } });
    expect(k.c.strikesOf(V1)).toBe(0);
    expect(k.errorOf(ret(call))).toMatchObject({ name: 'ActorDiedError' });
    // The same report again is no longer late: the node was told the task only once.
    k.done('v1', call, [1]);
    expect(k.c.strikesOf(V1)).toBe(1);
  });

  it('refuses actor_died for an actor that is not on the sending node', () => {
    const k = start();
    const a = k.submit({ ...actorSpec(), strategy: { nodeId: V1, soft: false } });
    k.done('v1', a);
    k.c.handleNodeMessage(V2, { type: 'actor_died', actorId: a.actorId, error: { name: 'Error', message: 'forged' } });
    expect(k.c.strikesOf(V2)).toBe(1);
    expect(k.c.getActor('x')).toBeUndefined();
    const call = k.submit({ ...taskSpec({ kind: 'actor-method', actorId: a.actorId, method: 'm', resources: {} }) });
    expect(k.links.v1!.ranIds()).toContain(call.taskId); // still alive, calls still go to v1
  });
});

describe('capabilities: objects and refs', () => {
  it('refuses an object_put that would overwrite an object, take a return id, or name the driver', () => {
    const k = start();
    k.c.putObject('driver-p0' as ObjectId, 8, { v: 'mine', size: 8 }, nid('head'));
    const t = k.submit(on(V2));
    const put = (id: string, holder?: string): void =>
      k.c.handleNodeMessage(V1, { type: 'object_put', id: id as ObjectId, size: 6, obj: { v: 'FORGED', size: 6 }, ...(holder ? { holder: holder as HolderId } : {}) });
    put('driver-p0', 'v1-w0');
    put(ret(t), 'v1-w0');
    put('fresh-p1');
    put('fresh-p2', 'driver');
    expect(k.c.strikesOf(V1)).toBe(4);
    expect(k.c.locate('driver-p0' as ObjectId)?.obj?.v).toBe('mine');
    expect(k.c.hasObject('fresh-p1' as ObjectId) || k.c.hasObject('fresh-p2' as ObjectId)).toBe(false);
    put('fresh-p3', 'v1-w0'); // an honest put
    expect(k.c.locate('fresh-p3' as ObjectId)?.obj?.v).toBe('FORGED');
    k.done('v2', t, [3]);
    expect(k.c.locate(ret(t))?.obj?.v).toBe(3);
  });

  it("refuses refs for the driver's or another node's holders", () => {
    const k = start();
    k.c.putObject('driver-p0' as ObjectId, 8, { v: 'mine', size: 8 }, nid('head'));
    k.c.handleNodeMessage(V2, { type: 'object_put', id: 'v2-p0' as ObjectId, size: 8, obj: { v: 'v2', size: 8 }, holder: 'v2-w0' as HolderId });
    k.c.handleNodeMessage(V1, { type: 'refs', holder: 'driver' as HolderId, release: ['driver-p0' as ObjectId] });
    k.c.handleNodeMessage(V1, { type: 'refs', holder: 'v2-w0' as HolderId, gone: true });
    expect(k.c.strikesOf(V1)).toBe(2);
    expect(k.c.hasObject('driver-p0' as ObjectId)).toBe(true);
    expect(k.c.hasObject('v2-p0' as ObjectId)).toBe(true);
    k.c.handleNodeMessage(V2, { type: 'refs', holder: 'v2-w0' as HolderId, release: ['v2-p0' as ObjectId] }); // its own
    expect(k.c.hasObject('v2-p0' as ObjectId)).toBe(false);
    expect(k.c.strikesOf(V2)).toBe(0);
  });

  it('lists a node as holding an object only when it was told to pull it', () => {
    const k = start();
    const big = k.submit(on(V2));
    k.done('v2', big, [null], { results: [{ id: ret(big), size: 1 << 20 }] }); // kept on v2
    k.c.handleNodeMessage(V1, { type: 'object_located', id: ret(big) });
    expect(k.c.strikesOf(V1)).toBe(1);
    expect(k.c.locate(ret(big))?.nodes).toEqual([V2]);
    const uses = k.submit(on(V1, { args: [{ kind: 'ref', id: ret(big) }] })); // v1 is told where it is
    expect(k.links.v1!.runs().at(-1)!.spec.taskId).toBe(uses.taskId);
    k.c.handleNodeMessage(V1, { type: 'object_located', id: ret(big) });
    expect(k.c.locate(ret(big))?.nodes).toEqual([V2, V1]);
    expect(k.c.strikesOf(V1)).toBe(1);
  });
});

describe('capabilities: requests on behalf of a running task', () => {
  it('refuses a request that names no task, or a task not running on the node, with a clear error', () => {
    const k = start();
    const t = k.submit(on(V2));
    expect(request(k, V1, null, { type: 'put', id: 'v1-p0' as ObjectId, obj: { v: 1, size: 8 } })).toEqual(refusal(/names no task.*running on its node/));
    expect(request(k, V1, t.taskId, { type: 'getActor', name: 'x' })).toEqual(refusal(new RegExp(`task ${t.taskId}, which is not running on this node`)));
    expect(k.c.strikesOf(V1)).toBe(2);
    expect(k.c.hasObject('v1-p0' as ObjectId)).toBe(false);
    k.done('v2', t, [1]);
    expect(k.c.locate(ret(t))?.obj?.v).toBe(1);
  });

  it('accepts a nested submit from a running task, attributed to it, and refuses one that reuses a task id', () => {
    const k = start();
    const parent = k.submit(on(V1));
    const child = on(V2, { parentTaskId: parent.taskId, callerId: 'v1-w0' as HolderId });
    expect(request(k, V1, parent.taskId, { type: 'submit', spec: child })).toEqual([{ type: 'client_reply', reqId: 7, ok: true, value: null }]);
    expect(k.links.v2!.ranIds()).toContain(child.taskId);
    expect(request(k, V1, parent.taskId, { type: 'submit', spec: on(V2, { taskId: child.taskId, parentTaskId: parent.taskId, callerId: 'v1-w0' as HolderId }) })).toEqual(refusal(/reusing the id/));
    expect(request(k, V1, parent.taskId, { type: 'submit', spec: on(V2, { parentTaskId: 'other' as TaskId, callerId: 'v1-w0' as HolderId }) })).toEqual(refusal(/not the requesting task/));
    expect(request(k, V1, parent.taskId, { type: 'submit', spec: on(V2, { parentTaskId: parent.taskId }) })).toEqual(refusal(/caller driver/));
    expect(k.c.strikesOf(V1)).toBe(3);
    k.done('v2', child, [5]);
    expect(k.c.locate(ret(child))?.obj?.v).toBe(5);
  });

  it("never places a task a volunteer's task submitted on the coordinator's own node, whose workers share the page's origin", () => {
    const k = cluster({ head: { CPU: 4 }, v1: { CPU: 1 }, v2: { CPU: 1 } }, { ownNode: 'head' });
    const parent = k.submit(taskSpec({ strategy: { nodeId: V1, soft: false } }));
    // Both children would go to the roomy head if the driver had submitted them (DEFAULT packs).
    const children = [0, 1].map(() => taskSpec({ parentTaskId: parent.taskId, callerId: 'v1-w0' as HolderId }));
    for (const child of children) expect(request(k, V1, parent.taskId, { type: 'submit', spec: child })[0]).toMatchObject({ ok: true });
    expect(k.links.head!.ranIds()).toEqual([]);
    expect(k.links.v2!.ranIds()).toContain(children[0]!.taskId);
    // The second waits for a volunteer's CPU (v1's is lent back only while its parent blocks).
    const driverTask = k.submit(taskSpec());
    expect(k.links.head!.ranIds()).toEqual([driverTask.taskId]);
  });

  it('answers listing requests with an error saying they are the driver’s, without a strike, and shows only the own node', () => {
    const k = start();
    const t = k.submit(on(V1));
    expect(request(k, V1, t.taskId, { type: 'tasks' })).toEqual(refusal(/driver's power/));
    expect(request(k, V1, t.taskId, { type: 'timeline' })).toEqual(refusal(/driver's power/));
    expect(k.c.strikesOf(V1)).toBe(0);
    const [view] = request(k, V1, t.taskId, { type: 'clusterView' });
    expect(view).toMatchObject({ ok: true, value: { nodes: [{ nodeId: 'v1' }], total: { CPU: 2 } } });
    const [driverView] = send(k, nid('head'), { type: 'client_request', reqId: 1, taskId: null, req: { type: 'clusterView' } });
    expect((driverView as { value: { nodes: unknown[] } }).value.nodes).toHaveLength(3);
  });

  it('refuses killing an actor and cancelling a task that no task of the node started', () => {
    const k = cluster({ head: { CPU: 0 }, v1: { CPU: 1 }, v2: { CPU: 2 } });
    const a = k.submit({ ...actorSpec(), strategy: { nodeId: V2, soft: false } });
    k.done('v2', a);
    const other = k.submit(on(V2));
    const t = k.submit(on(V1));
    expect(request(k, V1, t.taskId, { type: 'kill', actorId: a.actorId, noRestart: true })).toEqual(refusal(/which no task of this node created/));
    expect(request(k, V1, t.taskId, { type: 'cancel', id: ret(other), force: true, recursive: false })).toEqual(refusal(/which no task of this node submitted/));
    expect(k.c.strikesOf(V1)).toBe(2);
    expect(k.links.v2!.sent.some((m) => m.type === 'kill_actor' || m.type === 'cancel_task')).toBe(false);
    // Its own actor it may kill.
    const own = { ...actorSpec(), strategy: { nodeId: V2, soft: false } as const, parentTaskId: t.taskId, callerId: 'v1-w0' as HolderId };
    expect(request(k, V1, t.taskId, { type: 'submit', spec: own })[0]).toMatchObject({ ok: true });
    k.done('v2', own);
    expect(request(k, V1, t.taskId, { type: 'kill', actorId: own.actorId, noRestart: true })[0]).toMatchObject({ ok: true });
    expect(k.links.v2!.sent.filter((m) => m.type === 'kill_actor')).toEqual([{ type: 'kill_actor', actorId: own.actorId }]);
  });
});

describe('capabilities: strikes', () => {
  it(`drops a node at its ${VOLUNTEER_STRIKE_LIMIT}th strike as if it had left, retrying its task elsewhere`, () => {
    const k = cluster({ head: { CPU: 0 }, v1: { CPU: 1 }, v2: { CPU: 1 } });
    const close = vi.fn();
    Object.assign(k.links.v1!, { close });
    const t = k.submit(taskSpec({ maxRetries: 1 }));
    expect(k.links.v1!.ranIds()).toEqual([t.taskId]);
    for (let i = 0; i < VOLUNTEER_STRIKE_LIMIT; i++) k.c.handleNodeMessage(V1, { type: 'refs', holder: 'driver' as HolderId, add: [] });
    expect(close).toHaveBeenCalledTimes(1);
    expect(close.mock.calls[0]![0]).toMatch(/10 refused messages/);
    expect(k.c.nodeInfos().find((n) => n.nodeId === 'v1')?.alive).toBe(false);
    expect(warn.mock.calls.some((call) => /dropping node v1/.test(String(call[0])))).toBe(true);
    // Nothing more from it counts; its task runs on v2 and finishes there.
    k.done('v1', t, ['FORGED']);
    expect(k.links.v2!.ranIds()).toEqual([t.taskId]);
    k.done('v2', t, ['ok']);
    expect(k.c.locate(ret(t))?.obj?.v).toBe('ok');
  });
});
