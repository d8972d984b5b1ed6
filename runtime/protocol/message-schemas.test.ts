import { describe, expect, it } from 'vitest';
import type { ActorId } from './ids.ts';
import { MAX_ERROR_CAUSE_DEPTH, MAX_ID_CHARS, MAX_NUM_RETURNS, MAX_REPLICAS, MAX_TOTAL_REPLICAS } from './limits.ts';
import { parsePeerMessage } from './peer-messages.ts';
import { makeTaskSpec } from './task-spec.fixture.ts';
import type { WireError } from './wire-error.ts';

// Every control message is checked field by field where it arrives from another tab: these are
// the messages a hostile member could send instead of honest ones.

const toCoordinator = (msg: unknown) => parsePeerMessage({ type: 'to_coordinator', msg });
const toNode = (msg: unknown) => parsePeerMessage({ type: 'to_node', msg });
const reason = (r: ReturnType<typeof parsePeerMessage>): string => (r.ok ? 'accepted' : r.reason);

const done = (over: Record<string, unknown> = {}) => ({
  type: 'task_done',
  taskId: 't1',
  attempt: 0,
  workerId: 'w1',
  startMs: 1,
  endMs: 2,
  results: [{ id: 't1.0', size: 8, obj: { v: 42, size: 8 } }],
  ...over,
});
const submit = (over: Record<string, unknown> = {}) => ({
  type: 'client_request',
  reqId: 1,
  taskId: 't0',
  req: { type: 'submit', spec: { ...makeTaskSpec(), ...over } },
});

describe('control messages from a node, field by field', () => {
  it('accepts honest messages of every kind, and keeps only the fields their types name', () => {
    const honest = [
      { type: 'task_started', taskId: 't1', workerId: 'w1', atMs: 5 },
      done(),
      done({ results: [{ id: 't1.0', size: 8, obj: { v: 42, size: 8 }, sha256: 'ab'.repeat(32) }] }),
      submit({ replicas: 2, maxReplicas: 5 }),
      done({ results: undefined, error: { name: 'RayTaskError', message: 'boom', cause: { name: 'TypeError', message: 'x' } } }),
      { type: 'generator_item', taskId: 't1', attempt: 0, index: 3, result: { id: 't1.3', size: 4 } },
      { type: 'actor_died', actorId: 'a1', error: { name: 'ActorDiedError', message: 'gone' } },
      { type: 'task_blocked', taskId: 't1' },
      { type: 'task_unblocked', taskId: 't1' },
      { type: 'object_put', id: 'p1', size: 100, obj: { v: new Uint8Array(100), size: 100 }, holder: 'w1' },
      submit(),
      { ...submit(), reqId: -1 }, // fire and forget
      { type: 'client_request', reqId: 2, taskId: null, req: { type: 'get', ids: ['t1.0'], timeoutMs: null } },
      { type: 'client_request', reqId: 3, taskId: 't0', req: { type: 'wait', ids: ['t1.0', 't2.0'], numReturns: 1, timeoutMs: 10, fetchLocal: true } },
      { type: 'refs', holder: 'w1', add: ['t1.0'], release: ['p1'] },
      { type: 'object_located', id: 't1.0' },
      { type: 'node_stats', memoryBytes: 1, spilledBytes: 0, objects: 1, budgetBytes: 1 << 20 },
    ];
    for (const msg of honest) expect(reason(toCoordinator(msg)), JSON.stringify(msg)).toBe('accepted');
    const r = toCoordinator({ ...done(), extra: 'x'.repeat(1000) });
    expect(r.ok && 'extra' in (r.msg as { msg: object }).msg).toBe(false);
  });

  it.each([
    ['a numReturns past the cap', submit({ numReturns: MAX_NUM_RETURNS + 1 }), /numReturns/],
    ['replicas past the cap', submit({ replicas: MAX_REPLICAS + 1 }), /replicas/],
    ['zero replicas', submit({ replicas: 0 }), /replicas/],
    ['maxReplicas past the cap', submit({ maxReplicas: MAX_TOTAL_REPLICAS + 1 }), /maxReplicas/],
    ['a short sha256', done({ results: [{ id: 't1.0', size: 8, sha256: 'abc' }] }), /results\.0\.sha256: expected a SHA-256 in hex/],
    ['an upper-case sha256', done({ results: [{ id: 't1.0', size: 8, sha256: 'AB'.repeat(32) }] }), /sha256/],
    ['a sha256 that is not a string', done({ results: [{ id: 't1.0', size: 8, sha256: 7 }] }), /sha256/],
    ['a fractional numReturns', submit({ numReturns: 1.5 }), /numReturns/],
    ['a negative resource', submit({ resources: { CPU: -1 } }), /resources/],
    ['an infinite resource', submit({ resources: { GPU: Infinity } }), /resources/],
    ['a zero timeoutMs', submit({ timeoutMs: 0 }), /timeoutMs/],
    ['an infinite timeoutMs', submit({ timeoutMs: Infinity }), /timeoutMs/],
    ['an empty task id', submit({ taskId: '' }), /taskId.*task id/],
    ['an over-long function id', submit({ fnId: 'f'.repeat(MAX_ID_CHARS + 1) }), /fnId/],
    ['an over-long object id', { type: 'object_located', id: 'x'.repeat(MAX_ID_CHARS + 1) }, /id.*object id/],
    ['a negative size', { type: 'object_put', id: 'p1', size: -1e15 }, /size/],
    ['a NaN size', done({ results: [{ id: 't1.0', size: NaN }] }), /results.0.size/],
    ['a result id that is not a string', done({ results: [{ id: 7, size: 1 }] }), /results.0.id/],
    ['an unknown scheduling strategy', submit({ strategy: 'ANYWHERE' }), /strategy/],
    ['a non-boolean force', { type: 'client_request', reqId: 1, taskId: null, req: { type: 'cancel', id: 'x', force: 'yes', recursive: false } }, /force/],
    ['an unknown request type', { type: 'client_request', reqId: 1, taskId: null, req: { type: 'shutdown' } }, /req\.type/],
    ['a request id below -1', { type: 'client_request', reqId: -2, taskId: null, req: { type: 'timeline' } }, /reqId/],
    ['a holder that is not a string', { type: 'refs', holder: { driver: true }, add: [] }, /holder/],
    ['ids that are not a list', { type: 'refs', holder: 'w1', release: 't1.0' }, /release/],
    ['stats of the wrong type', { type: 'node_stats', memoryBytes: '1', spilledBytes: 0, objects: 0 }, /memoryBytes/],
  ])('refuses %s, naming the field', (_what, msg, field) => {
    const r = toCoordinator(msg);
    expect(r.ok).toBe(false);
    expect(reason(r)).toMatch(field);
  });

  it('refuses an error whose cause chain is deeper than the cap, at any depth past it', () => {
    const chain = (depth: number): WireError => (depth === 0 ? { name: 'E', message: 'leaf' } : { name: 'E', message: 'x', cause: chain(depth - 1) });
    expect(reason(toCoordinator(done({ results: undefined, error: chain(MAX_ERROR_CAUSE_DEPTH) })))).toBe('accepted');
    expect(reason(toCoordinator(done({ results: undefined, error: chain(MAX_ERROR_CAUSE_DEPTH + 1) })))).toMatch(/cause/);
    expect(reason(toCoordinator(done({ results: undefined, error: chain(10_000) })))).toMatch(/cause/);
  });

  it('refuses a message a node never sends to the coordinator, and one the coordinator never sends to a node', () => {
    expect(reason(toCoordinator({ type: 'run_task' }))).toBe('unknown control message run_task');
    expect(reason(toNode({ type: 'task_done' }))).toBe('unknown control message task_done');
  });
});

