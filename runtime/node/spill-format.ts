// How a SerializedObject is laid out in the spill store (Ray writes plasma objects to spill files
// with their metadata; pickle 5 keeps large buffers out of band the same way). Large binary
// buffers inside the value are taken out "out of band" and written as raw bytes; the rest (the
// skeleton, with those places left empty) is encoded with msgpackr. So a 512 MiB Float64Array
// is sliced into chunks straight from its own memory, never copied into one encoded whole.

import type { ObjectId } from '../protocol/ids.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { decode, encode } from '../transport/codec.ts';
import { SPILL_OUT_OF_BAND_MIN_BYTES } from './constants.ts';

/** Where a buffer sits inside the value: keys from the root (array indexes and object keys). */
export type ValuePath = readonly (string | number)[];

/** Typed-array classes a buffer may be revived as (looked up by name: the record holds no classes). */
const VIEW_CLASSES = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
} as const;

export type BufferKind = keyof typeof VIEW_CLASSES | 'ArrayBuffer';

/** One out-of-band buffer: what it was and where it appears (once, or several times if shared). */
export interface BufferInfo {
  readonly kind: BufferKind;
  readonly byteLength: number;
  readonly paths: readonly ValuePath[];
}

/** An object taken apart for spilling: the encoded skeleton and the raw bytes of its buffers. */
export interface SplitObject {
  readonly head: Uint8Array;
  readonly buffers: readonly BufferInfo[];
  /** The bytes of each buffer, in `buffers` order (views of the object's own memory, not copies). */
  readonly bytes: readonly Uint8Array[];
}

/** What the spill store keeps about one object; written last, so its presence means every chunk is there. */
export interface SpillManifest {
  readonly id: ObjectId;
  /** The object's `size` (memory accounting). */
  readonly size: number;
  /** Bytes written for it (head and buffers). */
  readonly bytes: number;
  /** Size of its records: each part is cut into records of this size (the last one shorter). */
  readonly chunkBytes: number;
  /** Byte length of the encoded skeleton, stored in the first `headChunks` chunks. */
  readonly headBytes: number;
  readonly headChunks: number;
  /** Out-of-band buffers, each in the chunks that follow, in order. */
  readonly buffers: readonly (BufferInfo & { readonly chunks: number })[];
}

const MAX_DEPTH = 4;
const MAX_ENTRIES = 256;

function bufferKind(x: object): BufferKind | undefined {
  if (x instanceof ArrayBuffer) return 'ArrayBuffer';
  if (!ArrayBuffer.isView(x) || !(x.buffer instanceof ArrayBuffer)) return undefined;
  const name = (x.constructor as { name?: string }).name;
  return name !== undefined && name in VIEW_CLASSES && (VIEW_CLASSES as Record<string, unknown>)[name] === x.constructor
    ? (name as BufferKind)
    : undefined;
}

