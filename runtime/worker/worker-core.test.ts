import { describe, expect, it } from 'vitest';
import { GetTimeoutError } from '../api/errors.ts';
import type { ActorId, FunctionId, NodeId, ObjectId, TaskId, WorkerId } from '../protocol/ids.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import type { FunctionDescriptor } from '../protocol/task-spec.ts';
import type { FromWorker } from '../protocol/worker-messages.ts';
import { WorkerCore, type CurrentTask } from './worker-core.ts';

// The worker's Core, as task code reaches it: every call becomes a message to the node; the
// test plays the node (reading what was posted, answering with onReply) and the executor.

const NEVER = new AbortController().signal;

function setup(current: Partial<CurrentTask> = {}) {
  const posted: FromWorker[] = [];
  const events: string[] = [];
  const task: CurrentTask = { taskId: 't-running' as TaskId, actorId: null, signal: NEVER, gpu: false, resources: { CPU: 1 }, ...current };
  const core = new WorkerCore({
    workerId: 'w1' as WorkerId,
    nodeId: 'node-1' as NodeId,
    jobId: 'node-head',
    idPrefix: 'w1-',
    post: (m) => posted.push(m),
    current: () => task,
    onBlock: () => {
      events.push('block');
      return 0.25; // how long the task's code has held the worker so far
    },
    onUnblock: (_taskId, settle) => {
      events.push('unblock');
      settle();
    },
  });
  const requests = () => posted.filter((m): m is Extract<FromWorker, { type: 'request' }> => m.type === 'request');
  return { core, posted, events, requests };
}

const desc: FunctionDescriptor = { fnId: 'fn-1' as FunctionId, kind: 'function', name: 'f', source: '() => 1', scope: [], options: {} };

describe('WorkerCore', () => {
  it('sends submit, put, cancel and kill as notifications (reqId -1) naming the running task', () => {
    const { core, requests } = setup();
    const spec = makeTaskSpec();
    core.submitTask(spec);
    core.put('o1' as ObjectId, { v: 1, size: 8 });
    core.cancel('o2' as ObjectId, true, false);
    core.killActor('a1' as ActorId, true);
    expect(requests()).toEqual([
      { type: 'request', reqId: -1, taskId: 't-running', req: { type: 'submit', spec } },
      { type: 'request', reqId: -1, taskId: 't-running', req: { type: 'put', id: 'o1', obj: { v: 1, size: 8 } } },
      { type: 'request', reqId: -1, taskId: 't-running', req: { type: 'cancel', id: 'o2', force: true, recursive: false } },
      { type: 'request', reqId: -1, taskId: 't-running', req: { type: 'kill', actorId: 'a1', noRestart: true } },
    ]);
  });

  it('registers a function with the node once', () => {
    const { core, requests } = setup();
    core.registerFunction(desc);
    core.registerFunction(desc);
    expect(requests().map((r) => r.req)).toEqual([{ type: 'register', desc }]);
  });

  it('blocks around get: tells the executor the task blocks before asking (sending how long its code held the worker), hands the answer over through it, resolves with it', async () => {
    const { core, events, requests } = setup();
    const got = core.get(['o1' as ObjectId], 500);
    expect(events).toEqual(['block']);
    const [req] = requests();
    expect(req).toEqual({ type: 'request', reqId: 1, taskId: 't-running', req: { type: 'get', ids: ['o1'], timeoutMs: 500 }, heldMs: 0.25 });
    core.onReply(1, true, [{ v: 'hello', size: 5 }], undefined);
    await expect(got).resolves.toEqual([{ v: 'hello', size: 5 }]);
    expect(events).toEqual(['block', 'unblock']);
  });

  it('rejects with the error class the node named', async () => {
    const { core } = setup();
    const waiting = core.wait(['o1' as ObjectId], 1, 10, true);
    core.onReply(1, false, undefined, { name: 'GetTimeoutError', message: 'too slow' });
    await expect(waiting).rejects.toBeInstanceOf(GetTimeoutError);
    await expect(waiting).rejects.toThrow('too slow');
  });

  it('matches replies to requests by id, whatever their order, and ignores unknown or repeated ids', async () => {
    const { core, events } = setup();
    const first = core.getActor('counter');
    const second = core.generatorNext('t-gen' as TaskId, 0);
    core.onReply(2, true, { done: true }, undefined);
    core.onReply(99, true, 'stray', undefined);
    core.onReply(1, true, { actorId: 'a1' }, undefined);
    core.onReply(1, true, { actorId: 'again' }, undefined);
    await expect(first).resolves.toEqual({ actorId: 'a1' });
    await expect(second).resolves.toEqual({ done: true });
    // getActor does not block the worker; generatorNext does.
    expect(events).toEqual(['block', 'unblock']);
  });

  it('serves the cluster view it last fetched, refreshing it on each read', async () => {
    const { core, requests } = setup();
    expect(core.nodes()).toEqual([]);
    const view = { nodes: [{ nodeId: 'node-1' }], total: { CPU: 4 }, available: { CPU: 1 } };
    core.onReply(requests()[0]!.reqId, true, view, undefined);
    await Promise.resolve();
    expect(core.clusterResources()).toEqual({ CPU: 4 });
    expect(core.availableResources()).toEqual({ CPU: 1 });
    expect(requests().map((r) => r.req.type)).toEqual(['clusterView', 'clusterView', 'clusterView']);
  });

  it('describes the running task in its runtime context', () => {
    const { core } = setup({ actorId: 'a7' as ActorId });
    expect(core.runtimeContext()).toMatchObject({ nodeId: 'node-1', taskId: 't-running', actorId: 'a7', workerId: 'w1', isDriver: false });
    expect(core.currentTaskId()).toBe('t-running');
    expect(core.callerId).toBe('w1');
  });

  it('refuses a GPU device to a task that asked for no GPU, and shutdown from inside a task', async () => {
    const { core } = setup();
    await expect(core.getGpuDevice()).rejects.toThrow(/asked for no GPU; give it numGpus: 1/);
    await expect(core.shutdown()).rejects.toThrow('ray.shutdown() cannot be called from inside a task');
  });

  it('mints ids with its own prefix', () => {
    const { core } = setup();
    expect(core.ids.prefix).toBe('w1-');
  });
});
