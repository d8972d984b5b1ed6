// Branded identifiers, as Ray's src/ray/common/id.h keeps ObjectID, TaskID and ActorID apart.
// Task, put and actor ids are unguessable: a kind letter and 96 random bits (crypto.getRandomValues,
// base64url), so any tab or worker mints them without asking anyone and holding one is a capability
// (a member cannot derive another's ids from those it sees, as it could from a prefix and counter).
// Return ids derive from their task id (Ray's ObjectID::FromIndex): whoever may name a task — its
// caller, the node that runs it — may name its returns. Worker ids are a per-process prefix and a
// counter (they name nothing one could act on).

export type ObjectId = string & { readonly __brand: 'ObjectId' };
export type TaskId = string & { readonly __brand: 'TaskId' };
export type ActorId = string & { readonly __brand: 'ActorId' };
export type NodeId = string & { readonly __brand: 'NodeId' };
export type WorkerId = string & { readonly __brand: 'WorkerId' };
export type FunctionId = string & { readonly __brand: 'FunctionId' };

/** Random bits in an unguessable id (the issue asks for at least 96). */
export const ID_RANDOM_BITS = 96;
const ID_RANDOM_BYTES = ID_RANDOM_BITS / 8;
/** Ids' worth of random bytes drawn per getRandomValues call (the call costs more than the bytes). */
const IDS_PER_DRAW = 256;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const CODES = Uint8Array.from(B64URL, (c) => c.charCodeAt(0));
const pool = new Uint8Array(ID_RANDOM_BYTES * IDS_PER_DRAW);
let poolAt = pool.length;

/**
 * `kind` (one character) followed by ID_RANDOM_BITS random bits in base64url: 16 characters, never
 * a '.'. Built in one `String.fromCharCode` call, a flat string (concatenation made a rope that every
 * map lookup flattened: 2–3× slower on the submit path).
 */
export function randomId(kind: string): string {
  if (poolAt === pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const p = pool;
  const a = poolAt;
  poolAt += ID_RANDOM_BYTES;
  const x = (p[a]! << 16) | (p[a + 1]! << 8) | p[a + 2]!;
  const y = (p[a + 3]! << 16) | (p[a + 4]! << 8) | p[a + 5]!;
  const z = (p[a + 6]! << 16) | (p[a + 7]! << 8) | p[a + 8]!;
  const w = (p[a + 9]! << 16) | (p[a + 10]! << 8) | p[a + 11]!;
  const c = CODES;
  return String.fromCharCode(
    kind.charCodeAt(0),
    c[x >>> 18]!, c[(x >>> 12) & 63]!, c[(x >>> 6) & 63]!, c[x & 63]!,
    c[y >>> 18]!, c[(y >>> 12) & 63]!, c[(y >>> 6) & 63]!, c[y & 63]!,
    c[z >>> 18]!, c[(z >>> 12) & 63]!, c[(z >>> 6) & 63]!, c[z & 63]!,
    c[w >>> 18]!, c[(w >>> 12) & 63]!, c[(w >>> 6) & 63]!, c[w & 63]!,
  );
}

/** Mints ids for one process (tab or worker): random task, put and actor ids; `<prefix>w<counter>` worker ids. */
export class IdGenerator {
  private counter = 0;
  readonly prefix: string;

  constructor(prefix: string = randomPrefix()) {
    this.prefix = prefix;
  }

  taskId(): TaskId {
    return randomId('t') as TaskId;
  }
  putId(): ObjectId {
    return randomId('p') as ObjectId;
  }
  actorId(): ActorId {
    return randomId('a') as ActorId;
  }
  workerId(): WorkerId {
    return (this.prefix + 'w' + (this.counter++).toString(36)) as WorkerId;
  }
}

/** The ObjectId that becomes ready when a streaming task ends (`ObjectRefGenerator.completed()`): null, or the task's error. */
export function generatorEndId(taskId: TaskId): ObjectId {
  return (taskId + '.end') as ObjectId;
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
