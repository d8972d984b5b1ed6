// When the cluster's objects may go (Ray's reference counting and lineage pinning, owner side):
// the coordinator reports what holds refs — callers of tasks and puts, the driver and workers as
// they gain and drop refs, stored objects with refs nested inside, pending tasks' arguments,
// lineage kept to recompute lost results, generators' unconsumed items — and an object whose
// count reaches zero leaves the directory and every node that holds it (`free_objects`).

import { holderOfGenerator, taskIdOf, type HolderId, type NodeId, type ObjectId, type TaskId } from '../protocol/ids.ts';
import type { RefUpdate } from '../protocol/node-messages.ts';
import type { SerializedObject, TaskSpec } from '../protocol/task-spec.ts';
import type { LineageEntry } from './lineage.ts';
import type { WireError } from '../protocol/wire-error.ts';
import type { ObjectDirectory } from './object-directory.ts';
import { ReferenceTable } from './reference-table.ts';

export interface ObjectLifetimesDeps {
  readonly objects: ObjectDirectory;
  /** Specs of finished tasks whose results live on nodes, to recompute them (owned by `lineage.ts`). */
  readonly lineage: Map<TaskId, LineageEntry>;
  readonly reconstructions: Map<TaskId, number>;
  /** Tells a node to drop objects from its store (called once per node per batch). */
  readonly sendFree: (node: NodeId, ids: ObjectId[]) => void;
  /** Its consumer dropped a streaming task's generator: the producer is cancelled if still running. */
  readonly generatorDropped?: (taskId: TaskId) => void;
  /** A watched object (`watch`) was freed: nothing holds a ref to it any more. */
  readonly unreferenced?: (id: ObjectId) => void;
}


/** ObjectIds a task's spec keeps alive: its ref arguments and refs nested in its value arguments. */
function argIds(spec: TaskSpec): ObjectId[] | undefined {
  let out: ObjectId[] | undefined;
  for (const a of spec.args) {
    if (a.kind === 'ref') (out ??= []).push(a.id);
    else if (a.obj.refs) (out ??= []).push(...a.obj.refs);
  }
  return out;
}

export class ObjectLifetimes {
  readonly refs = new ReferenceTable();
  private readonly d: ObjectLifetimesDeps;
  /** Per lineage entry, how many of its task's return objects still exist. */
  private readonly lineageLive = new Map<TaskId, number>();
  private readonly droppedGenerators = new Set<TaskId>();
  private freeQueue = new Map<NodeId, ObjectId[]>();
  /** Objects whose freeing is reported (`unreferenced`): the refs actor handles hold. */
  private readonly watched = new Set<ObjectId>();
  private flushQueued = false;
  private stopped = false;

  constructor(deps: ObjectLifetimesDeps) {
    this.d = deps;
  }

  /** Session over: nothing is freed any more (everything goes with the session). */
  stop(): void {
    this.stopped = true;
  }

  /** Reports when `id` is freed (an actor's handle object: the actor has no handle left). */
  watch(id: ObjectId): void {
    this.watched.add(id);
  }

  /** The caller of a task (or a put) holds a ref to this result from the moment it submits it. */
  callerHoldsOne(holder: HolderId, node: NodeId | undefined, id: ObjectId): void {
    this.refs.holderAddOne(holder, node, id);
  }

  /** Keeps a submitted task's arguments alive; true when it has any to release later. */
  holdArgs(spec: TaskSpec): boolean {
    const ids = argIds(spec);
    if (!ids) return false;
    for (const id of ids) this.refs.add(id);
    return true;
  }

  releaseArgs(spec: TaskSpec): void {
    const ids = argIds(spec);
    if (!ids) return;
    const work: ObjectId[] = [];
    for (const id of ids) if (this.refs.release(id)) work.push(id);
    this.drain(work);
  }

  /** Refs nested in a function's `scope` live as long as the function table: for the session. */
  holdForever(ids: readonly ObjectId[]): void {
    for (const id of ids) this.refs.add(id);
  }

  /**
   * Marks an object ready (the directory's setReady) and counts the refs nested in it. An
   * object nothing refers to any more (its ref was dropped while its task ran) goes at once.
   */
  ready(id: ObjectId, size: number, obj: SerializedObject | undefined, node: NodeId | undefined, nested?: readonly ObjectId[]): void {
    const e = this.d.objects.ensure(id);
    const inner = nested ?? obj?.refs;
    if (inner && inner.length > 0 && e.refs === undefined) {
      e.refs = inner;
      for (const r of inner) this.refs.add(r);
    }
    this.d.objects.setReady(id, size, obj, node);
    if (!this.stopped && this.refs.count(id) === 0 && this.d.objects.get(id) === e) this.drain([id]);
  }

  /** An object `put` by `holder` (which holds its ref) on `node`; `nested` lists the refs inside a non-inline one. */
  put(id: ObjectId, size: number, obj: SerializedObject | undefined, node: NodeId, holder: HolderId, holderNode: NodeId | undefined, nested?: readonly ObjectId[]): void {
    this.callerHoldsOne(holder, holderNode, id);
    this.ready(id, size, obj, node, nested);
  }

