// The request handlers: calls task code makes through its node, answered with client_reply.
import { describe, expect, it } from 'vitest';
import type { FunctionId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { Coordinator } from './coordinator.ts';
import { actorSpec, cluster, nid, ret, taskSpec } from './coordinator.fixture.ts';

describe('Coordinator: requests from task code and introspection', () => {
  function request(c: Coordinator, req: Extract<NodeToCoordinator, { type: 'client_request' }>['req']): CoordinatorToNode[] {
    const replies: CoordinatorToNode[] = [];
    c.handleNodeMessage(nid('n1'), { type: 'client_request', reqId: 1, taskId: null, req }, (m) => replies.push(m));
    return replies;
  }

  it('answers a get that times out with GetTimeoutError', async () => {
    const { c, submit } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    const replies = request(c, { type: 'get', ids: [ret(t)], timeoutMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(replies).toEqual([{ type: 'client_reply', reqId: 1, ok: false, error: expect.objectContaining({ name: 'GetTimeoutError' }) }]);
  });

  it('answers getActor with the actor, or an error naming the missing name', () => {
    const { c, submit } = cluster({ n1: { CPU: 1 } });
    const actor = submit(actorSpec({ name: 'hits' }));
    expect(request(c, { type: 'getActor', name: 'hits' })).toEqual([
      { type: 'client_reply', reqId: 1, ok: true, value: expect.objectContaining({ actorId: actor.actorId, className: 'Counter' }) },
    ]);
    expect(request(c, { type: 'getActor', name: 'nope' })[0]).toMatchObject({ ok: false, error: { message: expect.stringContaining('"nope"') } });
  });

  it('turns a submit it cannot accept into an error reply instead of throwing', () => {
    const { c } = cluster({ n1: { CPU: 1 } });
    expect(request(c, { type: 'submit', spec: taskSpec({ fnId: 'unknown' as FunctionId }) })[0]).toMatchObject({ ok: false });
  });

  it('sums resources over live nodes only', () => {
    const { c } = cluster({ n1: { CPU: 2 }, n2: { CPU: 4, GPU: 1 } });
    expect(c.clusterResources()).toEqual({ CPU: 6, GPU: 1 });
    c.removeNode(nid('n2'), 'left');
    expect(c.clusterResources()).toEqual({ CPU: 2 });
    expect(c.nodeInfos().find((n) => n.nodeId === 'n2')).toMatchObject({ alive: false, available: {} });
  });

  it('lists tasks with their state and leaves out those with task events off', () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const a = submit(taskSpec({ name: 'visible' }));
    submit(taskSpec({ name: 'hidden', enableTaskEvents: false }));
    expect(c.taskInfos().map((t) => t.name)).toEqual(['visible']);
    done('n1', a);
    expect(c.taskInfos('FINISHED').map((t) => [t.name, t.attempts, t.nodeId])).toEqual([['visible', 1, 'n1']]);
  });
});
