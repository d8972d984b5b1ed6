// The SHA-256 a node reports for each result of a verified task (`replicas > 1`), so that replicas
// on different nodes can be compared without moving the results (docs/api.md, Verified results).
//
// What is hashed: a canonical encoding of the SerializedObject — one byte for its `m` flag, then
// its value `v` as below — defined here, not by the wire codec, so that it depends on the value
// alone (not on an encoder's state or version) and any holder of a copy can recompute it. Two
// honest nodes running deterministic code produce the same value, hence the same bytes and hash.
//
//   value      = tag (1 byte) payload; numbers little-endian
//   undefined 0x00 · null 0x01 · false 0x02 · true 0x03
//   number    0x04 float64 (every NaN as the one quiet NaN 0x7ff8000000000000; -0 stays -0)
//   bigint    0x05 string of its decimal digits
//   string    0x06 u32 UTF-8 byte length, UTF-8 bytes
//   array     0x07 u32 length, each element (a hole: 0x0f)
//   object    0x08 u32 key count, each own enumerable string key (string) and value, in key order
//   Map       0x09 u32 size, each key and value in insertion order
//   Set       0x0a u32 size, each value in insertion order
//   Date      0x0b float64 time value
//   RegExp    0x0c source (string), flags (string)
//   ArrayBuffer 0x0d float64 byte length, the bytes
//   view      0x0e constructor name (string: Float64Array, DataView, …), float64 byte length, bytes
//   Error     0x10 name (string), message (string), cause (value, 0x00 when none) — never the stack,
//             which names the node's own URLs
//   seen      0x11 u32 index: an object met before on this walk (shared or cyclic), numbered in
//             the order first met
//   boxed     0x12 the primitive inside a Boolean, Number or String object
//
// Object keys keep their insertion order (as structured clone does): deterministic code builds
// them in the same order. ObjectRefs nested in a result carry ids minted where the task ran, so a
// task returning refs to objects it created cannot be verified by comparison (docs/api.md).

const T = {
  undefined: 0x00,
  null: 0x01,
  false: 0x02,
  true: 0x03,
  number: 0x04,
  bigint: 0x05,
  string: 0x06,
  array: 0x07,
  object: 0x08,
  map: 0x09,
  set: 0x0a,
  date: 0x0b,
  regexp: 0x0c,
  arrayBuffer: 0x0d,
  view: 0x0e,
  hole: 0x0f,
  error: 0x10,
  seen: 0x11,
  boxed: 0x12,
} as const;

/** Collects the encoding in chunks: small writes in a scratch buffer, large buffers as views of their own memory. */
class Sink {
  readonly chunks: Uint8Array[] = [];
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  private at = 0;
  private readonly text = new TextEncoder();

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.view = new DataView(this.buf.buffer);
    }
  }
  flush(): void {
    if (this.at === 0) return;
    this.chunks.push(this.buf.slice(0, this.at));
    this.at = 0;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }
  u32(n: number): void {
    this.room(4);
    this.view.setUint32(this.at, n, true);
    this.at += 4;
  }
  f64(x: number): void {
    this.room(8);
    if (Number.isNaN(x)) {
      this.view.setUint32(this.at, 0, true);
      this.view.setUint32(this.at + 4, 0x7ff80000, true);
    } else {
      this.view.setFloat64(this.at, x, true);
    }
    this.at += 8;
  }
  string(s: string): void {
    if (s.length <= 1024) {
      // Encoded in place after a length slot filled in afterwards: no string-sized allocation.
      this.room(4 + 3 * s.length);
      const { written } = this.text.encodeInto(s, this.buf.subarray(this.at + 4));
      this.view.setUint32(this.at, written, true);
      this.at += 4 + written;
      return;
    }
    const bytes = this.text.encode(s);
    this.u32(bytes.length);
    this.bytes(bytes);
  }
  bytes(b: Uint8Array): void {
    if (b.length >= 4096) {
      this.flush();
      this.chunks.push(b);
      return;
    }
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }
}

function encodeValue(x: unknown, out: Sink, seen: Map<object, number>): void {
  switch (typeof x) {
    case 'undefined':
      return out.byte(T.undefined);
    case 'boolean':
      return out.byte(x ? T.true : T.false);
    case 'number':
      out.byte(T.number);
      return out.f64(x);
    case 'bigint':
      out.byte(T.bigint);
      return out.string(x.toString());
    case 'string':
      out.byte(T.string);
      return out.string(x);
    case 'symbol':
    case 'function':
      throw new TypeError(`a ${typeof x} cannot be part of a result (it could not have been serialized)`);
    case 'object':
      break;
  }
  if (x === null) return out.byte(T.null);
  const obj = x;
  const index = seen.get(obj);
  if (index !== undefined) {
    out.byte(T.seen);
    return out.u32(index);
  }
  seen.set(obj, seen.size);
  if (obj instanceof ArrayBuffer) {
    out.byte(T.arrayBuffer);
    out.f64(obj.byteLength);
    return out.bytes(new Uint8Array(obj));
  }
  if (ArrayBuffer.isView(obj)) {
    out.byte(T.view);
    out.string(obj.constructor.name);
    out.f64(obj.byteLength);
    return out.bytes(new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength));
  }
  if (Array.isArray(obj)) {
    out.byte(T.array);
    out.u32(obj.length);
    for (let i = 0; i < obj.length; i++) {
      if (i in obj) encodeValue(obj[i], out, seen);
      else out.byte(T.hole);
    }
    return;
  }
  if (obj instanceof Map) {
    out.byte(T.map);
    out.u32(obj.size);
    for (const [k, v] of obj) {
      encodeValue(k, out, seen);
      encodeValue(v, out, seen);
    }
    return;
  }
  if (obj instanceof Set) {
    out.byte(T.set);
    out.u32(obj.size);
    for (const v of obj) encodeValue(v, out, seen);
    return;
  }
  if (obj instanceof Date) {
    out.byte(T.date);
    return out.f64(obj.getTime());
  }
  if (obj instanceof RegExp) {
    out.byte(T.regexp);
    out.string(obj.source);
    return out.string(obj.flags);
  }
  if (obj instanceof Error) {
    out.byte(T.error);
    out.string(String(obj.name));
    out.string(String(obj.message));
    return encodeValue(obj.cause, out, seen);
  }
  if (obj instanceof Boolean || obj instanceof Number || obj instanceof String) {
    out.byte(T.boxed);
    return encodeValue(obj.valueOf(), out, seen);
  }
  const keys = Object.keys(obj);
  out.byte(T.object);
  out.u32(keys.length);
  for (const k of keys) {
    out.string(k);
    encodeValue((obj as Record<string, unknown>)[k], out, seen);
  }
}

/** The canonical bytes of a result (see the top of this file), as chunks in order. */
export function resultBytes(obj: { readonly v: unknown; readonly m?: 1 }): Uint8Array[] {
  const out = new Sink();
  out.byte(obj.m === 1 ? 1 : 0);
  encodeValue(obj.v, out, new Map());
  out.flush();
  return out.chunks;
}

/** Length of a SHA-256 in hex. */
export const SHA256_HEX_CHARS = 64;

/** The hex SHA-256 of a result's canonical bytes (crypto.subtle: pages, workers and Node ≥ 20). */
export async function resultSha256(obj: { readonly v: unknown; readonly m?: 1 }): Promise<string> {
  const chunks = resultBytes(obj);
  let data: Uint8Array;
  if (chunks.length === 1) data = chunks[0]!;
  else {
    let n = 0;
    for (const c of chunks) n += c.length;
    data = new Uint8Array(n);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
