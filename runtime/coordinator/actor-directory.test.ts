import { describe, expect, it } from 'vitest';
import { DRIVER_HOLDER, type ActorId, type FunctionId, type HolderId, type TaskId } from '../protocol/ids.ts';
import type { ActorCreationTaskSpec } from '../protocol/task-spec.ts';
import { ActorDirectory } from './actor-directory.ts';
import type { TaskEntry } from './task-entry.ts';

const ACTOR = 'a1' as ActorId;

function creationSpec(actorName?: string, actorId: ActorId = ACTOR): ActorCreationTaskSpec {
  return {
    taskId: `create-${actorId}` as TaskId,
    kind: 'actor-creation',
    name: 'Counter.__init__',
    fnId: 'f1' as FunctionId,
    args: [],
    numReturns: 1,
    resources: { CPU: 1 },
    heldResources: {},
    maxRetries: 0,
    retryExceptions: false,
    strategy: 'DEFAULT',
    enableTaskEvents: true,
    generatorBackpressure: 0,
    callerId: DRIVER_HOLDER,
    actorId,
    actor: {
      className: 'Counter',
      ...(actorName !== undefined ? { actorName } : {}),
      maxRestarts: 1,
      maxTaskRetries: 0,
      maxConcurrency: 1,
      methods: ['incr'],
      streamingMethods: [],
    },
  };
}

function call(id: string, caller: string, extra: Partial<TaskEntry> = {}): TaskEntry {
  const { fnId: _fnId, actor: _actor, ...creation } = creationSpec();
  return {
    spec: {
      ...creation,
      taskId: id as TaskId,
      kind: 'actor-method',
      name: 'Counter.incr',
      method: 'incr',
      callerId: caller as HolderId,
    },
    state: 'PENDING_NODE_ASSIGNMENT',
    nodeId: null,
    workerId: null,
    attempt: 0,
    dispatches: 0,
    retries: 0,
    depsPending: 0,
    pendingReason: null,
    submittedAtMs: 0,
    startedAtMs: null,
    endedAtMs: null,
    error: null,
    reserved: false,
    blocked: false,
    cancelled: false,
    children: undefined,
    ...extra,
  };
}

const ids = (ts: readonly TaskEntry[]): string[] => ts.map((t) => t.spec.taskId);