function isPlain(x: object): boolean {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Thrown when the value is cyclic: copying containers would break the cycle, so nothing goes out of band. */
const CYCLE = new Error('cycle');

interface SplitState {
  readonly found: Map<object, number>;
  readonly buffers: { kind: BufferKind; byteLength: number; paths: ValuePath[] }[];
  readonly bytes: Uint8Array[];
  readonly onPath: Set<object>;
  /** Containers already processed, to what they became (a container shared twice stays shared). */
  readonly done: Map<object, unknown>;
}

/**
 * The value with its large buffers replaced by null (a copy of the containers on the way to
 * them; everything else shared), recording each buffer. Looks at arrays and plain objects up to a
 * small depth: buffers deeper down, or inside Map/Set, stay in the skeleton (still correct, only
 * encoded by msgpackr with a copy). A cyclic value is left whole to msgpackr.
 */
function extract(x: unknown, path: (string | number)[], st: SplitState, depth: number): unknown {
  if (typeof x !== 'object' || x === null) return x;
  const kind = bufferKind(x);
  if (kind !== undefined) {
    const view = x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array((x as ArrayBufferView).buffer, (x as ArrayBufferView).byteOffset, (x as ArrayBufferView).byteLength);
    if (view.byteLength < SPILL_OUT_OF_BAND_MIN_BYTES) return x;
    let i = st.found.get(x);
    if (i === undefined) {
      i = st.buffers.length;
      st.found.set(x, i);
      st.buffers.push({ kind, byteLength: view.byteLength, paths: [] });
      st.bytes.push(view);
    }
    st.buffers[i]!.paths.push([...path]);
    return null;
  }
  if (st.onPath.has(x)) throw CYCLE;
  if (st.done.has(x)) return st.done.get(x);
  const arr = Array.isArray(x);
  const keys = arr || !isPlain(x) ? undefined : Object.keys(x);
  if (depth >= MAX_DEPTH || (!arr && !keys) || (arr ? (x as unknown[]).length : keys!.length) > MAX_ENTRIES) {
    st.done.set(x, x);
    return x;
  }
  st.onPath.add(x);
  let copy: unknown[] | Record<string, unknown> | undefined;
  if (arr) {
    const a = x as unknown[];
    let c: unknown[] | undefined;
    for (let i = 0; i < a.length; i++) {
      path.push(i);
      const y = extract(a[i], path, st, depth + 1);
      path.pop();
      if (y !== a[i]) (c ??= a.slice())[i] = y;
    }
    copy = c;
  } else {
    const o = x as Record<string, unknown>;
    let c: Record<string, unknown> | undefined;
    for (const k of keys!) {
      path.push(k);
      const y = extract(o[k], path, st, depth + 1);
      path.pop();
      if (y !== o[k]) (c ??= { ...o })[k] = y;
    }
    copy = c;
  }
  st.onPath.delete(x);
  st.done.set(x, copy ?? x);
  return copy ?? x;
}

/** Takes an object apart for spilling. The bytes returned are views of the object's own buffers. */
export function splitObject(obj: SerializedObject): SplitObject {
  let st: SplitState = { found: new Map(), buffers: [], bytes: [], onPath: new Set(), done: new Map() };
  let v: unknown;
  try {
    v = extract(obj.v, [], st, 0);
  } catch (e) {
    if (e !== CYCLE) throw e;
    st = { found: new Map(), buffers: [], bytes: [], onPath: new Set(), done: new Map() };
    v = obj.v;
  }
  const head = encode({
    v,
    ...(obj.m ? { m: obj.m } : {}),
    ...(obj.refs ? { refs: obj.refs } : {}),
    size: obj.size,
    ...(obj.err ? { err: obj.err } : {}),
  });
  return { head, buffers: st.buffers, bytes: st.bytes };
}

function revive(kind: BufferKind, data: ArrayBuffer): unknown {
  if (kind === 'ArrayBuffer') return data;
  const C = VIEW_CLASSES[kind] as unknown as new (b: ArrayBuffer) => unknown;
  return new C(data);
}

/** Puts an object back together from its encoded skeleton and its buffers' bytes (in `buffers` order). */
export function joinObject(head: Uint8Array, buffers: readonly BufferInfo[], data: readonly ArrayBuffer[]): SerializedObject {
  const decoded = decode(head) as { v: unknown; m?: 1; refs?: ObjectId[]; size: number; err?: SerializedObject['err'] };
  let v = decoded.v;
  for (let i = 0; i < buffers.length; i++) {
    const b = buffers[i]!;
    const value = revive(b.kind, data[i]!);
    for (const path of b.paths) {
      if (path.length === 0) {
        v = value;
        continue;
      }
      let parent = v as Record<string | number, unknown>;
      for (let j = 0; j < path.length - 1; j++) parent = parent[path[j]!] as Record<string | number, unknown>;
      parent[path[path.length - 1]!] = value;
    }
  }
  return {
    v,
    ...(decoded.m ? { m: decoded.m } : {}),
    ...(decoded.refs ? { refs: decoded.refs } : {}),
    size: decoded.size,
    ...(decoded.err ? { err: decoded.err } : {}),
  };
}

/** How many chunks of `chunkBytes` hold `n` bytes (an empty buffer still takes one). */
export function chunkCount(n: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(n / chunkBytes));
}
