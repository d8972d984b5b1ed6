import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdGenerator, type NodeId, type TaskId } from '../protocol/ids.ts';
import type { NodeToCoordinator } from '../protocol/node-messages.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import { FROM_WORKER_TYPES } from '../protocol/worker-message-schemas.ts';
import type { FromWorker, ToWorker } from '../protocol/worker-messages.ts';
import { WORKER_STRIKE_LIMIT } from './constants.ts';
import { Node } from './node.ts';
import { ObjectStore } from './object-store.ts';
import type { WorkerEndpoint } from './worker-endpoint.ts';

// The worker → node boundary: whatever a worker posts enters the node through its pool's inbox,
// is checked field by field, and a malformed message is refused (not acted on), logged and counted
// against that worker — never thrown — until the worker is retired at WORKER_STRIKE_LIMIT.

/** A Web Worker the test speaks for: it can post anything, not only FromWorker batches. */
class RawWorker implements WorkerEndpoint {
  readonly posted: ToWorker[] = [];
  terminated = false;
  private onMessages: ((batch: readonly FromWorker[]) => void) | undefined;

  post(batch: readonly ToWorker[]): void {
    this.posted.push(...batch);
  }
  listen(onMessages: (batch: readonly FromWorker[]) => void): void {
    this.onMessages = onMessages;
  }
  terminate(): void {
    this.terminated = true;
  }
  /** Posts `batch` as the worker would, unchecked: the test's garbage goes through the real entry. */
  postRaw(batch: unknown): void {
    this.onMessages!(batch as readonly FromWorker[]);
  }
  runs(taskId: TaskId): boolean {
    return this.posted.some((m) => m.type === 'run' && m.taskId === taskId);
  }
}

/** One message of each FromWorker type, malformed in one field, with what the refusal must name. */
const MALFORMED: Record<FromWorker['type'], readonly [unknown, RegExp]> = {
  done: [{ type: 'done', taskId: 42, startMs: 0, endMs: 1, results: [{ v: 1, size: 8 }] }, /done: taskId: expected a task id/],
  yield: [{ type: 'yield', taskId: 't1', index: -1, obj: { v: 1, size: 8 } }, /yield: index/],
  actor_ready: [{ type: 'actor_ready', actorId: '', taskId: 't1', startMs: 0, endMs: 1 }, /actor_ready: actorId: expected an actor id/],
  returned: [{ type: 'returned', taskIds: 't1' }, /returned: taskIds/],
  request: [{ type: 'request', reqId: 1.5, taskId: 't1', req: { type: 'timeline' } }, /request: reqId/],
  refs: [{ type: 'refs', add: [7] }, /refs: add\.0: expected an object id/],
  exit: [{ type: 'exit', reason: { toString: 'x' } }, /exit: reason/],
};

let warn: { mock: { calls: unknown[][] } };
const warnings = (): string[] => warn.mock.calls.map((c) => String(c[0]));
const refusals = (): string[] => warnings().filter((m) => m.includes('refusing '));
let nodes: Node[] = [];

beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  for (const n of nodes) n.stop();
  nodes = [];
  vi.restoreAllMocks();
});

/** A one-CPU node running one task on a worker the test speaks for. */
async function nodeRunningATask() {
  const workers: RawWorker[] = [];
  const sent: NodeToCoordinator[] = [];
  const node = new Node({
    nodeId: 'n1' as NodeId,
    resources: { CPU: 1 },
    ids: new IdGenerator('n1-'),
    createWorker: () => {
      const w = new RawWorker();
      workers.push(w);
      return w;
    },
    store: new ObjectStore(),
    send: (m) => sent.push(m),
  });
  nodes.push(node);
  node.start();
  const spec = makeTaskSpec();
  node.handle({
    type: 'run_task',
    spec,
    attempt: 0,
    args: [],
    fn: { fnId: spec.fnId, kind: 'function', name: 'f', source: '(x) => x', scope: [], options: {} },
  });
  await vi.waitFor(() => expect(workers.some((w) => w.runs(spec.taskId))).toBe(true));
  const worker = workers.find((w) => w.runs(spec.taskId))!;
  return { node, worker, sent, taskId: spec.taskId };
}

