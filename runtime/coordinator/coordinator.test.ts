// A task's life through the Coordinator: running, dependencies, retries, cancellation, stop, generators.
import { describe, expect, it } from 'vitest';
import { wireError } from '../api/errors.ts';
import type { FunctionId, HolderId, ObjectId } from '../protocol/ids.ts';
import type { NormalTaskSpec, TaskSpec } from '../protocol/task-spec.ts';
import type { Coordinator } from './coordinator.ts';
import { cluster, crash, fnDesc, FakeLink, nid, ret, taskSpec, thrown, ValueError } from './coordinator.fixture.ts';

describe('Coordinator: running tasks', () => {
  it('sends a submitted task to a node, with the function descriptor the first time only', () => {
    const { links, submit } = cluster({ n1: { CPU: 4 } });
    const t1 = submit(taskSpec({ args: [{ kind: 'value', obj: { v: 21, size: 8 } }] }));
    const t2 = submit(taskSpec());
    const [r1, r2] = links.n1!.runs();
    expect(r1).toMatchObject({ spec: { taskId: t1.taskId }, attempt: 1, args: [{ kind: 'inline', obj: { v: 21 } }] });
    expect(r1!.fn).toEqual(fnDesc());
    expect(r2!.spec.taskId).toBe(t2.taskId);
    expect(r2!.fn).toBeUndefined();
  });

  it('refuses a task whose function was never registered', () => {
    const { c } = cluster({ n1: { CPU: 1 } });
    expect(() => c.submitTask(taskSpec({ fnId: 'nope' as FunctionId }))).toThrow(/unknown function/);
  });

  it('makes results locatable and wakes waitObjects when the task is done', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    expect(c.locate(ret(t))).toBeUndefined();
    const waiting = c.waitObjects([ret(t)], 1, null);
    done('n1', t, [42]);
    await expect(waiting).resolves.toEqual([0]);
    expect(c.locate(ret(t))).toEqual({ obj: { v: 42, size: 8 }, nodes: [] });
  });

  it('reports a large result by the node that holds it', () => {
    const { c, submit } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: t.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(t), size: 1e6 }] });
    expect(c.locate(ret(t))).toEqual({ nodes: ['n1'] });
  });

  it('makes every return of a numReturns: 2 task ready', () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ numReturns: 2 }));
    done('n1', t, ['a', 'b']);
    expect(c.locate(ret(t, 0))?.obj?.v).toBe('a');
    expect(c.locate(ret(t, 1))?.obj?.v).toBe('b');
  });

  it('resolves waitObjects with what is ready when the timeout passes', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 2 } });
    const a = submit(taskSpec());
    const b = submit(taskSpec());
    done('n1', b, [1]);
    await expect(c.waitObjects([ret(a), ret(b)], 2, 5)).resolves.toEqual([1]);
    await expect(c.waitObjects([ret(a), ret(b)], 1, 0)).resolves.toEqual([1]);
  });

  it('resolves a wait for the same object listed twice once it is ready (ray.get([ref, ref]))', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec());
    let settled: number[] | undefined;
    void c.waitObjects([ret(t), ret(t)], 2, null).then((r) => (settled = r));
    done('n1', t, [1]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(settled).toEqual([0, 1]);
  });

  it('ignores a task_done from an earlier attempt or another node', () => {
    const { c, links, submit, fail, done } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 1 }));
    fail('n1', t, crash(), true);
    expect(links.n1!.runs().map((r) => r.attempt)).toEqual([1, 2]);
    done('n1', t, ['stale'], { attempt: 1 });
    done('n2', t, ['wrong node'], { attempt: 2 });
    expect(c.locate(ret(t))).toBeUndefined();
    done('n1', t, ['fresh'], { attempt: 2 });
    expect(c.locate(ret(t))?.obj?.v).toBe('fresh');
  });
});

