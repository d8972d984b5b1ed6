// ObjectRef: a reference to an object in the cluster (Ray's ObjectRef). Not thenable on purpose:
// `await ref` must not silently fetch, and returning a ref from an async function must keep it a ref.

import type { ObjectId } from '../protocol/ids.ts';
import { currentCore } from './core.ts';
import { HANDLE_MARKER, registerReviver, type Marker } from './serialization.ts';

/** Marks refs the coordinator already counts for this process (see LocalRefs.track). */
const REGISTERED: unique symbol = Symbol('registered');

export class ObjectRef<T = unknown> {
  /** Phantom field: keeps `T` for typing `ray.get`. */
  declare readonly __type?: T;
  readonly id: ObjectId;

  constructor(id: ObjectId, registered?: typeof REGISTERED) {
    this.id = id;
    // While this instance is reachable, the object lives (distributed reference counting).
    currentCore()?.refs?.track(this, id, registered === REGISTERED);
  }

  hex(): string {
    return this.id;
  }

  toString(): string {
    return `ObjectRef(${this.id})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [HANDLE_MARKER](): Marker {
    return { __webray__: 'ref', id: this.id };
  }
}

registerReviver('ref', (m) => new ObjectRef(m.id as ObjectId));

/** A ref to an object the coordinator already counts for this process: a task's return, a put, a generator item. */
export function registeredRef<T>(id: ObjectId): ObjectRef<T> {
  return new ObjectRef<T>(id, REGISTERED);
}
