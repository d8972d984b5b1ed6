// A pass over a message's msgpack bytes BEFORE they are decoded, so a small message cannot make
// the decoder allocate without bound (issue 9, attack 3: 8 MiB of empty maps decode into ~8M
// objects, seconds and GiBs). It walks the bytes the way codec.ts's msgpackr reads them — records
// (0xd4 0x72 definitions, 0x40–0x7f references), the structured-clone extensions — without
// building anything, on an explicit stack (no recursion), and refuses, naming why:
// - a container whose declared count cannot fit in the bytes left (an array header claiming 2^32
//   items in a small message);
// - more containers than `maxContainers`, or more than one per two bytes plus CONTAINER_ALLOWANCE
//   (a container costs the decoder an object, ~100 bytes; an honest one takes ≥ 2 bytes on the
//   wire unless it is empty and nested, e.g. an array of empty arrays);
// - more values than `maxItems`; nesting deeper than `maxDepth`;
// - what codec.ts never emits (two-byte records, bundled strings, unknown extensions, 0xc1) and
//   bytes after the value (msgpackr would JSON-print the value to complain, itself a bomb).

/** The limits one message's bytes are checked against (transport/constants.ts holds the values). */
export interface DecodeBudget {
  /** Most values of any kind (scalars included). */
  readonly maxItems: number;
  /** Most containers: arrays, maps, records, and extension values holding another value. */
  readonly maxContainers: number;
  /** Deepest nesting of containers. */
  readonly maxDepth: number;
}

/** Containers any message may hold whatever its size, beyond the one-per-two-bytes share. */
export const CONTAINER_ALLOWANCE = 4096;

/** Extension types (codec.ts: structured clone + moreTypes) whose value is followed by one more value. */
const WRAPPING_EXTENSIONS = new Set([0x65 /* Error */, 0x69 /* id of a shared value */, 0x73 /* Set */, 0x78 /* RegExp */]);
/** Extension types whose value is their payload alone. */
const LEAF_EXTENSIONS = new Set([0x00 /* undefined */, 0x42 /* BigInt */, 0x70 /* pointer to a shared value */, 0x74 /* typed array */, 0xff /* Date */]);
const RECORD_EXTENSION = 0x72;
const RECORDS = new Int32Array(64);
let stackScratch = new Int32Array(0);

/** Big-endian unsigned integers, read without a DataView (none is allocated per message). */
function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function u32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

/** Why `bytes` must not be decoded, or undefined when it is within `budget`. Never throws. */
export function checkDecodeBudget(bytes: Uint8Array, budget: DecodeBudget): string | undefined {
  const end = bytes.length;
  const containerCap = Math.min(budget.maxContainers, CONTAINER_ALLOWANCE + Math.floor(end / 2));
  const maxItems = budget.maxItems;
  // Scratch reused across calls (the scan is synchronous): keys per record id (-1: not defined in
  // this message, so 0x40–0x7f is a plain integer) and the values still to read in each open
  // container, outermost first (`depth` of them).
  const records = RECORDS.fill(-1);
  if (stackScratch.length < budget.maxDepth + 1) stackScratch = new Int32Array(budget.maxDepth + 1);
  const stack = stackScratch;
  /** Key counts of the record key lists the encoder gave an id (it points back to them to reuse one). */
  let keyLists: Map<number, number> | undefined;
  let depth = 0;
  let remaining = 1;
  let pos = 0;
  let items = 0;
  let containers = 0;

  while (remaining > 0 || depth > 0) {
    if (remaining === 0) {
      remaining = stack[--depth]!;
      continue;
    }
    remaining--;
    if (pos >= end) return `it ends inside a value (${end} bytes)`;
    if (++items > maxItems) return `it holds more than ${maxItems} values`;
    const t = bytes[pos++]!;
    if (t < 0x40 || t >= 0xe0) continue; // fixints: the commonest value, nothing to skip or open
    if (t >= 0xa0 && t < 0xc0) {
      // fixstr
      pos += t - 0xa0;
      if (pos > end) return `a string claims ${t - 0xa0} bytes but only ${end - pos + t - 0xa0} remain`;
      continue;
    }
    let children = 0;
    let skip = 0;
    if (t === 0xc0 || t === 0xc2 || t === 0xc3) {
      // fixints, nil, booleans
    } else if (t < 0x80) {
      const keys = records[t & 0x3f]!;
      if (keys >= 0) {
        children = keys;
        containers++;
      }
    } else if (t < 0x90) {
      children = 2 * (t - 0x80);
      containers++;
    } else if (t < 0xa0) {
      children = t - 0x90;
      containers++;
    } else if (t < 0xc0) {
      skip = t - 0xa0;
    } else {
      const need = HEADER_BYTES[t - 0xc0] ?? 0;
      if (pos + need > end) return `it ends inside a header (${end} bytes)`;
      switch (t) {
        case 0xc4: skip = bytes[pos]!; pos += 1; break;
        case 0xc5: case 0xda: skip = u16(bytes, pos); pos += 2; break;
        case 0xc6: case 0xdb: skip = u32(bytes, pos); pos += 4; break;
        case 0xd9: skip = bytes[pos]!; pos += 1; break;
        case 0xca: case 0xce: case 0xd2: skip = 4; break;
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xdc: children = u16(bytes, pos); pos += 2; containers++; break;
        case 0xdd: children = u32(bytes, pos); pos += 4; containers++; break;
        case 0xde: children = 2 * u16(bytes, pos); pos += 2; containers++; break;
        case 0xdf: children = 2 * u32(bytes, pos); pos += 4; containers++; break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: case 0xc7: case 0xc8: case 0xc9: {
          let length: number;
          if (t >= 0xd4) length = 1 << (t - 0xd4);
          else if (t === 0xc7) { length = bytes[pos]!; pos += 1; }
          else if (t === 0xc8) { length = u16(bytes, pos); pos += 2; }
          else { length = u32(bytes, pos); pos += 4; }
          if (pos >= end) return `it ends inside a header (${end} bytes)`;
          const type = bytes[pos++]!;
          if (type === RECORD_EXTENSION) {
            if (t !== 0xd4) return 'it holds a record definition of a form the codec never writes';
            const id = bytes[pos++]! & 0x3f;
            const keys = readRecordKeys(bytes, pos, (keyLists ??= new Map()));
            if (typeof keys === 'string') return keys;
            pos = keys.pos | 0;
            items += keys.count;
            records[id] = keys.count;
            children = keys.count;
            containers++;
            break;
          }
          if (WRAPPING_EXTENSIONS.has(type)) {
            children = 1;
            containers++;
          } else if (!LEAF_EXTENSIONS.has(type)) {
            return `it holds extension type ${type}, which the codec never writes`;
          }
          skip = length;
          break;
        }
        default:
          return `it holds byte 0x${t.toString(16)}, which the codec never writes`;
      }
    }
    if (skip > end - pos) return `a value claims ${skip} bytes but only ${end - pos} remain`;
    pos = (pos + skip) | 0; // stays an int32 (below the message length): keeps the loop on fast integer paths
    if (children > 0) {
      if (children > end - pos) return `a container claims ${children} values but only ${end - pos} bytes remain`;
      if (depth >= budget.maxDepth) return `it nests deeper than ${budget.maxDepth}`;
      stack[depth++] = remaining;
      remaining = children | 0;
    }
    if (containers > containerCap) {
      return `it holds more than ${containerCap} containers (the budget for ${end} bytes: at most ${budget.maxContainers}, one per two bytes plus ${CONTAINER_ALLOWANCE})`;
    }
  }
  if (pos !== end) return `it has ${end - pos} bytes after its value`;
  return undefined;
}