describe('Coordinator: dependencies', () => {
  it('holds a task until its ObjectRef argument is ready, then sends the value inline', () => {
    const { links, submit, done } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    expect(links.n1!.ranIds()).toEqual([producer.taskId]);
    done('n1', producer, [7]);
    const run = links.n1!.runs().find((r) => r.spec.taskId === consumer.taskId);
    expect(run?.args).toEqual([{ kind: 'inline', obj: { v: 7, size: 8 } }]);
  });

  it('tells the node where to pull a large argument from', () => {
    const { c, links, submit } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: producer.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(producer), size: 1e6 }] });
    const run = links.n1!.runs().find((r) => r.spec.taskId === consumer.taskId);
    expect(run?.args).toEqual([{ kind: 'located', id: ret(producer), nodes: ['n1'] }]);
  });

  it('fails a task whose argument failed with the same error, without running it', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    const err = thrown(new TypeError('bad input'));
    fail('n1', producer, err);
    expect(errorOf(ret(consumer))).toEqual(err);
    expect(links.n1!.ranIds()).not.toContain(consumer.taskId);
  });

  it('fails a task at once when its argument had already failed', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const err = thrown(new RangeError('x'));
    fail('n1', producer, err);
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    expect(errorOf(ret(consumer))?.cause?.name).toBe('RangeError');
    expect(links.n1!.ranIds()).not.toContain(consumer.taskId);
  });
});

describe('Coordinator: retries', () => {
  it('retries a system failure up to maxRetries times, then fails with the error', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 2 }));
    fail('n1', t, crash(), true);
    fail('n1', t, crash(), true);
    expect(errorOf(ret(t))).toBeUndefined();
    fail('n1', t, crash(), true);
    expect(links.n1!.runs().map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(errorOf(ret(t))?.name).toBe('WorkerCrashedError');
  });

  it('does not retry a task that threw when retryExceptions is false', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 3 }));
    fail('n1', t, thrown(new Error('boom')));
    expect(links.n1!.runs()).toHaveLength(1);
    expect(errorOf(ret(t))?.name).toBe('RayTaskError');
  });

  it('retries only the exception classes retryExceptions lists, matching base classes too', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 4 } });
    const listed = submit(taskSpec({ maxRetries: 3, retryExceptions: ['ValueError'] }));
    const byBase = submit(taskSpec({ maxRetries: 3, retryExceptions: ['Error'] }));
    const other = submit(taskSpec({ maxRetries: 3, retryExceptions: ['ValueError'] }));
    fail('n1', listed, thrown(new ValueError('v')));
    fail('n1', byBase, thrown(new ValueError('v')));
    fail('n1', other, thrown(new TypeError('t')));
    const attempts = (s: TaskSpec): number => links.n1!.runs().filter((r) => r.spec.taskId === s.taskId).length;
    expect(attempts(listed)).toBe(2);
    expect(attempts(byBase)).toBe(2);
    expect(attempts(other)).toBe(1);
    expect(errorOf(ret(other))?.cause?.name).toBe('TypeError');
  });

  it('retries any exception with retryExceptions: true while maxRetries allows', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 1, retryExceptions: true }));
    fail('n1', t, thrown(new Error('once')));
    fail('n1', t, thrown(new Error('twice')));
    expect(links.n1!.runs()).toHaveLength(2);
    expect(errorOf(ret(t))?.cause?.message).toBe('twice');
  });

  it('retries forever with maxRetries: -1', () => {
    const { links, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: -1 }));
    for (let i = 0; i < 10; i++) fail('n1', t, crash(), true);
    expect(links.n1!.runs()).toHaveLength(11);
    expect(errorOf(ret(t))).toBeUndefined();
  });

  it('retries the tasks of a node that left on another node, then fails them with NodeDiedError', () => {
    const { c, links, submit, errorOf } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    const running = submit(taskSpec({ maxRetries: 1 }));
    expect(links.n1!.ranIds()).toEqual([running.taskId]);
    c.removeNode(nid('n1'), 'tab closed');
    expect(links.n2!.runs().find((r) => r.spec.taskId === running.taskId)?.attempt).toBe(2);
    c.removeNode(nid('n2'), 'tab closed');
    expect(errorOf(ret(running))?.name).toBe('NodeDiedError');
  });

  it('recomputes a task result whose only copy was on a node that left, by running the task again', () => {
    const { c, links, submit } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    submit(taskSpec());
    const stored = submit(taskSpec());
    expect(links.n2!.ranIds()).toEqual([stored.taskId]);
    c.handleNodeMessage(nid('n2'), { type: 'task_done', taskId: stored.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(stored), size: 1e6 }] });
    c.removeNode(nid('n2'), 'tab closed');
    expect(c.locate(ret(stored))).toBeUndefined();
    c.addNode(nid('n3'), { CPU: 1 }, (links.n3 = new FakeLink()), { isCoordinator: false, gpuFallback: false });
    expect(links.n3.ranIds()).toEqual([stored.taskId]);
  });

  it('holds a retried task until an argument lost with its node is recomputed, then sends its new location', () => {
    const { c, links, submit, done, fail } = cluster({ n1: { CPU: 2 }, n2: { CPU: 2 } });
    const producer = submit(taskSpec({ strategy: { nodeId: nid('n1'), soft: true } }));
    c.handleNodeMessage(nid('n1'), { type: 'task_done', taskId: producer.taskId, attempt: 1, workerId: null, startMs: 0, endMs: 1, results: [{ id: ret(producer), size: 1e6 }] });
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }], strategy: { nodeId: nid('n2'), soft: false }, maxRetries: 3 }));
    expect(links.n2!.runs().find((r) => r.spec.taskId === consumer.taskId)?.args).toEqual([{ kind: 'located', id: ret(producer), nodes: ['n1'] }]);
    // n1 leaves while n2 pulls the argument from it: the producer runs again on n2, and the
    // consumer's failed fetch (a system failure) waits for that instead of pulling from nowhere.
    c.removeNode(nid('n1'), 'tab closed');
    expect(links.n2!.ranIds()).toContain(producer.taskId);
    fail('n2', consumer, wireError('ObjectLostError', 'could not fetch an argument: the link closed during the pull'), true);
    expect(links.n2!.runs().filter((r) => r.spec.taskId === consumer.taskId)).toHaveLength(1);
    done('n2', producer, [null], { results: [{ id: ret(producer), size: 1e6 }] });
    const retried = links.n2!.runs().filter((r) => r.spec.taskId === consumer.taskId);
    expect(retried).toHaveLength(2);
    expect(retried[1]!.args).toEqual([{ kind: 'located', id: ret(producer), nodes: ['n2'] }]);
  });

  it('fails a put object whose only copy was on a node that left with ObjectLostError', () => {
    const { c, errorOf } = cluster({ n1: { CPU: 1 }, n2: { CPU: 1 } });
    c.putObject('p1' as ObjectId, 1e6, undefined, nid('n2'));
    c.removeNode(nid('n2'), 'tab closed');
    expect(errorOf('p1' as ObjectId)?.name).toBe('ObjectLostError');
    expect(errorOf('p1' as ObjectId)?.message).toMatch(/ray\.put/);
  });
});

