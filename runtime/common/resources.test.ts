import { describe, expect, it } from 'vitest';
import { add, fits, format, missing, shapeKey, subtract, sum } from './resources.ts';

describe('fits', () => {
  it('fits when every needed amount is available', () => {
    expect(fits({ CPU: 2, GPU: 1 }, { CPU: 2, GPU: 1, disk: 5 })).toBe(true);
  });

  it('does not fit when one resource is short or absent', () => {
    expect(fits({ CPU: 3 }, { CPU: 2 })).toBe(false);
    expect(fits({ GPU: 1 }, { CPU: 8 })).toBe(false);
    expect(fits({ TPU: 0.5 }, { CPU: 8 })).toBe(false);
  });

  it('treats an empty request and zero amounts as always fitting', () => {
    expect(fits({}, {})).toBe(true);
    expect(fits({ GPU: 0 }, { CPU: 1 })).toBe(true);
  });

  it('tolerates floating-point rounding of fractional resources', () => {
    // 0.1 + 0.2 is 0.30000000000000004: a node with 0.3 left must still take it.
    expect(fits({ CPU: 0.1 + 0.2 }, { CPU: 0.3 })).toBe(true);
    expect(fits({ CPU: 0.31 }, { CPU: 0.3 })).toBe(false);
  });
});

describe('subtract and add', () => {
  it('subtracts in place, creating missing keys as negative', () => {
    const have: Record<string, number> = { CPU: 4 };
    subtract(have, { CPU: 1.5, GPU: 1 });
    expect(have).toEqual({ CPU: 2.5, GPU: -1 });
  });

  it('adds back in place, capped at the total', () => {
    const have: Record<string, number> = { CPU: 3, GPU: 0 };
    add(have, { CPU: 2, GPU: 1 }, { CPU: 4, GPU: 1 });
    expect(have).toEqual({ CPU: 4, GPU: 1 });
  });

  it('adds without a cap for resources the total does not name', () => {
    const have: Record<string, number> = {};
    add(have, { custom: 2 }, {});
    expect(have).toEqual({ custom: 2 });
  });

  it('round-trips: subtract then add restores the original', () => {
    const total = { CPU: 4, GPU: 1, mem: 10 };
    const have: Record<string, number> = { ...total };
    subtract(have, { CPU: 2, mem: 3 });
    add(have, { CPU: 2, mem: 3 }, total);
    expect(have).toEqual(total);
  });
});

describe('sum', () => {
  it('adds resource sets key by key', () => {
    expect(sum([{ CPU: 2 }, { CPU: 1, GPU: 1 }, {}])).toEqual({ CPU: 3, GPU: 1 });
  });
});

describe('shapeKey', () => {
  it('is the same for the same shape whatever the key order', () => {
    expect(shapeKey({ GPU: 1, CPU: 2 })).toBe(shapeKey({ CPU: 2, GPU: 1 }));
  });

  it('differs when an amount or a resource differs', () => {
    expect(shapeKey({ CPU: 1 })).not.toBe(shapeKey({ CPU: 2 }));
    expect(shapeKey({ CPU: 1 })).not.toBe(shapeKey({ CPU: 1, GPU: 1 }));
    expect(shapeKey({})).not.toBe(shapeKey({ CPU: 1 }));
  });

  it('gives the common one-CPU shape the same key as the general form', () => {
    expect(shapeKey({ CPU: 1 })).toBe('CPU:1');
    expect(shapeKey({ CPU: 2, GPU: 1 })).toBe('CPU:2,GPU:1');
  });
});

describe('format and missing', () => {
  it('formats a set for messages', () => {
    expect(format({})).toBe('{}');
    expect(format({ CPU: 1, GPU: 2 })).toBe('{ CPU: 1, GPU: 2 }');
  });

  it('names each resource the total lacks, with what the largest node has', () => {
    const out = missing({ CPU: 2, GPU: 1, TPU: 1 }, { CPU: 4, GPU: 0 });
    expect(out).toEqual(['GPU: 1 (largest node has 0)', 'TPU: 1 (largest node has 0)']);
  });

  it('is empty when the total covers the need', () => {
    expect(missing({ CPU: 2 }, { CPU: 2 })).toEqual([]);
  });
});
