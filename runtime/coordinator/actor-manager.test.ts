// The actor manager through the Coordinator: creation, call order, restarts, kill, names.
import { describe, expect, it } from 'vitest';
import { wireError } from '../api/errors.ts';
import type { ActorCreationTaskSpec } from '../protocol/task-spec.ts';
import { actorSpec, cluster, fnDesc, FakeLink, methodSpec, nid, ret, taskSpec, thrown, CLASS_FN, type Cluster } from './coordinator.fixture.ts';

describe('Coordinator: actors', () => {
  function withActor(over: Parameters<typeof actorSpec>[0] = {}): Cluster & { actor: ActorCreationTaskSpec } {
    const cl = cluster({ n1: { CPU: 2 } });
    return { ...cl, actor: cl.submit(actorSpec(over)) };
  }

  it('sends the creation task, then method calls once the actor is up, in each caller’s order', () => {
    const { links, submit, done, actor } = withActor();
    const a1 = submit(methodSpec(actor, 'A'));
    const b1 = submit(methodSpec(actor, 'B'));
    const a2 = submit(methodSpec(actor, 'A'));
    expect(links.n1!.ranIds()).toEqual([actor.taskId]);
    expect(links.n1!.runs()[0]!.fn).toEqual(fnDesc(CLASS_FN, 'class'));
    done('n1', actor, []);
    const sent = links.n1!.ranIds();
    expect(sent).toHaveLength(4);
    expect(sent.indexOf(a1.taskId)).toBeLessThan(sent.indexOf(a2.taskId));
    expect(sent).toContain(b1.taskId);
    expect(links.n1!.runs().slice(1).every((r) => r.fn === undefined)).toBe(true);
  });

  it('holds a caller’s later calls behind a call whose argument is pending', () => {
    const { links, submit, done, actor } = withActor();
    done('n1', actor, []);
    const producer = submit(taskSpec());
    const first = submit(methodSpec(actor, 'A', { args: [{ kind: 'ref', id: ret(producer) }] }));
    const second = submit(methodSpec(actor, 'A'));
    const otherCaller = submit(methodSpec(actor, 'B'));
    expect(links.n1!.ranIds()).toContain(otherCaller.taskId);
    expect(links.n1!.ranIds()).not.toContain(second.taskId);
    done('n1', producer, [1]);
    const sent = links.n1!.ranIds();
    expect(sent.slice(-2)).toEqual([first.taskId, second.taskId]);
  });

  it('re-sends the creation task when the actor dies with restarts left, then sends new calls', () => {
    const { c, links, submit, done, actor, errorOf } = withActor({ maxRestarts: 1 });
    done('n1', actor, []);
    const inflight = submit(methodSpec(actor));
    c.handleNodeMessage(nid('n1'), { type: 'actor_died', actorId: actor.actorId, error: wireError('ActorDiedError', 'worker crashed') });
    const creations = links.n1!.runs().filter((r) => r.spec.taskId === actor.taskId);
    expect(creations.map((r) => r.attempt)).toEqual([1, 2]);
    expect(errorOf(ret(inflight))?.name).toBe('ActorDiedError');
    const later = submit(methodSpec(actor));
    expect(links.n1!.ranIds()).not.toContain(later.taskId);
    done('n1', actor, []);
    expect(links.n1!.ranIds()).toContain(later.taskId);
  });

  it('fails the calls of an actor pinned to a node that left, instead of letting them wait forever: it cannot be placed again', () => {
    const cl = cluster({ n1: { CPU: 2 }, n2: { CPU: 2 } });
    const actor = cl.submit({ ...actorSpec({ maxRestarts: 1 }), strategy: { nodeId: nid('n2'), soft: false } });
    expect(cl.links.n2!.ranIds()).toEqual([actor.taskId]);
    cl.done('n2', actor, []);
    const running = cl.submit(methodSpec(actor));
    cl.c.removeNode(nid('n2'), 'tab closed');
    const later = cl.submit(methodSpec(actor));
    expect(cl.errorOf(ret(running))?.message).toMatch(/its node n2 left/); // running there, no call retries
    expect(cl.errorOf(ret(later))?.name).toBe('ActorDiedError');
    expect(cl.errorOf(ret(later))?.message).toMatch(/died: it cannot be placed: .*node affinity to node n2, which is dead/);
    expect(cl.links.n1!.ranIds()).toEqual([]);
  });

  it('retries a running call on the restarted actor when maxTaskRetries allows', () => {
    const { c, links, submit, done, actor } = withActor({ maxRestarts: 1, maxTaskRetries: 1 });
    done('n1', actor, []);
    const call = submit(methodSpec(actor));
    c.handleNodeMessage(nid('n1'), { type: 'actor_died', actorId: actor.actorId, error: wireError('ActorDiedError', 'worker crashed') });
    done('n1', actor, []);
    expect(links.n1!.runs().filter((r) => r.spec.taskId === call.taskId).map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('fails calls with ActorDiedError once no restarts are left, and frees its name', () => {
    const { c, links, submit, done, actor, errorOf } = withActor({ maxRestarts: 0, name: 'hits' });
    done('n1', actor, []);
    expect(c.getActor('hits')?.actorId).toBe(actor.actorId);
    c.handleNodeMessage(nid('n1'), { type: 'actor_died', actorId: actor.actorId, error: wireError('ActorDiedError', 'worker crashed') });
    const after = submit(methodSpec(actor));
    expect(errorOf(ret(after))?.name).toBe('ActorDiedError');
    expect(links.n1!.runs().filter((r) => r.spec.taskId === actor.taskId)).toHaveLength(1);
    expect(c.getActor('hits')).toBeUndefined();
  });

  it('refuses a second live actor with the same name', () => {
    const { submit, errorOf } = withActor({ name: 'hits' });
    const dup = submit(actorSpec({ name: 'hits' }));
    expect(errorOf(ret(dup))?.message).toMatch(/already exists/);
  });

  it('kills an actor: tells its node, and fails its later calls', () => {
    const { c, links, submit, done, actor, errorOf } = withActor({ maxRestarts: 3 });
    done('n1', actor, []);
    c.killActor(actor.actorId, true);
    expect(links.n1!.sent).toContainEqual({ type: 'kill_actor', actorId: actor.actorId });
    expect(errorOf(ret(submit(methodSpec(actor))))?.name).toBe('ActorDiedError');
  });

  it('never creates an actor killed while it waited for resources, even when a node that has them joins', () => {
    const { c, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const actor = submit({ ...actorSpec(), resources: { CPU: 1, GPU: 1 } });
    c.killActor(actor.actorId, true);
    expect(errorOf(ret(actor))?.name).toBe('ActorDiedError');
    const gpu = new FakeLink();
    c.addNode(nid('gpu'), { CPU: 1, GPU: 1 }, gpu, { isCoordinator: false, gpuFallback: false });
    expect(gpu.runs()).toEqual([]);
    expect(c.availableResources()).toEqual({ CPU: 2, GPU: 1 });
  });

  it('tells the node to kill an actor whose constructor is still running', () => {
    const { c, links, actor } = withActor();
    expect(links.n1!.ranIds()).toEqual([actor.taskId]);
    c.killActor(actor.actorId, true);
    expect(links.n1!.sent).toContainEqual({ type: 'kill_actor', actorId: actor.actorId });
  });

  it('fails the actor for good when its constructor throws', () => {
    const { submit, fail, actor, errorOf } = withActor({ maxRestarts: 2 });
    const call = submit(methodSpec(actor));
    fail('n1', actor, thrown(new Error('bad config')));
    expect(errorOf(ret(actor))?.message).toMatch(/constructor failed: Error: bad config/);
    expect(errorOf(ret(call))?.name).toBe('ActorDiedError');
  });
});
