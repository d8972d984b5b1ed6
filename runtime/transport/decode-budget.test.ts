import { describe, expect, it } from 'vitest';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import { decode, encode } from './codec.ts';
import { MAX_CONTROL_DECODE_CONTAINERS, MAX_DECODE_DEPTH } from './constants.ts';
import { CONTROL_DECODE_BUDGET as BUDGET } from './control-batch.ts';
import { CONTAINER_ALLOWANCE, checkDecodeBudget } from './decode-budget.ts';

const MIB = 1024 * 1024;

function shared(): unknown {
  const leaf = { x: 1 };
  const cyclic: { self?: unknown; n: number } = { n: 2 };
  cyclic.self = cyclic;
  return { a: leaf, b: leaf, cyclic };
}

/** What the codec writes for the values tabs send one another: each must pass the scan. */
const HONEST: Record<string, unknown> = {
  'a control batch': [{ type: 'to_node', msg: { type: 'run_task', spec: makeTaskSpec(), attempt: 0, args: [] } }, { type: 'ping', n: 1 }],
  scalars: [0, 1, 63, 64, 127, 128, 255, 65536, 2 ** 32, 2 ** 53, -1, -33, -129, -40000, -(2 ** 40), 1.5, -0.25, NaN, Infinity, true, false, null, undefined],
  strings: ['', 'a', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(300), 'w'.repeat(70000), 'ünïcödé 🎉'],
  'binary and typed arrays': [new Uint8Array([1, 2, 3]), new Float64Array(1000), new Int32Array(70000), new ArrayBuffer(16), new DataView(new ArrayBuffer(8))],
  'structured-clone types': [new Map<unknown, unknown>([[1, 'a'], ['k', { v: 2 }]]), new Set([1, 'two', { three: 3 }]), new Date(0), new Date(8.64e15), /a+b/gi, new Error('boom', { cause: new TypeError('inner') }), 2n ** 100n, -5n],
  'shared and cyclic values': shared(),
  // More than 64 object shapes: record ids are reused within the message.
  'many object shapes': Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, [`j${i % 7}`]: [i], nested: { [`n${i % 70}`]: i } })),
  'a list of small objects': Array.from({ length: 100_000 }, (_, i) => ({ x: i % 100 })),
  'objects with many keys': Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`key${i}`, i])),
  'nested 400 deep': Array.from({ length: 400 }).reduce<unknown>((inner) => [inner], 0),
  'empty containers': [[], {}, new Map(), new Set(), [[]], [{}]],
};

