import { describe, expect, it } from 'vitest';
import { returnId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { TaskSpec } from '../protocol/task-spec.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import { MAX_RECONSTRUCTIONS } from './constants.ts';
import { Lineage } from './lineage.ts';
import { ObjectDirectory } from './object-directory.ts';

const n1 = 'n1' as NodeId;

function setup(): { objects: ObjectDirectory; lineage: Lineage; resubmitted: TaskSpec[]; submitters: (NodeId | undefined)[]; pending: Set<TaskId> } {
  const objects = new ObjectDirectory();
  const resubmitted: TaskSpec[] = [];
  const submitters: (NodeId | undefined)[] = [];
  const pending = new Set<TaskId>();
  const lineage = new Lineage({
    objects,
    isPending: (id) => pending.has(id),
    stopped: () => false,
    resubmit: (spec, by) => {
      resubmitted.push(spec);
      submitters.push(by);
    },
    log: () => {},
  });
  return { objects, lineage, resubmitted, submitters, pending };
}

describe('Lineage: objects lost with their nodes', () => {
  it('re-runs the task that made a lost result and makes its node-held returns pending again', () => {
    const { objects, lineage, resubmitted } = setup();
    const spec = makeTaskSpec({ numReturns: 2 });
    const [r0, r1] = [returnId(spec.taskId, 0), returnId(spec.taskId, 1)];
    objects.setReady(r0, 200_000, undefined, n1);
    objects.setReady(r1, 8, { v: 1, size: 8 }, undefined); // inline: not lost, stays ready
    lineage.specs.set(spec.taskId, { spec, submittedBy: undefined });

    lineage.objectLost(r0);

    expect(resubmitted).toEqual([spec]);
    expect(objects.isReady(r0)).toBe(false);
    expect(objects.isReady(r1)).toBe(true);
    expect(lineage.reconstructions.get(spec.taskId)).toBe(1);
  });

  it('re-runs a task a volunteer’s task submitted on behalf of that volunteer, so it stays off the coordinator’s own node', () => {
    const { objects, lineage, submitters } = setup();
    const spec = makeTaskSpec();
    const v1 = 'v1' as NodeId;
    objects.setReady(returnId(spec.taskId, 0), 200_000, undefined, n1);
    lineage.specs.set(spec.taskId, { spec, submittedBy: v1 });
    lineage.objectLost(returnId(spec.taskId, 0));
    expect(submitters).toEqual([v1]);
  });

  it('does not re-run a task already being recomputed', () => {
    const { objects, lineage, resubmitted, pending } = setup();
    const spec = makeTaskSpec();
    const r0 = returnId(spec.taskId, 0);
    objects.setReady(r0, 200_000, undefined, n1);
    lineage.specs.set(spec.taskId, { spec, submittedBy: undefined });
    pending.add(spec.taskId);

    lineage.objectLost(r0);

    expect(resubmitted).toEqual([]);
    expect(objects.get(r0)?.obj?.err).toBeUndefined();
  });

  it(`gives up after ${MAX_RECONSTRUCTIONS} re-runs: the object fails with ObjectLostError saying why`, () => {
    const { objects, lineage, resubmitted } = setup();
    const spec = makeTaskSpec();
    const r0 = returnId(spec.taskId, 0);
    lineage.specs.set(spec.taskId, { spec, submittedBy: undefined });
    for (let i = 0; i <= MAX_RECONSTRUCTIONS; i++) lineage.objectLost(r0);

    expect(resubmitted).toHaveLength(MAX_RECONSTRUCTIONS);
    const err = objects.get(r0)?.obj?.err;
    expect(err?.name).toBe('ObjectLostError');
    expect(err?.message).toMatch(/recomputed too often/);
  });

  it('fails a put object (no task to re-run) and a return whose task is no longer known, each saying why', () => {
    const { objects, lineage, resubmitted } = setup();
    const put = 'p1' as ObjectId;
    const orphan = returnId('t-gone' as TaskId, 0);

    lineage.objectLost(put);
    lineage.objectLost(orphan);

    expect(resubmitted).toEqual([]);
    expect(objects.get(put)?.obj?.err?.message).toMatch(/ray\.put/);
    expect(objects.get(orphan)?.obj?.err?.message).toMatch(/no longer known/);
  });
});
