import { describe, expect, it } from 'vitest';
import type { WireError } from '../protocol/wire-error.ts';
import {
  ActorDiedError,
  classChainOf,
  fromWireError,
  GetTimeoutError,
  NodeDiedError,
  ObjectLostError,
  ObjectStoreFullError,
  RayError,
  RaySystemError,
  RayTaskError,
  ResultMismatchError,
  resultMismatchWireError,
  TaskCancelledError,
  TaskUnschedulableError,
  taskWireError,
  toWireError,
  wireError,
  WorkerCrashedError,
} from './errors.ts';

/** Sends an error across a boundary: to the wire, through structured clone, and back. */
function across(err: unknown): Error {
  return fromWireError(structuredClone(toWireError(err)));
}

const RAY_CLASSES = [
  RayError,
  TaskCancelledError,
  GetTimeoutError,
  WorkerCrashedError,
  NodeDiedError,
  ObjectLostError,
  ObjectStoreFullError,
  ActorDiedError,
  TaskUnschedulableError,
  RaySystemError,
] as const;

describe('webray error classes across the wire', () => {
  it.each(RAY_CLASSES.map((C) => [C.name, C] as const))('rebuilds %s as the same class with its message and stack', (name, C) => {
    const original = new C('what to do next');
    const back = across(original);
    expect(back).toBeInstanceOf(C);
    expect(back).toBeInstanceOf(RayError);
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe(name);
    expect(back.message).toBe('what to do next');
    expect(back.stack).toBe(original.stack);
  });

  it('keeps the extra fields given with wireError', () => {
    const back = fromWireError(wireError('ActorDiedError', 'dead', { actorId: 'a1', restarts: 2 })) as ActorDiedError & { actorId: string; restarts: number };
    expect(back).toBeInstanceOf(ActorDiedError);
    expect(back.actorId).toBe('a1');
    expect(back.restarts).toBe(2);
  });

  it('does not make webray errors RayTaskErrors or each other', () => {
    const back = across(new TaskCancelledError('x'));
    expect(back).not.toBeInstanceOf(RayTaskError);
    expect(back).not.toBeInstanceOf(GetTimeoutError);
  });

  it('keeps a cause chain', () => {
    const back = across(new Error('outer', { cause: new RangeError('inner') }));
    expect(back.cause).toBeInstanceOf(RangeError);
    expect((back.cause as Error).message).toBe('inner');
  });
});

describe('RayTaskError', () => {
  function remoteTypeError(): { remote: TypeError; wire: WireError } {
    const remote = new TypeError('x.map is not a function');
    return { remote, wire: taskWireError('square', toWireError(remote)) };
  }

  it('over a TypeError is a RayTaskError, a RayError, a TypeError and an Error', () => {
    const err = fromWireError(structuredClone(remoteTypeError().wire));
    expect(err).toBeInstanceOf(RayTaskError);
    expect(err).toBeInstanceOf(RayError);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RangeError);
    expect(err.name).toBe('RayTaskError');
  });

  it('keeps the cause rebuilt with its class, message and remote stack', () => {
    const { remote, wire } = remoteTypeError();
    const err = fromWireError(structuredClone(wire)) as RayTaskError;
    expect(err.taskName).toBe('square');
    expect(err.message).toBe('task square failed: TypeError: x.map is not a function');
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(err.cause.message).toBe('x.map is not a function');
    expect(err.cause.stack).toBe(remote.stack);
    expect(err.stack).toBe(remote.stack);
  });

  it('over a plain Error is a RayTaskError but not a TypeError', () => {
    const err = fromWireError(taskWireError('f', toWireError(new Error('boom'))));
    expect(err).toBeInstanceOf(RayTaskError);
    expect(err).toBeInstanceOf(RayError);
    expect(err).not.toBeInstanceOf(TypeError);
  });

  it('survives a second trip across the wire (a task error passed on by another task)', () => {
    const once = fromWireError(remoteTypeError().wire);
    const twice = across(once) as RayTaskError;
    expect(twice).toBeInstanceOf(RayTaskError);
    expect(twice).toBeInstanceOf(TypeError);
    expect(twice.taskName).toBe('square');
    expect(twice.cause.message).toBe('x.map is not a function');
  });

  it('keeps a custom error name and its class chain on the cause', () => {
    class ValidationError extends RangeError {
      constructor(msg: string) {
        super(msg);
        this.name = 'ValidationError';
      }
    }
    const wire = structuredClone(taskWireError('check', toWireError(new ValidationError('too big'))));
    expect(wire.cause?.classChain).toEqual(['ValidationError', 'RangeError', 'Error']);
    const err = fromWireError(wire) as RayTaskError;
    expect(err).toBeInstanceOf(RayTaskError);
    expect(err.cause.name).toBe('ValidationError');
    expect(err.cause.message).toBe('too big');
    expect((err.cause as Error & { classChain: string[] }).classChain).toEqual(['ValidationError', 'RangeError', 'Error']);
  });
});