describe('Coordinator: cancellation', () => {
  it('fails a queued task’s return with TaskCancelledError and never sends it', () => {
    const { links, submit, done, errorOf, c } = cluster({ n1: { CPU: 1 } });
    const running = submit(taskSpec());
    const queued = submit(taskSpec());
    c.cancel(ret(queued), false, true);
    expect(errorOf(ret(queued))?.name).toBe('TaskCancelledError');
    done('n1', running);
    expect(links.n1!.ranIds()).toEqual([running.taskId]);
    expect(links.n1!.sent.some((m) => m.type === 'cancel_task')).toBe(false);
  });

  it('cancels a task waiting for its arguments so it never runs', () => {
    const { links, submit, done, errorOf, c } = cluster({ n1: { CPU: 4 } });
    const producer = submit(taskSpec());
    const consumer = submit(taskSpec({ args: [{ kind: 'ref', id: ret(producer) }] }));
    c.cancel(ret(consumer), false, true);
    done('n1', producer);
    expect(links.n1!.ranIds()).toEqual([producer.taskId]);
    expect(errorOf(ret(consumer))?.name).toBe('TaskCancelledError');
  });

  it('asks the node to cancel a running task, and does not retry it when it fails', () => {
    const { links, submit, fail, errorOf, c } = cluster({ n1: { CPU: 1 } });
    const t = submit(taskSpec({ maxRetries: 3 }));
    c.cancel(ret(t), true, true);
    expect(links.n1!.sent).toContainEqual({ type: 'cancel_task', taskId: t.taskId, force: true });
    expect(errorOf(ret(t))?.name).toBe('TaskCancelledError');
    fail('n1', t, crash(), true);
    expect(links.n1!.runs()).toHaveLength(1);
  });

  it('cancels the tasks a cancelled task submitted when recursive', () => {
    const { submit, errorOf, c } = cluster({ n1: { CPU: 1 } });
    const parent = submit(taskSpec());
    const child = submit(taskSpec({ parentTaskId: parent.taskId }));
    c.cancel(ret(parent), false, true);
    expect(errorOf(ret(child))?.name).toBe('TaskCancelledError');
  });
});