describe('checkDecodeBudget', () => {
  for (const [name, value] of Object.entries(HONEST)) {
    it(`passes what the codec writes: ${name}`, () => {
      const bytes = encode(value);
      expect(checkDecodeBudget(bytes, BUDGET)).toBeUndefined();
      decode(bytes); // and the codec reads it
    });
  }

  it('passes every prefix-complete value of a long honest batch and refuses each truncation', () => {
    const bytes = encode([{ type: 'to_node', msg: { type: 'run_task', spec: makeTaskSpec(), attempt: 0, args: [] } }]);
    for (let n = 1; n < bytes.length; n++) expect(checkDecodeBudget(bytes.subarray(0, n), BUDGET), `cut at ${n}`).toMatch(/ends inside|remain/);
  });

  it('refuses 8 MiB of empty maps in an array quickly, without decoding them', () => {
    const bytes = new Uint8Array(8 * MIB);
    bytes[0] = 0xdd;
    new DataView(bytes.buffer).setUint32(1, bytes.length - 5);
    bytes.fill(0x80, 5);
    const heap0 = process.memoryUsage().heapUsed;
    let t0 = performance.now();
    checkDecodeBudget(bytes, BUDGET); // the first pass also compiles the scanner
    const coldMs = performance.now() - t0;
    t0 = performance.now();
    const reason = checkDecodeBudget(bytes, BUDGET);
    const warmMs = performance.now() - t0;
    const heapMiB = (process.memoryUsage().heapUsed - heap0) / MIB;
    console.log(`8 MiB of empty maps refused in ${coldMs.toFixed(2)} ms (again: ${warmMs.toFixed(2)} ms), heap +${heapMiB.toFixed(2)} MiB: ${reason}`);
    expect(heapMiB).toBeLessThan(16);
    // Refused at the first container past the cap: the rest of the 8 MiB is never looked at.
    expect(reason).toMatch(new RegExp(`more than ${MAX_CONTROL_DECODE_CONTAINERS} containers`));
    expect(Math.min(coldMs, warmMs)).toBeLessThan(100); // the better pass: the machine is shared
  });

  it('refuses 8 MiB of nested empty maps (a map whose value is a map …) by depth', () => {
    const bytes = new Uint8Array(8 * MIB);
    for (let i = 0; i + 1 < bytes.length; i += 2) {
      bytes[i] = 0x81; // a map of one entry
      bytes[i + 1] = 0xa0; // key '' (its value: the next map)
    }
    const t0 = performance.now();
    const reason = checkDecodeBudget(bytes, BUDGET);
    const ms = performance.now() - t0;
    console.log(`8 MiB of nested maps refused in ${ms.toFixed(2)} ms: ${reason}`);
    expect(reason).toBe(`it nests deeper than ${MAX_DECODE_DEPTH}`);
    expect(ms).toBeLessThan(100);
  });

  it('refuses a map of 4M entries whose keys and values are empty maps', () => {
    const bytes = new Uint8Array(8 * MIB);
    bytes[0] = 0xdf;
    new DataView(bytes.buffer).setUint32(1, (bytes.length - 5) / 2 - 1);
    bytes.fill(0x80, 5);
    expect(checkDecodeBudget(bytes.subarray(0, bytes.length - 3), BUDGET)).toMatch(/containers/);
  });

  it('refuses an array header claiming 2^32 − 1 items in a small message, and a map claiming 2^32 − 1 entries', () => {
    for (const head of [0xdd, 0xdf]) {
      const bytes = new Uint8Array(64);
      bytes[0] = head;
      new DataView(bytes.buffer).setUint32(1, 0xffffffff);
      const t0 = performance.now();
      const reason = checkDecodeBudget(bytes, BUDGET);
      const ms = performance.now() - t0;
      console.log(`0x${head.toString(16)} claiming 2^32 − 1 refused in ${ms.toFixed(3)} ms: ${reason}`);
      expect(reason).toMatch(/claims \d+ values but only 59 bytes remain/);
      expect(ms).toBeLessThan(100);
    }
  });

  it('refuses more containers than the fixed cap even when each takes two bytes', () => {
    const n = MAX_CONTROL_DECODE_CONTAINERS + 10;
    const bytes = new Uint8Array(5 + 2 * n);
    bytes[0] = 0xdd;
    new DataView(bytes.buffer).setUint32(1, n);
    for (let i = 5; i < bytes.length; i += 2) bytes[i] = 0x91; // [0]
    expect(checkDecodeBudget(bytes, BUDGET)).toBe(
      `it holds more than ${MAX_CONTROL_DECODE_CONTAINERS} containers (the budget for ${bytes.length} bytes: at most ${MAX_CONTROL_DECODE_CONTAINERS}, one per two bytes plus ${CONTAINER_ALLOWANCE})`,
    );
  });

  it('refuses more values than maxItems', () => {
    const bytes = encode(Array.from({ length: 1000 }, () => 0));
    expect(checkDecodeBudget(bytes, { ...BUDGET, maxItems: 1000 })).toBe('it holds more than 1000 values');
    expect(checkDecodeBudget(bytes, { ...BUDGET, maxItems: 1001 })).toBeUndefined();
  });

  it('counts a record reference as a container and its keys as values, each use', () => {
    const keys = Array.from({ length: 15 }, (_, i) => String.fromCharCode(97 + i));
    // Distinct objects (one object sent twice is sent once, then pointed to).
    const bytes = encode(Array.from({ length: 1000 }, () => Object.fromEntries(keys.map((k) => [k, 1]))));
    expect(checkDecodeBudget(bytes, BUDGET)).toBeUndefined();
    expect(checkDecodeBudget(bytes, { ...BUDGET, maxContainers: 1000 })).toMatch(/more than 1000 containers/);
    expect(checkDecodeBudget(bytes, { ...BUDGET, maxItems: 15_000 })).toMatch(/more than 15000 values/);
  });

  it('refuses an honest but degenerate value of empty containers (one per byte) past the allowance', () => {
    const small = encode(Array.from({ length: CONTAINER_ALLOWANCE }, () => []));
    expect(checkDecodeBudget(small, BUDGET)).toBeUndefined();
    const large = encode(Array.from({ length: 4 * CONTAINER_ALLOWANCE }, () => []));
    expect(checkDecodeBudget(large, BUDGET)).toMatch(/containers/);
  });

  it('refuses bytes after the value, unknown tokens and extensions the codec never writes', () => {
    expect(checkDecodeBudget(Uint8Array.of(0x91, 0x01, 0x02), BUDGET)).toBe('it has 1 bytes after its value');
    expect(checkDecodeBudget(Uint8Array.of(0xc1), BUDGET)).toBe('it holds byte 0xc1, which the codec never writes');
    expect(checkDecodeBudget(Uint8Array.of(0xd4, 0x07, 0x00), BUDGET)).toBe('it holds extension type 7, which the codec never writes');
    expect(checkDecodeBudget(Uint8Array.of(0xd5, 0x72, 0x00, 0x01), BUDGET)).toMatch(/record definition of a form/);
    expect(checkDecodeBudget(Uint8Array.of(0xd4, 0x72, 0x40, 0x91, 0x80, 0x01), BUDGET)).toMatch(/key that is not a string/);
    expect(checkDecodeBudget(new Uint8Array(0), BUDGET)).toMatch(/ends inside a value/);
  });

  it('never throws on mutated honest messages, and what it passes decodes without blowing up', () => {
    const honest = encode([HONEST['a control batch'], HONEST['structured-clone types'], HONEST['shared and cyclic values'], HONEST['many object shapes']]);
    let seed = 9;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    let passed = 0;
    for (let round = 0; round < 3000; round++) {
      const bytes = new Uint8Array(honest); // a copy (Buffer.slice would share)
      for (let k = 1 + rand(4); k > 0; k--) bytes[rand(bytes.length)] = rand(256);
      let reason: string | undefined;
      expect(() => (reason = checkDecodeBudget(bytes, BUDGET))).not.toThrow();
      if (reason !== undefined) continue;
      passed++;
      try {
        decode(bytes);
      } catch {
        // a mutated message may still be undecodable: a strike, as before
      }
    }
    expect(passed).toBeGreaterThan(0);
  });

  it('costs little on honest messages (printed)', () => {
    const batch = encode(Array.from({ length: 200 }, () => ({ type: 'to_node', msg: { type: 'run_task', spec: makeTaskSpec(), attempt: 0, args: [] } })));
    const rounds = 200;
    let t0 = performance.now();
    for (let i = 0; i < rounds; i++) checkDecodeBudget(batch, BUDGET);
    const scanUs = ((performance.now() - t0) / rounds) * 1000;
    t0 = performance.now();
    for (let i = 0; i < rounds; i++) decode(batch);
    const decodeUs = ((performance.now() - t0) / rounds) * 1000;
    console.log(`a batch of 200 run_task (${batch.length} bytes): scan ${scanUs.toFixed(1)} µs, decode ${decodeUs.toFixed(1)} µs`);
    expect(scanUs).toBeGreaterThan(0);
  });
});
