// ObjectRef: a reference to an object in the cluster (Ray's ObjectRef). Not thenable on purpose:
// `await ref` must not silently fetch, and returning a ref from an async function must keep it a ref.

import type { ObjectId } from '../protocol/ids.ts';
import { HANDLE_MARKER, registerReviver, type Marker } from './serialization.ts';

export class ObjectRef<T = unknown> {
  /** Phantom field: keeps `T` for typing `ray.get`. */
  declare readonly __type?: T;
  readonly id: ObjectId;

  constructor(id: ObjectId) {
    this.id = id;
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