describe('control messages from the coordinator, field by field', () => {
  it('accepts a run_task with its arguments and function, and refuses one with a malformed spec', () => {
    const run = {
      type: 'run_task',
      spec: makeTaskSpec(),
      attempt: 0,
      args: [{ kind: 'inline', obj: { v: 1, size: 8 } }, { kind: 'located', id: 'p1', nodes: ['n1'] }],
      fn: { fnId: 'fn-f', kind: 'function', name: 'f', source: 'function f() {}', scope: [], options: {} },
    };
    expect(reason(toNode(run))).toBe('accepted');
    const methodCall = makeTaskSpec({ kind: 'actor-method', method: 'incr', actorId: 'a1' as ActorId });
    expect(reason(toNode({ ...run, spec: methodCall, fn: undefined }))).toBe('accepted');
    expect(reason(toNode({ ...run, spec: { ...run.spec, maxRetries: 'many' } }))).toMatch(/spec.maxRetries/);
    const { actorId: _actorId, ...callWithoutActor } = methodCall;
    expect(reason(toNode({ ...run, spec: callWithoutActor, fn: undefined }))).toMatch(/spec.actorId/);
    expect(reason(toNode({ ...run, spec: { ...methodCall, kind: 'actor-creation' }, fn: undefined }))).toMatch(/spec.fnId/);
    expect(reason(toNode({ ...run, spec: { ...run.spec, kind: 'daemon' } }))).toMatch(/spec.kind/);

    expect(reason(toNode({ ...run, args: [{ kind: 'stolen', id: 'p1' }] }))).toMatch(/args.0.kind/);
    expect(reason(toNode({ type: 'client_reply', reqId: 1, ok: false, error: { name: 'E' } }))).toMatch(/error.message/);
    expect(reason(toNode({ type: 'client_reply', reqId: 1, ok: true, value: { any: ['thing'] } }))).toBe('accepted');
  });
});
