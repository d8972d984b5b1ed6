import { describe, expect, it } from 'vitest';
import { withMeasuredSizes } from './claimed-sizes.ts';
import type { ObjectId, TaskId, WorkerId } from './ids.ts';
import type { NodeToCoordinator } from './node-messages.ts';
import type { SerializedObject } from './task-spec.ts';

const MAX_HELD = 1000;
/** A stand-in for the codec: an object measures the length of its value's JSON. */
const measure = (obj: SerializedObject): number => JSON.stringify(obj.v).length;
const id = (s: string) => s as ObjectId;
const inline = (v: unknown, claimed: number): SerializedObject => ({ v, size: claimed });

describe('withMeasuredSizes: sizes a volunteer claims are measured where the object came along, capped where it did not', () => {
  it('task_done: an inline result is as large as it measures, a held one at most the largest pullable object', () => {
    const msg: NodeToCoordinator = {
      type: 'task_done', taskId: 't1' as TaskId, attempt: 0, workerId: 'w1' as WorkerId, startMs: 0, endMs: 1,
      results: [
        { id: id('t1.0'), size: 0, obj: inline('x'.repeat(500), 0) },
        { id: id('t1.1'), size: 1e15 },
        { id: id('t1.2'), size: 700, refs: [id('p1')] },
      ],
    };
    const out = withMeasuredSizes(msg, measure, MAX_HELD);
    expect(out).toEqual({ ...msg, results: [{ id: id('t1.0'), size: 502, obj: inline('x'.repeat(500), 502) }, { id: id('t1.1'), size: MAX_HELD }, msg.results![2]] });
  });

  it('generator_item: the same for its one result', () => {
    const msg: NodeToCoordinator = { type: 'generator_item', taskId: 't1' as TaskId, attempt: 0, index: 0, result: { id: id('t1.g0'), size: 1, obj: inline([1, 2, 3], 1) } };
    expect(withMeasuredSizes(msg, measure, MAX_HELD)).toEqual({ ...msg, result: { id: id('t1.g0'), size: 7, obj: inline([1, 2, 3], 7) } });
    const held: NodeToCoordinator = { ...msg, result: { id: id('t1.g0'), size: 5000 } };
    expect(withMeasuredSizes(held, measure, MAX_HELD)).toEqual({ ...msg, result: { id: id('t1.g0'), size: MAX_HELD } });
  });

  it('object_put: the message size and the inline object size both measured; a held put capped', () => {
    const msg: NodeToCoordinator = { type: 'object_put', id: id('p1'), size: 3, obj: inline({ a: 'bcdef' }, 3) };
    expect(withMeasuredSizes(msg, measure, MAX_HELD)).toEqual({ type: 'object_put', id: id('p1'), size: 13, obj: inline({ a: 'bcdef' }, 13) });
    expect(withMeasuredSizes({ type: 'object_put', id: id('p1'), size: 2e9 }, measure, MAX_HELD)).toEqual({ type: 'object_put', id: id('p1'), size: MAX_HELD });
  });

  it('a client put from task code: its object measured', () => {
    const msg: NodeToCoordinator = { type: 'client_request', reqId: 1, taskId: 't1' as TaskId, req: { type: 'put', id: id('p2'), obj: inline('abc', 0) } };
    expect(withMeasuredSizes(msg, measure, MAX_HELD)).toEqual({ ...msg, req: { type: 'put', id: id('p2'), obj: inline('abc', 5) } });
  });

  it('leaves honest claims and messages without sizes as they are (the same object)', () => {
    const honest: NodeToCoordinator = { type: 'object_put', id: id('p1'), size: 5, obj: inline('abc', 5) };
    expect(withMeasuredSizes(honest, measure, MAX_HELD).type).toBe('object_put');
    const started: NodeToCoordinator = { type: 'task_started', taskId: 't1' as TaskId, workerId: 'w1' as WorkerId, atMs: 0 };
    expect(withMeasuredSizes(started, measure, MAX_HELD)).toBe(started);
    const failed: NodeToCoordinator = { type: 'task_done', taskId: 't1' as TaskId, attempt: 0, workerId: null, startMs: 0, endMs: 1, error: { name: 'E', message: 'm' } };
    expect(withMeasuredSizes(failed, measure, MAX_HELD)).toBe(failed);
  });
});