describe('ActorDirectory', () => {
  it('registers an actor pending creation, with its info and limits', () => {
    const d = new ActorDirectory();
    const a = d.create(creationSpec('hits'))!;
    expect(a.state).toBe('PENDING_CREATION');
    expect(a.info).toEqual({ actorId: 'a1', className: 'Counter', methods: ['incr'], streamingMethods: [], name: 'hits', namespace: 'default', handleId: 'create-a1.0' });
    expect(a.maxRestarts).toBe(1);
    expect(d.get(ACTOR)).toBe(a);
    expect(d.byName('hits')).toBe(a);
  });

  it('refuses a second actor with a name a live actor holds', () => {
    const d = new ActorDirectory();
    d.create(creationSpec('hits'));
    expect(d.create(creationSpec('hits', 'a2' as ActorId))).toBeUndefined();
    expect(d.byName('hits') !== undefined).toBe(true);
  });

  it('releases the name when the actor dies, so a new actor may take it', () => {
    const d = new ActorDirectory();
    const a = d.create(creationSpec('hits'))!;
    d.markDead(a, { name: 'ActorDiedError', message: 'killed' });
    expect(a.state).toBe('DEAD');
    expect(a.deathCause?.message).toBe('killed');
    expect(d.byName('hits') !== undefined).toBe(false);
    expect(d.byName('hits')).toBeUndefined();
    const b = d.create(creationSpec('hits', 'a2' as ActorId));
    expect(b?.actorId).toBe('a2');
    expect(d.byName('hits')).toBe(b);
  });

  it('does not release a name that a newer actor holds when an older one is marked dead again', () => {
    const d = new ActorDirectory();
    const old = d.create(creationSpec('hits'))!;
    d.markDead(old, { name: 'ActorDiedError', message: 'x' });
    const fresh = d.create(creationSpec('hits', 'a2' as ActorId))!;
    d.markDead(old, { name: 'ActorDiedError', message: 'again' });
    expect(d.byName('hits')).toBe(fresh);
  });

  it('lists live actors running on or holding a node', () => {
    const d = new ActorDirectory();
    const a = d.create(creationSpec())!;
    const b = d.create(creationSpec(undefined, 'a2' as ActorId))!;
    const c = d.create(creationSpec(undefined, 'a3' as ActorId))!;
    a.nodeId = 'n1' as never;
    b.holding = 'n1' as never;
    c.nodeId = 'n1' as never;
    d.markDead(c, { name: 'ActorDiedError', message: 'x' });
    expect(d.onNode('n1' as never)).toEqual([a, b]);
  });

  describe('per-caller call queues', () => {
    it('returns each caller’s queue heads in submission order', () => {
      const d = new ActorDirectory();
      const a = d.create(creationSpec())!;
      for (const t of [call('x1', 'X'), call('y1', 'Y'), call('x2', 'X'), call('y2', 'Y')]) d.enqueue(a, t);
      const ready = ids(d.ready(a));
      expect(ready.filter((i) => i.startsWith('x'))).toEqual(['x1', 'x2']);
      expect(ready.filter((i) => i.startsWith('y'))).toEqual(['y1', 'y2']);
      expect(d.ready(a)).toEqual([]);
    });

    it('stops a caller’s queue at a call whose arguments are pending, without holding up other callers', () => {
      const d = new ActorDirectory();
      const a = d.create(creationSpec())!;
      const x2 = call('x2', 'X', { depsPending: 1, state: 'PENDING_ARGS_AVAIL' });
      for (const t of [call('x1', 'X'), x2, call('x3', 'X'), call('y1', 'Y')]) d.enqueue(a, t);
      expect(ids(d.ready(a))).toEqual(['x1', 'y1']);
      expect(d.ready(a)).toEqual([]);
      x2.depsPending = 0;
      x2.state = 'PENDING_NODE_ASSIGNMENT';
      expect(ids(d.ready(a))).toEqual(['x2', 'x3']);
    });

    it('lets a concurrent actor’s ready calls pass one whose arguments are pending (Ray: no per-caller order for async actors)', () => {
      const d = new ActorDirectory();
      const spec = creationSpec();
      const a = d.create({ ...spec, actor: { ...spec.actor, maxConcurrency: 4 } })!;
      const x1 = call('x1', 'X', { depsPending: 1, state: 'PENDING_ARGS_AVAIL' });
      for (const t of [x1, call('x2', 'X'), call('x3', 'X', { cancelled: true }), call('x4', 'X')]) d.enqueue(a, t);
      expect(ids(d.ready(a))).toEqual(['x2', 'x4']);
      expect(ids(a.queues.get('X' as HolderId)!)).toEqual(['x1']);
      x1.depsPending = 0;
      x1.state = 'PENDING_NODE_ASSIGNMENT';
      expect(ids(d.ready(a))).toEqual(['x1']);
    });

    it('skips failed, finished and cancelled heads', () => {
      const d = new ActorDirectory();
      const a = d.create(creationSpec())!;
      const tasks = [
        call('x1', 'X', { state: 'FAILED' }),
        call('x2', 'X', { cancelled: true }),
        call('x3', 'X', { state: 'FINISHED' }),
        call('x4', 'X'),
      ];
      for (const t of tasks) d.enqueue(a, t);
      expect(ids(d.ready(a))).toEqual(['x4']);
      expect(a.queues.get('X' as HolderId)).toEqual([]);
    });

    it('puts requeued calls back in front of the caller’s queue, keeping their order', () => {
      const d = new ActorDirectory();
      const a = d.create(creationSpec())!;
      const [x1, x2, x3, y1] = [call('x1', 'X'), call('x2', 'X'), call('x3', 'X'), call('y1', 'Y')];
      for (const t of [x1, x2, x3]) d.enqueue(a, t);
      d.ready(a);
      d.enqueue(a, call('x4', 'X'));
      d.requeue(a, [x1, y1, x2, x3]);
      expect(ids(a.queues.get('X' as HolderId)!)).toEqual(['x1', 'x2', 'x3', 'x4']);
      expect(ids(a.queues.get('Y' as HolderId)!)).toEqual(['y1']);
    });

    it('removes a queued call', () => {
      const d = new ActorDirectory();
      const a = d.create(creationSpec())!;
      const x1 = call('x1', 'X');
      d.enqueue(a, x1);
      d.enqueue(a, call('x2', 'X'));
      d.removeQueued(a, x1);
      d.removeQueued(a, call('never', 'Z'));
      expect(ids(d.ready(a))).toEqual(['x2']);
    });

    it('drains every queued call when the actor is dead', () => {
      const d = new ActorDirectory();
      const a = d.create(creationSpec())!;
      d.enqueue(a, call('x1', 'X'));
      d.enqueue(a, call('y1', 'Y', { depsPending: 2 }));
      expect(ids(d.drainQueued(a)).sort()).toEqual(['x1', 'y1']);
      expect(a.queues.size).toBe(0);
    });
  });
});