describe('Coordinator: stop', () => {
  it('fails every pending task on stop', () => {
    const { c, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const running = submit(taskSpec());
    const queued = submit(taskSpec());
    c.stop();
    expect(errorOf(ret(running))?.name).toBe('RaySystemError');
    expect(errorOf(ret(queued))?.name).toBe('RaySystemError');
  });
});

describe('Coordinator: streaming generators', () => {
  function item(c: Coordinator, spec: TaskSpec, index: number, v: unknown, attempt = 1): void {
    c.handleNodeMessage(nid('n1'), { type: 'generator_item', taskId: spec.taskId, attempt, index, result: { id: ret(spec, index), size: 8, obj: { v, size: 8 } } });
  }
  const streaming = (over: Partial<NormalTaskSpec> = {}): NormalTaskSpec => taskSpec({ numReturns: 'streaming', ...over });

  it('hands out each item as soon as it is yielded, and done once the task finishes', async () => {
    const { c, submit, done } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming());
    item(c, g, 0, 'a');
    await expect(c.generatorNext(g.taskId, 0)).resolves.toEqual({ done: false, id: ret(g, 0) });
    expect(c.locate(ret(g, 0))?.obj?.v).toBe('a');
    const next = c.generatorNext(g.taskId, 1);
    item(c, g, 1, 'b');
    await expect(next).resolves.toEqual({ done: false, id: ret(g, 1) });
    const end = c.generatorNext(g.taskId, 2);
    done('n1', g, []);
    await expect(end).resolves.toEqual({ done: true });
  });

  it('surfaces an error thrown mid-stream as the item after the last good one', async () => {
    const { c, submit, fail, errorOf } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming());
    item(c, g, 0, 'ok');
    fail('n1', g, thrown(new RangeError('mid-stream')));
    await expect(c.generatorNext(g.taskId, 1)).resolves.toEqual({ done: false, id: ret(g, 1) });
    expect(errorOf(ret(g, 1))?.cause?.message).toBe('mid-stream');
    await expect(c.generatorNext(g.taskId, 2)).resolves.toEqual({ done: true });
  });

  it('ignores items a retry yields again and keeps the new ones', async () => {
    const { c, submit, fail } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming({ maxRetries: 1 }));
    item(c, g, 0, 'first');
    fail('n1', g, crash(), true);
    item(c, g, 0, 'again', 2);
    item(c, g, 1, 'new', 2);
    expect(c.locate(ret(g, 0))?.obj?.v).toBe('first');
    expect(c.locate(ret(g, 1))?.obj?.v).toBe('new');
    await expect(c.generatorNext(g.taskId, 1)).resolves.toEqual({ done: false, id: ret(g, 1) });
  });

  it('acknowledges consumed items to the node when the task has backpressure', async () => {
    const { c, links, submit } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming({ generatorBackpressure: 2 }));
    item(c, g, 0, 'a');
    item(c, g, 1, 'b');
    await c.generatorNext(g.taskId, 0);
    await c.generatorNext(g.taskId, 1);
    expect(links.n1!.sent.filter((m) => m.type === 'generator_ack')).toEqual([
      { type: 'generator_ack', taskId: g.taskId, consumed: 1 },
      { type: 'generator_ack', taskId: g.taskId, consumed: 2 },
    ]);
  });

  it('cancels the producer when its consumer drops the generator (Ray cancels a dropped generator’s task); a finished one is left alone', () => {
    const { c, links, submit, done } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming({ generatorBackpressure: 1 }));
    item(c, g, 0, 'a');
    c.updateRefs('driver' as HolderId, undefined, { generators: [g.taskId] });
    expect(links.n1!.sent.filter((m) => m.type === 'cancel_task')).toEqual([{ type: 'cancel_task', taskId: g.taskId, force: false }]);
    const h = submit(streaming());
    done('n1', h, []);
    c.updateRefs('driver' as HolderId, undefined, { generators: [h.taskId] });
    expect(links.n1!.sent.filter((m) => m.type === 'cancel_task')).toHaveLength(1);
  });

  it('ends the stream with TaskCancelledError when cancelled', async () => {
    const { c, submit, errorOf } = cluster({ n1: { CPU: 1 } });
    const g = submit(streaming());
    item(c, g, 0, 'a');
    c.cancel(g.taskId as unknown as ObjectId, false, true);
    await expect(c.generatorNext(g.taskId, 1)).resolves.toEqual({ done: false, id: ret(g, 1) });
    expect(errorOf(ret(g, 1))?.name).toBe('TaskCancelledError');
    await expect(c.generatorNext(g.taskId, 2)).resolves.toEqual({ done: true });
  });
});
