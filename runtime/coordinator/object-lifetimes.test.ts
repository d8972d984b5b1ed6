import { describe, expect, it } from 'vitest';
import { DRIVER_HOLDER, holderOfWorker, returnId, type FunctionId, type NodeId, type ObjectId, type TaskId, type WorkerId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import type { NormalTaskSpec, TaskSpec } from '../protocol/task-spec.ts';
import { Coordinator, type NodeLink } from './coordinator.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';

class FakeLink implements NodeLink {
  readonly sent: CoordinatorToNode[] = [];
  send(msg: CoordinatorToNode): void {
    this.sent.push(msg);
  }
  freed(): ObjectId[] {
    return this.sent.flatMap((m) => (m.type === 'free_objects' ? [...m.ids] : []));
  }
  attemptOf(taskId: TaskId): number {
    const runs = this.sent.filter((m) => m.type === 'run_task' && m.spec.taskId === taskId);
    const last = runs[runs.length - 1];
    return last?.type === 'run_task' ? last.attempt : 1;
  }
}

const FN = 'fn' as FunctionId;
const n1 = 'n1' as NodeId;
const o = (s: string) => s as ObjectId;
const tick = () => new Promise((r) => setTimeout(r, 0));

function spec(over: Partial<NormalTaskSpec> = {}): NormalTaskSpec {
  return makeTaskSpec({ fnId: FN, enableTaskEvents: false, ...over });
}

function setup() {
  const c = new Coordinator(n1);
  const link = new FakeLink();
  c.addNode(n1, { CPU: 4 }, link, { isCoordinator: true, gpuFallback: false });
  c.registerFunction({ fnId: FN, kind: 'function', name: 'f', source: '() => 1', scope: [], options: {} });
  const msg = (m: NodeToCoordinator) => c.handleNodeMessage(n1, m);
  /** The task finished with its results kept on the node (not inline), `nested` refs inside the first. */
  const doneOnNode = (s: TaskSpec, nested?: ObjectId[]) => {
    const results: TaskResult[] = [];
    for (let i = 0; i < (s.numReturns as number); i++) results.push({ id: returnId(s.taskId, i), size: 1e6, ...(i === 0 && nested ? { refs: nested } : {}) });
    msg({ type: 'task_done', taskId: s.taskId, attempt: link.attemptOf(s.taskId), workerId: null, startMs: 0, endMs: 1, results });
  };
  const exists = (id: ObjectId) => c.hasObject(id);
  return { c, link, msg, doneOnNode, exists };
}

describe('Coordinator: freeing objects no ref can reach', () => {
  it('frees a put object when its holder drops the ref, telling the node that holds it', async () => {
    const { c, link, exists } = setup();
    c.putObject(o('p1'), 1e6, undefined, n1, DRIVER_HOLDER);
    expect(exists(o('p1'))).toBe(true);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [o('p1')] });
    expect(exists(o('p1'))).toBe(false);
    await tick();
    expect(link.freed()).toEqual([o('p1')]);
  });

  it("frees a task's result dropped while the task ran once it is ready", async () => {
    const { c, link, doneOnNode, exists } = setup();
    const t = spec();
    c.submitTask(t);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [returnId(t.taskId, 0)] });
    expect(exists(returnId(t.taskId, 0))).toBe(true);
    doneOnNode(t);
    expect(exists(returnId(t.taskId, 0))).toBe(false);
    await tick();
    expect(link.freed()).toEqual([returnId(t.taskId, 0)]);
  });

  it('keeps a nested ref alive until the object holding it is freed', () => {
    const { c, exists } = setup();
    c.putObject(o('inner'), 1e6, undefined, n1, DRIVER_HOLDER);
    c.putObject(o('outer'), 1e6, undefined, n1, DRIVER_HOLDER, [o('inner')]);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [o('inner')] });
    expect(exists(o('inner'))).toBe(true);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [o('outer')] });
    expect(exists(o('outer'))).toBe(false);
    expect(exists(o('inner'))).toBe(false);
  });

  it("keeps a task's argument alive while the task is pending or running", () => {
    const { c, exists, msg, link } = setup();
    c.putObject(o('arg'), 1e6, undefined, n1, DRIVER_HOLDER);
    const t = spec({ args: [{ kind: 'ref', id: o('arg') }, { kind: 'value', obj: { v: null, m: 1, refs: [o('nested')], size: 8 } }] });
    c.putObject(o('nested'), 1e6, undefined, n1, DRIVER_HOLDER);
    c.submitTask(t);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [o('arg'), o('nested')] });
    expect(exists(o('arg'))).toBe(true);
    expect(exists(o('nested'))).toBe(true);
    // An inline result needs no lineage: the arguments go when the task ends.
    msg({ type: 'task_done', taskId: t.taskId, attempt: link.attemptOf(t.taskId), workerId: null, startMs: 0, endMs: 1, results: [{ id: returnId(t.taskId, 0), size: 8, obj: { v: 1, size: 8 } }] });
    expect(exists(o('arg'))).toBe(false);
    expect(exists(o('nested'))).toBe(false);
  });

  it("keeps a task's arguments while lineage may re-run it (a result lives only on a node), then frees them", () => {
    const { c, exists, doneOnNode } = setup();
    c.putObject(o('arg'), 1e6, undefined, n1, DRIVER_HOLDER);
    const t = spec({ args: [{ kind: 'ref', id: o('arg') }] });
    c.submitTask(t);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [o('arg')] });
    doneOnNode(t);
    expect(exists(o('arg'))).toBe(true);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [returnId(t.taskId, 0)] });
    expect(exists(returnId(t.taskId, 0))).toBe(false);
    expect(exists(o('arg'))).toBe(false);
  });

  it('counts a ref a worker returned inside a result while it travels: the worker dropping it does not free it', () => {
    const { c, msg, doneOnNode, exists } = setup();
    const t = spec();
    c.submitTask(t);
    // The task's worker puts an object and returns a ref to it inside its result.
    msg({ type: 'object_put', id: o('w-put'), size: 1e6, holder: holderOfWorker('w1' as WorkerId) });
    doneOnNode(t, [o('w-put')]);
    msg({ type: 'refs', holder: holderOfWorker('w1' as WorkerId), release: [o('w-put')] });
    expect(exists(o('w-put'))).toBe(true);
    // The driver gets the result: it revives the ref (add) and then drops the outer ref.
    c.updateRefs(DRIVER_HOLDER, undefined, { add: [o('w-put')], release: [returnId(t.taskId, 0)] });
    expect(exists(o('w-put'))).toBe(true);
    c.updateRefs(DRIVER_HOLDER, undefined, { release: [o('w-put')] });
    expect(exists(o('w-put'))).toBe(false);
  });

  it('drops the refs of a worker that died, and of every worker on a node that left', () => {
    const { c, msg, exists } = setup();
    msg({ type: 'object_put', id: o('a'), size: 1e6, holder: holderOfWorker('w1' as WorkerId) });
    msg({ type: 'object_put', id: o('b'), size: 1e6, holder: holderOfWorker('w2' as WorkerId) });
    msg({ type: 'refs', holder: holderOfWorker('w1' as WorkerId), gone: true });
    expect(exists(o('a'))).toBe(false);
    expect(exists(o('b'))).toBe(true);
    c.removeNode(n1, 'tab closed');
    expect(exists(o('b'))).toBe(false);
  });

  it("hands a generator's items to their consumer, and frees unconsumed ones when the generator is dropped", async () => {
    const { c, msg, link, exists } = setup();
    const g = spec({ numReturns: 'streaming' });
    c.submitTask(g);
    const attempt = link.attemptOf(g.taskId);
    for (let i = 0; i < 3; i++) {
      msg({ type: 'generator_item', taskId: g.taskId, attempt, index: i, result: { id: returnId(g.taskId, i), size: 8, obj: { v: i, size: 8 } } });
    }
    expect(await c.generatorNext(g.taskId, 0, DRIVER_HOLDER)).toEqual({ done: false, id: returnId(g.taskId, 0) });
    c.updateRefs(DRIVER_HOLDER, undefined, { generators: [g.taskId] });
    expect(exists(returnId(g.taskId, 0))).toBe(true);
    expect(exists(returnId(g.taskId, 1))).toBe(false);
    expect(exists(returnId(g.taskId, 2))).toBe(false);
    // Items made after the drop go at once.
    msg({ type: 'generator_item', taskId: g.taskId, attempt, index: 3, result: { id: returnId(g.taskId, 3), size: 8, obj: { v: 3, size: 8 } } });
    expect(exists(returnId(g.taskId, 3))).toBe(false);
  });

  it('frees a pulled copy reported after the object was freed, on the node that reported it', async () => {
    const { c, msg, link } = setup();
    msg({ type: 'object_located', id: o('gone') });
    await tick();
    expect(link.freed()).toEqual([o('gone')]);
    expect(c.referencedObjects).toBe(0);
  });
});