/** Bytes of header after each token 0xc0–0xdf (lengths, counts, fixed-size payloads are skipped separately). */
const HEADER_BYTES: readonly number[] = [
  0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, // c0–cf (c7–c9: length; type checked below)
  0, 0, 0, 0, 2, 3, 5, 9, 17, 1, 2, 4, 2, 4, 2, 4, // d0–df (fixext: type + payload)
];

/**
 * A record definition's key list: an array of strings (JS object keys), as msgpackr writes it —
 * in structured-clone mode prefixed with an id (0xd6 0x69 u32) when the encoder will reuse it, or
 * a pointer (0xd6 0x70 u32) to a list defined so earlier in the message.
 */
function readRecordKeys(bytes: Uint8Array, start: number, keyLists: Map<number, number>): { count: number; pos: number } | string {
  const end = bytes.length;
  let pos = start;
  let id: number | undefined;
  if (pos + 6 <= end && bytes[pos] === 0xd6 && (bytes[pos + 1] === 0x69 || bytes[pos + 1] === 0x70)) {
    const ref = u32(bytes, pos + 2);
    pos += 6;
    if (bytes[pos - 5] === 0x70) {
      const count = keyLists.get(ref);
      if (count === undefined) return 'it holds a record definition pointing to something that is not a key list';
      return { count, pos };
    }
    id = ref;
  }
  if (pos >= end) return 'it ends inside a record definition';
  const t = bytes[pos++]!;
  let count: number;
  if (t >= 0x90 && t < 0xa0) count = t - 0x90;
  else if (t === 0xdc && pos + 2 <= end) { count = u16(bytes, pos); pos += 2; }
  else if (t === 0xdd && pos + 4 <= end) { count = u32(bytes, pos); pos += 4; }
  else return 'it holds a record definition whose keys are not a list';
  if (count > end - pos) return `a record definition claims ${count} keys but only ${end - pos} bytes remain`;
  for (let i = 0; i < count; i++) {
    if (pos >= end) return 'it ends inside a record definition';
    const k = bytes[pos++]!;
    let length: number;
    if (k >= 0xa0 && k < 0xc0) length = k - 0xa0;
    else if (k === 0xd9 && pos + 1 <= end) { length = bytes[pos]!; pos += 1; }
    else if (k === 0xda && pos + 2 <= end) { length = u16(bytes, pos); pos += 2; }
    else if (k === 0xdb && pos + 4 <= end) { length = u32(bytes, pos); pos += 4; }
    else return 'it holds a record definition with a key that is not a string';
    if (length > end - pos) return `a record key claims ${length} bytes but only ${end - pos} remain`;
    pos = (pos + length) | 0;
  }
  if (id !== undefined) keyLists.set(id, count);
  return { count, pos };
}
