// Branded identifiers, as Ray's src/ray/common/id.h keeps ObjectID, TaskID and ActorID apart.
// Ids are strings: a random per-process prefix plus a counter, so any tab or worker can mint them
// without asking anyone, and return ids derive from their task id (Ray's ObjectID::FromIndex).

export type ObjectId = string & { readonly __brand: 'ObjectId' };
export type TaskId = string & { readonly __brand: 'TaskId' };
export type ActorId = string & { readonly __brand: 'ActorId' };
export type NodeId = string & { readonly __brand: 'NodeId' };
export type WorkerId = string & { readonly __brand: 'WorkerId' };
export type FunctionId = string & { readonly __brand: 'FunctionId' };

/** Makes unique ids for one process (tab or worker): `<prefix><kind><counter>`. */
export class IdGenerator {
  private counter = 0;
  readonly prefix: string;

  constructor(prefix: string = randomPrefix()) {
    this.prefix = prefix;
  }

  private next(kind: string): string {
    return this.prefix + kind + (this.counter++).toString(36);
  }

  taskId(): TaskId {
    return this.next('t') as TaskId;
  }
  putId(): ObjectId {
    return this.next('p') as ObjectId;
  }
  actorId(): ActorId {
    return this.next('a') as ActorId;
  }
  workerId(): WorkerId {
    return this.next('w') as WorkerId;
  }
}

/** The ObjectId of a task's i-th return value (0-based), or of a generator's i-th item. */
export function returnId(taskId: TaskId, index: number): ObjectId {
  if (index !== 0) return (taskId + '.' + index) as ObjectId;
  // One task's first return id is asked for several times in a row along its path: the same
  // string each time saves building and hashing it again for every map lookup.
  if (taskId !== lastReturnTask) {
    lastReturnTask = taskId;
    lastReturnId = (taskId + '.0') as ObjectId;
  }
  return lastReturnId;
}
let lastReturnTask: TaskId | undefined;
let lastReturnId = '' as ObjectId;

/** The task that produced an object, when it was produced by one (not by `put`). */
export function taskIdOf(objectId: ObjectId): TaskId | undefined {
  const dot = objectId.lastIndexOf('.');
  return dot < 0 ? undefined : (objectId.slice(0, dot) as TaskId);
}

export function randomPrefix(): string {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += (b & 0x3f).toString(36).padStart(2, '0');
  return s.slice(0, 10) + '-';
}

/**
 * Who holds ObjectRefs or submits tasks (Ray's owner/borrower address): the driver, a worker, an
 * actor (the result of its creation task), a node (a caller without a worker), or a generator (its
 * items until a consumer takes them). Made only by the functions below, so the spellings live here.
 */
export type HolderId = string & { readonly __brand: 'HolderId' };

/** The driver: the program running in the coordinator tab. */
export const DRIVER_HOLDER = 'driver' as HolderId;

/** A worker: its task code's refs and submissions (the worker id itself). */
export function holderOfWorker(workerId: WorkerId): HolderId {
  return workerId as string as HolderId;
}

/** An actor: holds the result of its creation task. */
export function holderOfActor(actorId: ActorId): HolderId {
  return `actor:${actorId}` as HolderId;
}

/** A node, for a request that names no worker. */
export function holderOfNode(nodeId: NodeId): HolderId {
  return `node:${nodeId}` as HolderId;
}

/** A streaming task's items until a consumer takes them. */
export function holderOfGenerator(taskId: TaskId): HolderId {
  return `gen:${taskId}` as HolderId;
}