  /** A streaming task's item: held for the generator's consumer until it takes it or drops the generator. */
  generatorItem(taskId: TaskId, id: ObjectId, size: number, obj: SerializedObject | undefined, node: NodeId | undefined, nested?: readonly ObjectId[]): void {
    if (!this.droppedGenerators.has(taskId)) this.refs.holderAdd(holderOfGenerator(taskId), undefined, [id]);
    this.ready(id, size, obj, node, nested);
  }

  /** The consumer `holder` took item `id` of a generator: the ref is its own now. */
  handOut(holder: HolderId, node: NodeId | undefined, taskId: TaskId, id: ObjectId): void {
    this.refs.holderAdd(holder, node, [id]);
    this.drain(this.refs.holderRelease(holderOfGenerator(taskId), [id]));
  }

  /** Whether `holder` has a ref to `id` (what task code on a volunteer may get or wait on). */
  holds(holder: HolderId, id: ObjectId): boolean {
    return this.refs.holds(holder, id);
  }

  /** Applies a holder's report: adds first, so a ref and what covered it cannot both reach zero. */
  update(holder: HolderId, node: NodeId | undefined, u: RefUpdate): void {
    if (this.stopped) return;
    if (u.add) this.refs.holderAdd(holder, node, u.add);
    const work: ObjectId[] = [];
    if (u.release) work.push(...this.refs.holderRelease(holder, u.release));
    for (const taskId of u.generators ?? []) {
      this.droppedGenerators.add(taskId);
      work.push(...this.refs.dropHolder(holderOfGenerator(taskId)));
    }
    if (u.gone) work.push(...this.refs.dropHolder(holder));
    this.drain(work);
    for (const taskId of u.generators ?? []) this.d.generatorDropped?.(taskId);
  }

  /** The refs held on a node that left are gone with it. */
  nodeLeft(node: NodeId): void {
    if (!this.stopped) this.drain(this.refs.dropNode(node));
  }

  /**
   * A normal task finished with results kept on nodes: keep its spec (and so its arguments) while
   * any of its results exists, to recompute them if their node leaves. True when recorded: the
   * task's hold on its arguments passes to the lineage entry.
   */
  recordLineage(spec: TaskSpec, submittedBy: NodeId | undefined, returnIds: readonly ObjectId[]): boolean {
    if (this.d.lineage.has(spec.taskId)) return false;
    let live = 0;
    for (const id of returnIds) if (this.d.objects.get(id)) live++;
    if (live === 0) return false;
    this.d.lineage.set(spec.taskId, { spec, submittedBy });
    this.lineageLive.set(spec.taskId, live);
    return true;
  }

  /** A node reports it keeps a copy (it pulled one): a location, or, if the object is gone already, freed there too. */
  located(id: ObjectId, node: NodeId): boolean {
    const e = this.d.objects.get(id);
    if (e) {
      e.locations.add(node);
      return true;
    }
    this.queueFree(node, id);
    return false;
  }

  /** Frees objects nothing keeps alive, and what only they kept alive (a worklist, not recursion: chains can be long). */
  private drain(work: ObjectId[]): void {
    if (this.stopped) return;
    while (work.length > 0) {
      const id = work.pop()!;
      const e = this.d.objects.get(id);
      // A pending object goes when it becomes ready (ready() checks its count then).
      if (!e || !e.ready || this.refs.count(id) > 0) continue;
      this.d.objects.delete(id);
      if (this.watched.size > 0 && this.watched.delete(id)) this.d.unreferenced?.(id);
      // An inline object is in no node's store (its locations only say who made it).
      if (e.obj === undefined) for (const node of e.locations) this.queueFree(node, id);
      if (e.refs) for (const r of e.refs) if (this.refs.release(r)) work.push(r);
      if (this.lineageLive.size === 0) continue;
      const taskId = taskIdOf(id);
      const live = taskId ? this.lineageLive.get(taskId) : undefined;
      if (live === undefined) continue;
      if (live > 1) {
        this.lineageLive.set(taskId!, live - 1);
        continue;
      }
      this.lineageLive.delete(taskId!);
      const spec = this.d.lineage.get(taskId!)?.spec;
      this.d.lineage.delete(taskId!);
      this.d.reconstructions.delete(taskId!);
      for (const a of spec ? argIds(spec) ?? [] : []) if (this.refs.release(a)) work.push(a);
    }
  }

  /**
   * `ray.free`: the ready objects' values go from every node at once, whoever holds their refs,
   * and the objects read as `err` from now on (not recomputed). A pending object is left alone.
   */
  freeValues(ids: readonly ObjectId[], err: (id: ObjectId) => WireError): void {
    for (const id of ids) {
      const e = this.d.objects.get(id);
      if (!e?.ready) continue;
      for (const n of e.locations) this.queueFree(n, id);
      e.locations.clear();
      e.obj = { v: undefined, size: 0, err: err(id) };
      e.size = 0;
      e.sha256 = undefined;
    }
  }

  private queueFree(node: NodeId, id: ObjectId): void {
    let q = this.freeQueue.get(node);
    if (!q) this.freeQueue.set(node, (q = []));
    q.push(id);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const batches = this.freeQueue;
      this.freeQueue = new Map();
      if (this.stopped) return;
      for (const [n, ids] of batches) this.d.sendFree(n, ids);
    });
  }

  /** Objects with a count (tests). */
  get referenced(): number {
    return this.refs.size;
  }
}
