import { describe, expect, it } from 'vitest';
import type { FunctionId } from '../protocol/ids.ts';
import { isIdentifier, kindOf, makeDescriptor, sourceOf } from './function-descriptor.ts';

type AnyFn = (...args: never[]) => unknown;

/** What a worker does with shipped source: evaluate it as an expression. */
function evaluate<T = unknown>(fn: AnyFn): T {
  const src = sourceOf(fn, 'f');
  return new Function('return (' + src + ')')() as T;
}

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('sourceOf: source that evaluates to the same function', () => {
  it('ships an arrow function', () => {
    expect(evaluate<(a: number, b: number) => number>((a: number, b: number) => a + b)(2, 3)).toBe(5);
  });

  it('ships a one-parameter arrow without parentheses', () => {
    const f = new Function('return x => x * 2')() as AnyFn;
    expect(evaluate<(x: number) => number>(f)(4)).toBe(8);
  });

  it('ships an async arrow', async () => {
    const f = evaluate<(x: number) => Promise<number>>(async (x: number) => x + 1);
    await expect(f(1)).resolves.toBe(2);
  });

  it('ships an async arrow with one bare parameter', async () => {
    const f = new Function('return async x => x + 10')() as AnyFn;
    await expect(evaluate<(x: number) => Promise<number>>(f)(1)).resolves.toBe(11);
  });

  it('ships a function declaration, keeping its name for recursion', () => {
    function fib(n: number): number {
      return n < 2 ? n : fib(n - 1) + fib(n - 2);
    }
    const f = evaluate<typeof fib>(fib);
    expect(f.name).toBe('fib');
    expect(f(10)).toBe(55);
  });

  it('ships a generator function', () => {
    function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    }
    expect([...evaluate<typeof count>(count)(3)]).toEqual([0, 1, 2]);
  });

  it('ships an async generator function', async () => {
    async function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    }
    expect(await collect(evaluate<typeof count>(count)(3))).toEqual([0, 1, 2]);
  });

  it('ships a class with its methods', () => {
    class Counter {
      n = 0;
      incr(by: number) {
        return (this.n += by);
      }
    }
    const C = evaluate<typeof Counter>(Counter as unknown as AnyFn);
    const c = new C();
    c.incr(2);
    expect(c.incr(3)).toBe(5);
  });

  it('ships method shorthand as a named function', () => {
    const obj = {
      square(x: number) {
        return x * x;
      },
    };
    const f = evaluate<(x: number) => number>(obj.square);
    expect(f(7)).toBe(49);
    expect(f.name).toBe('square');
  });

  it('ships an async method', async () => {
    const obj = {
      async twice(x: number) {
        return x * 2;
      },
    };
    await expect(evaluate<(x: number) => Promise<number>>(obj.twice)(4)).resolves.toBe(8);
  });

  it('ships a generator method', () => {
    const obj = {
      *pairs(n: number) {
        for (let i = 0; i < n; i++) yield [i, i];
      },
    };
    expect([...evaluate<(n: number) => Iterable<unknown>>(obj.pairs)(2)]).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('ships an async generator method', async () => {
    const obj = {
      async *ticks(n: number) {
        for (let i = 0; i < n; i++) yield i * 10;
      },
    };
    expect(await collect(evaluate<(n: number) => AsyncIterable<unknown>>(obj.ticks)(3))).toEqual([0, 10, 20]);
  });

  it('ships method shorthand whose body contains an arrow', () => {
    const obj = {
      mapAll(xs: number[]) {
        return xs.map((x) => x + 1);
      },
    };
    expect(evaluate<(xs: number[]) => number[]>(obj.mapAll)([1, 2])).toEqual([2, 3]);
  });

  it('refuses a native function, suggesting a wrapper', () => {
    expect(() => sourceOf(Math.max as AnyFn, 'ray.remote(max)')).toThrow(/ray\.remote\(max\) is a native or bound function.*wrap it/);
  });

  it('refuses a bound function', () => {
    function f(this: unknown, x: number) {
      return x;
    }
    expect(() => sourceOf(f.bind(null) as AnyFn, 'f')).toThrow(TypeError);
    expect(() => sourceOf(f.bind(null) as AnyFn, 'f')).toThrow(/native or bound/);
  });
});

describe('kindOf', () => {
  it('tells functions, generators, async generators and classes apart', () => {
    expect(kindOf(() => 1)).toBe('function');
    expect(kindOf(async () => 1)).toBe('function');
    expect(kindOf(function* () {})).toBe('generator');
    expect(kindOf(async function* () {})).toBe('async-generator');
    expect(kindOf({ *g() {} }.g)).toBe('generator');
    expect(kindOf({ async *g() {} }.g)).toBe('async-generator');
    expect(kindOf(class A {})).toBe('class');
  });
});

describe('makeDescriptor', () => {
  it('ships scope functions as source and data as serialized values', () => {
    const partition = (xs: number[]) => xs.slice(1);
    const d = makeDescriptor('f1' as FunctionId, (x: number) => x, 'sort', { partition, limit: 3 }, {});
    expect(d).toMatchObject({ fnId: 'f1', kind: 'function', name: 'sort' });
    expect(d.scope).toEqual([
      { name: 'partition', kind: 'function', source: sourceOf(partition, 'p') },
      { name: 'limit', kind: 'value', value: expect.objectContaining({ v: 3 }) },
    ]);
  });

  it('refuses a scope name that is not an identifier', () => {
    expect(() => makeDescriptor('f1' as FunctionId, () => 1, 'g', { 'not-ok': 1 }, {})).toThrow(/scope name "not-ok" of g is not a valid identifier/);
  });

  it('refuses a scope value that cannot be sent, naming it', () => {
    class Box {}
    expect(() => makeDescriptor('f1' as FunctionId, () => 1, 'g', { box: new Box() }, {})).toThrow(/scope\.box of g is a Box instance/);
  });

  it('accepts identifiers with $ and _', () => {
    expect(isIdentifier('$_a1')).toBe(true);
    expect(isIdentifier('1a')).toBe(false);
  });
});
