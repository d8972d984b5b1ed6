// The coordinator's unit-test harness: fake node links, task and actor specs, and a cluster of
// named nodes driven through the Coordinator's public calls and node messages.
import { taskWireError, toWireError, wireError } from '../api/errors.ts';
import { returnId, type ActorId, type FunctionId, type HolderId, type NodeId, type ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode, NodeToCoordinator, TaskResult } from '../protocol/node-messages.ts';
import type { ActorCreationTaskSpec, ActorTaskSpec, FunctionDescriptor, NormalTaskSpec, ResourceSet, TaskSpec } from '../protocol/task-spec.ts';
import type { WireError } from '../protocol/wire-error.ts';
import { Coordinator, type NodeLink } from './coordinator.ts';
import { FIXTURE_FN, makeTaskSpec, type SpecOf, type TaskSpecOverrides } from '../protocol/task-spec.fixture.ts';

export type RunTask = Extract<CoordinatorToNode, { type: 'run_task' }>;

/** A node as the coordinator sees it: a link that records what it is sent. */
export class FakeLink implements NodeLink {
  readonly sent: CoordinatorToNode[] = [];
  send(msg: CoordinatorToNode): void {
    this.sent.push(msg);
  }
  runs(): RunTask[] {
    return this.sent.filter((m): m is RunTask => m.type === 'run_task');
  }
  ranIds(): string[] {
    return this.runs().map((m) => m.spec.taskId);
  }
}

export const nid = (s: string): NodeId => s as NodeId;
export const FN = FIXTURE_FN;
export const CLASS_FN = 'fn-Counter' as FunctionId;

export function fnDesc(fnId: FunctionId = FN, kind: FunctionDescriptor['kind'] = 'function'): FunctionDescriptor {
  return { fnId, kind, name: String(fnId), source: '(x) => x', scope: [], options: {} };
}

let seq = 0;
/** A spec of a one-CPU task of `FN` (the fixture's default function), with any field overridden. */
export function taskSpec<O extends TaskSpecOverrides = Partial<NormalTaskSpec>>(over?: O): SpecOf<O> {
  return makeTaskSpec(over);
}

export function actorSpec(over: { maxRestarts?: number; maxTaskRetries?: number; name?: string } = {}): ActorCreationTaskSpec {
  const actorId = `a${seq++}` as ActorId;
  return taskSpec({
    kind: 'actor-creation',
    name: 'Counter',
    fnId: CLASS_FN,
    resources: { CPU: 1 },
    heldResources: {},
    actorId,
    actor: {
      className: 'Counter',
      ...(over.name !== undefined ? { actorName: over.name } : {}),
      maxRestarts: over.maxRestarts ?? 0,
      maxTaskRetries: over.maxTaskRetries ?? 0,
      maxConcurrency: 1,
      methods: ['incr'],
      streamingMethods: [],
    },
  });
}

/** A call of the actor's `incr` by `caller` (a holder id such as 'driver' or a worker's id). */
export function methodSpec(actor: ActorCreationTaskSpec, caller = 'driver', over: Partial<ActorTaskSpec> = {}): ActorTaskSpec {
  return taskSpec({ kind: 'actor-method', name: 'Counter.incr', method: 'incr', actorId: actor.actorId, resources: {}, callerId: caller as HolderId, ...over });
}

export interface Cluster {
  readonly c: Coordinator;
  readonly links: Record<string, FakeLink>;
  submit<S extends TaskSpec>(spec: S): S;
  /** Reports the task finished on `node` with one inline result per return. */
  done(node: string, spec: TaskSpec, values?: unknown[], over?: Partial<Extract<NodeToCoordinator, { type: 'task_done' }>>): void;
  fail(node: string, spec: TaskSpec, error: WireError, systemFailure?: boolean, attempt?: number): void;
  /** The error stored for a return object, if it failed. */
  errorOf(id: ObjectId): WireError | undefined;
}

/** `ownNode`: the node added as the coordinator tab's own (trusted, unisolated) node; by default none is. */
export function cluster(nodes: Record<string, ResourceSet>, opts: { ownNode?: string } = {}): Cluster {
  const c = new Coordinator(nid(Object.keys(nodes)[0] ?? 'head'));
  const links: Record<string, FakeLink> = {};
  for (const [name, res] of Object.entries(nodes)) {
    links[name] = new FakeLink();
    c.addNode(nid(name), res, links[name], { isCoordinator: name === opts.ownNode, gpuFallback: false });
  }
  c.registerFunction(fnDesc());
  c.registerFunction(fnDesc(CLASS_FN, 'class'));
  const attemptOf = (node: string, spec: TaskSpec): number => {
    const runs = links[node]!.runs().filter((m) => m.spec.taskId === spec.taskId);
    return runs[runs.length - 1]?.attempt ?? 1;
  };
  return {
    c,
    links,
    submit(spec) {
      c.submitTask(spec);
      return spec;
    },
    done(node, spec, values = [null], over = {}) {
      const results: TaskResult[] = values.map((v, i) => ({ id: returnId(spec.taskId, i), size: 8, obj: { v, size: 8 } }));
      c.handleNodeMessage(nid(node), {
        type: 'task_done',
        taskId: spec.taskId,
        attempt: attemptOf(node, spec),
        workerId: null,
        startMs: 0,
        endMs: 50,
        results,
        ...over,
      });
    },
    fail(node, spec, error, systemFailure = false, attempt = attemptOf(node, spec)) {
      c.handleNodeMessage(nid(node), { type: 'task_done', taskId: spec.taskId, attempt, workerId: null, startMs: 0, endMs: 50, error, systemFailure });
    },
    errorOf(id) {
      return c.locate(id)?.obj?.err;
    },
  };
}

export const ret = (spec: TaskSpec, i = 0): ObjectId => returnId(spec.taskId, i);
export const crash = (): WireError => wireError('WorkerCrashedError', 'the worker running the task died');

export class ValueError extends Error {
  constructor(m: string) {
    super(m);
    this.name = 'ValueError';
  }
}
export const thrown = (e: Error): WireError => taskWireError('f', toWireError(e));