describe('errors re-raised through nested tasks (issue 11, item 7)', () => {
  it('a task that re-raised a child\'s TaskCancelledError fails with a RayTaskError that is also a TaskCancelledError', () => {
    const childCancelled = toWireError(fromWireError(wireError('TaskCancelledError', 'task child was cancelled', { taskId: 't1' })));
    const err = fromWireError(structuredClone(taskWireError('parent', childCancelled)));
    expect(err).toBeInstanceOf(RayTaskError);
    expect(err).toBeInstanceOf(RayError);
    expect(err).toBeInstanceOf(TaskCancelledError);
    expect(err).not.toBeInstanceOf(ActorDiedError);
    expect((err as RayTaskError).cause).toMatchObject({ name: 'TaskCancelledError', taskId: 't1' });
    // Passed on by a grandparent: still the innermost class.
    const again = fromWireError(structuredClone(taskWireError('grandparent', toWireError(err))));
    expect(again).toBeInstanceOf(TaskCancelledError);
  });

  it('a task that re-raised an ActorDiedError is an ActorDiedError; one whose own code threw is none of the webray classes', () => {
    const died = fromWireError(taskWireError('parent', toWireError(fromWireError(wireError('ActorDiedError', 'actor A was killed by ray.kill()')))));
    expect(died).toBeInstanceOf(ActorDiedError);
    const own = fromWireError(taskWireError('parent', toWireError(new RangeError('bad'))));
    for (const cls of RAY_CLASSES.filter((c) => c !== RayError)) expect(own).not.toBeInstanceOf(cls);
    expect(new ActorDiedError('x')).not.toBeInstanceOf(TaskCancelledError);
  });

  it('keeps a custom error\'s class name (unnamed subclass) and its own string, number and boolean fields', () => {
    class Invalid extends Error {
      code = 'E_RANGE';
      limit = 10;
      fatal = true;
      detail = { nested: 1 }; // not a primitive: left out
    }
    const cause = (fromWireError(structuredClone(taskWireError('check', toWireError(new Invalid('too big'))))) as RayTaskError).cause;
    expect(cause.name).toBe('Invalid');
    expect(cause.message).toBe('too big');
    expect(cause).toMatchObject({ code: 'E_RANGE', limit: 10, fatal: true });
    expect(cause).not.toHaveProperty('detail');
  });

  it('never takes a field that would shadow what errors inherit: a "toString" field from a peer is dropped', () => {
    const wire = toWireError(Object.assign(new Error('m'), { toString: 'x', code: 1 }));
    expect(wire.props).toEqual({ code: 1 });
    const err = fromWireError({ name: 'Error', message: 'm', props: { toString: 'x', valueOf: 'y', code: 2 } });
    expect(() => String(err)).not.toThrow();
    expect(() => `${err}`).not.toThrow();
    expect((err as unknown as { code: number }).code).toBe(2);
  });

  it('stops following a cause chain that loops back (a local error), instead of overflowing the stack', () => {
    const a = new RayTaskError('a', new Error('x'));
    (a as unknown as { cause: unknown }).cause = a;
    expect(a instanceof TaskCancelledError).toBe(false);
  });

  it('takes error fields from a peer as plain fields: a "__proto__" field changes no prototype', () => {
    const props = JSON.parse('{"__proto__": "x", "polluted": "no"}') as Record<string, string>;
    const err = fromWireError({ name: 'Weird', message: 'm', props });
    expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
    expect((err as unknown as { polluted: string }).polluted).toBe('no');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('toWireError', () => {
  it('describes a thrown string or object that is not an Error', () => {
    expect(toWireError('boom')).toMatchObject({ name: 'Error', message: 'non-Error value thrown: boom' });
    expect(toWireError({ code: 7 })).toMatchObject({ message: 'non-Error value thrown: {"code":7}' });
  });

  it('copes with values JSON cannot print', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toWireError(cyclic).message).toContain('non-Error value thrown');
    expect(toWireError(10n).message).toContain('10');
  });

  it('gives an unknown error class back as an Error with that name', () => {
    const back = fromWireError({ name: 'DOMException', message: 'aborted' });
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('DOMException');
  });
});

describe('classChainOf', () => {
  it('lists class names from most derived to Error', () => {
    class A extends TypeError {}
    class B extends A {}
    expect(classChainOf(new B('x'))).toEqual(['B', 'A', 'TypeError', 'Error']);
  });

  it('is empty for non-objects', () => {
    expect(classChainOf('x')).toEqual([]);
  });
});

describe('ResultMismatchError', () => {
  const reports = [
    { nodeId: 'n1', sha256: 'a'.repeat(64) },
    { nodeId: 'n2', sha256: 'b'.repeat(64) },
    { nodeId: 'n3', error: 'TypeError: boom' },
  ];

  it('is a RayError that names the task and lists every node with its hash or error', () => {
    const err = new ResultMismatchError('estimate', reports);
    expect(err).toBeInstanceOf(RayError);
    expect(err.name).toBe('ResultMismatchError');
    expect(err.taskName).toBe('estimate');
    expect(err.reports).toEqual(reports);
    expect(err.message).toContain('task estimate');
    expect(err.message).toContain(`node n1: sha256 ${'a'.repeat(64)}`);
    expect(err.message).toContain(`node n2: sha256 ${'b'.repeat(64)}`);
    expect(err.message).toContain('node n3: error TypeError: boom');
    expect(err.message).toContain('seed');
  });

  it('crosses the wire as the same class with its task name, reports and message', () => {
    const original = new ResultMismatchError('estimate', reports);
    const back = across(original);
    expect(back).toBeInstanceOf(ResultMismatchError);
    expect(back).toBeInstanceOf(RayError);
    const m = back as ResultMismatchError;
    expect(m.taskName).toBe('estimate');
    expect(m.reports).toEqual(reports);
    expect(m.message).toBe(original.message);
    expect(fromWireError(resultMismatchWireError('t', reports))).toBeInstanceOf(ResultMismatchError);
  });

  it('rebuilds from a malformed reports prop with what it can read, never throwing', () => {
    const bad = fromWireError({ name: 'ResultMismatchError', message: 'm', props: { taskName: 't', reports: '{not json' } });
    expect(bad).toBeInstanceOf(ResultMismatchError);
    expect((bad as ResultMismatchError).reports).toEqual([]);
    const mixed = fromWireError({
      name: 'ResultMismatchError',
      message: 'm',
      props: { reports: JSON.stringify([{ nodeId: 'n1', sha256: 'x' }, 7, { sha256: 'no node' }]) },
    }) as ResultMismatchError;
    expect(mixed.taskName).toBe('unknown');
    expect(mixed.reports).toEqual([{ nodeId: 'n1', sha256: 'x' }]);
  });
});