describe('messages from a worker, where they enter the node', () => {
  it('has a malformed case for every message type a worker sends', () => {
    expect(Object.keys(MALFORMED).sort()).toEqual([...FROM_WORKER_TYPES].sort());
  });

  it.each(FROM_WORKER_TYPES.map((type) => [type] as const))('refuses a malformed %s: not acted on, logged with the field, counted, not thrown', async (type) => {
    const { worker, sent, taskId } = await nodeRunningATask();
    const [msg, field] = MALFORMED[type];
    const before = sent.length;
    expect(() => worker.postRaw([msg])).not.toThrow();
    expect(sent.slice(before)).toEqual([]); // nothing reached the coordinator
    expect(worker.terminated).toBe(false); // one strike is not the limit
    expect(refusals()).toEqual([expect.stringMatching(new RegExp(`refusing a malformed message: ${field.source}.* from worker \\S+ \\(strike 1 of ${WORKER_STRIKE_LIMIT}\\)`))]);
    // The worker is still served: its honest done is taken.
    worker.postRaw([{ type: 'done', taskId, startMs: 0, endMs: 1, results: [{ v: 2, size: 8 }] }]);
    expect(sent.slice(before)).toContainEqual(expect.objectContaining({ type: 'task_done', taskId }));
  });

  it('refuses a batch that is not a list, and a message of a type workers do not send', async () => {
    const { worker, sent } = await nodeRunningATask();
    const before = sent.length;
    for (const garbage of [null, 42]) expect(() => worker.postRaw(garbage)).not.toThrow();
    expect(sent.slice(before)).toEqual([]);
    expect(worker.terminated).toBe(false);
    expect(() => worker.postRaw([{ type: 'format_disk' }])).not.toThrow();
    expect(refusals()).toEqual([
      expect.stringMatching(/refusing a batch that is not a list \(null\).*strike 1 of/),
      expect.stringMatching(/refusing a batch that is not a list \(number\).*strike 2 of/),
      expect.stringMatching(/refusing a malformed message: unknown message type "format_disk".*strike 3 of/),
    ]);
    expect(worker.terminated).toBe(true); // the third strike retired it
  });

  it('acts on the well-formed messages of a batch and refuses only the malformed one', async () => {
    const { worker, sent, taskId } = await nodeRunningATask();
    worker.postRaw([MALFORMED.refs[0], { type: 'done', taskId, startMs: 0, endMs: 1, results: [{ v: 3, size: 8 }] }]);
    expect(sent).toContainEqual(expect.objectContaining({ type: 'task_done', taskId, results: [expect.objectContaining({ obj: { v: 3, size: 8 } })] }));
    expect(refusals()).toHaveLength(1);
  });

  it('refuses a blocking request whose heldMs is negative, not a number or infinite: each a strike, nothing forwarded, retired at the limit', async () => {
    const { worker, sent, taskId } = await nodeRunningATask();
    const get = { type: 'get', ids: ['x.0'], timeoutMs: null };
    for (const heldMs of [-1, '5', Infinity]) worker.postRaw([{ type: 'request', reqId: 1, taskId, req: get, heldMs }]);
    expect(sent.filter((m) => m.type === 'client_request' || m.type === 'task_blocked')).toEqual([]);
    expect(refusals()).toEqual([1, 2, 3].map((n) => expect.stringMatching(new RegExp(`refusing a malformed message: request: heldMs.*strike ${n} of`))));
    expect(worker.terminated).toBe(true);
  });

  it('reports refs as the worker’s own, whatever holder it names', async () => {
    const { worker, sent } = await nodeRunningATask();
    worker.postRaw([{ type: 'refs', add: ['x.0'], holder: 'driver', type2: 'y' }]);
    expect(sent.filter((m) => m.type === 'refs')).toEqual([{ type: 'refs', holder: expect.stringMatching(/^n1-/) as unknown, add: ['x.0'] }]);
  });

  it(`retires a worker at its malformed message number WORKER_STRIKE_LIMIT (${WORKER_STRIKE_LIMIT}), failing its task with WorkerCrashedError naming the message`, async () => {
    const { worker, sent, taskId } = await nodeRunningATask();
    for (let i = 0; i < WORKER_STRIKE_LIMIT - 1; i++) worker.postRaw([MALFORMED.yield[0]]);
    expect(worker.terminated).toBe(false);
    expect(() => worker.postRaw([MALFORMED.done[0]])).not.toThrow();
    expect(worker.terminated).toBe(true);
    const report = sent.find((m): m is Extract<NodeToCoordinator, { type: 'task_done' }> => m.type === 'task_done' && m.taskId === taskId);
    expect(report).toMatchObject({ systemFailure: true, error: { name: 'WorkerCrashedError' } });
    expect(report?.error?.message).toMatch(new RegExp(`sent ${WORKER_STRIKE_LIMIT} malformed messages \\(the last: a malformed message: done: taskId`));
    // Nothing more is taken from it.
    const after = sent.length;
    worker.postRaw([{ type: 'done', taskId, startMs: 0, endMs: 1 }]);
    expect(sent.length).toBe(after);
  });
});
