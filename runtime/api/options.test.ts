import { describe, expect, it } from 'vitest';
import {
  retryExceptionNames,
  suggest,
  validateActorOptions,
  validateInitOptions,
  validateJoinOptions,
  validateMethodOptions,
  validateTaskOptions,
} from './options.ts';

describe('unknown options', () => {
  it.each([
    ['numCPUs', 'numCpus'],
    ['num_cpus', 'numCpus'],
    ['num_returns', 'numReturns'],
    ['max_retries', 'maxRetries'],
    ['numReturn', 'numReturns'],
    ['schedulingStrategey', 'schedulingStrategy'],
  ])('refuses %s for a remote function and suggests %s', (bad, good) => {
    expect(() => validateTaskOptions({ [bad]: 1 })).toThrow(new RegExp(`unknown option "${bad}" for a remote function — did you mean ${good}\\?`));
  });

  it('suggests actor-only options for actor classes', () => {
    expect(() => validateActorOptions({ max_restarts: 1 })).toThrow(/did you mean maxRestarts\?/);
    expect(() => validateActorOptions({ maxConcurency: 2 })).toThrow(/did you mean maxConcurrency\?/);
  });

  it('lists the valid options when nothing is close', () => {
    expect(() => validateTaskOptions({ colour: 'red' })).toThrow(/unknown option "colour".*valid options are: .*numCpus.*maxRetries/);
  });

  it('refuses task-only options on actors and actor-only options on tasks', () => {
    expect(() => validateActorOptions({ numReturns: 2 })).toThrow(/unknown option "numReturns" for an actor class/);
    expect(() => validateTaskOptions({ maxRestarts: 1 })).toThrow(/unknown option "maxRestarts"/);
  });

  it('names the caller in the message', () => {
    expect(() => validateTaskOptions({ nope: 1 }, 'ray.remote(add)')).toThrow(/for ray\.remote\(add\)/);
  });

  it('does not suggest an option that is not valid in that place', () => {
    expect(suggest('max_restarts', ['numCpus', 'numReturns'])).toBeUndefined();
    expect(suggest('numCPUs', ['numCpus'])).toBe('numCpus');
  });

  it('throws TypeErrors', () => {
    expect(() => validateTaskOptions({ numCPUs: 1 })).toThrow(TypeError);
  });
});

describe('invalid values', () => {
  it.each([
    [{ numCpus: -1 }, 'numCpus'],
    [{ numCpus: 'two' }, 'numCpus'],
    [{ numGpus: Infinity }, 'numGpus'],
    [{ numReturns: -1 }, 'numReturns'],
    [{ numReturns: 1.5 }, 'numReturns'],
    [{ numReturns: 10_001 }, 'numReturns'],
    [{ maxRetries: -2 }, 'maxRetries'],
    [{ retryExceptions: 'yes' }, 'retryExceptions'],
    [{ schedulingStrategy: 'RANDOM' }, 'schedulingStrategy'],
    [{ resources: { disk: -1 } }, 'resources'],
    [{ enableTaskEvents: 1 }, 'enableTaskEvents'],
    [{ name: '' }, 'name'],
    [{ generatorBackpressureNumObjects: 0 }, 'generatorBackpressureNumObjects'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: -5 }, 'timeoutMs'],
    [{ timeoutMs: Infinity }, 'timeoutMs'],
    [{ timeoutMs: '1000' }, 'timeoutMs'],
  ])('refuses %j, naming %s', (opts, name) => {
    expect(() => validateTaskOptions(opts)).toThrow(new RegExp(`invalid option ${name}\\b.*for a remote function`));
  });

  it('accepts a positive finite timeoutMs on tasks only (actors and methods have none)', () => {
    expect(validateTaskOptions({ timeoutMs: 1500 }).timeoutMs).toBe(1500);
    expect(validateTaskOptions({ timeoutMs: 0.5 }).timeoutMs).toBe(0.5);
    expect(() => validateActorOptions({ timeoutMs: 10 })).toThrow(/unknown option "timeoutMs" for an actor class/);
    expect(() => validateMethodOptions({ timeoutMs: 10 })).toThrow(/unknown option "timeoutMs" for an actor method/);
  });

  it('refuses a node-affinity strategy without a node id', () => {
    expect(() => validateTaskOptions({ schedulingStrategy: { soft: true } })).toThrow(/invalid option schedulingStrategy/);
  });

  it('refuses bad actor values, naming the option', () => {
    expect(() => validateActorOptions({ maxConcurrency: 0 })).toThrow(/invalid option maxConcurrency/);
    expect(() => validateActorOptions({ maxRestarts: -5 })).toThrow(/invalid option maxRestarts/);
  });

  it('refuses a non-object', () => {
    expect(() => validateTaskOptions(5)).toThrow(/must be an object of options, got number/);
    expect(() => validateTaskOptions(null)).toThrow(/got null/);
    expect(() => validateTaskOptions([])).toThrow(TypeError);
  });

  it('checks maxTaskEvents: a whole number of at least 0, the driver\'s only', () => {
    expect(validateInitOptions({ maxTaskEvents: 5 })).toMatchObject({ maxTaskEvents: 5 });
    expect(() => validateInitOptions({ maxTaskEvents: -1 })).toThrow(/invalid option maxTaskEvents/);
    expect(() => validateInitOptions({ maxTaskEvents: 1.5 })).toThrow(/invalid option maxTaskEvents/);
    expect(() => validateJoinOptions({ maxTaskEvents: 5 })).toThrow(/maxTaskEvents is the driver's/);
  });

  it('refuses a bad init address', () => {
    expect(() => validateInitOptions({ address: 'not a url' })).toThrow(/invalid option address for ray\.init/);
    expect(() => validateInitOptions({ numCpus: 1.5 })).toThrow(/invalid option numCpus/);
  });

  it("takes init's isolation as 'origin' or 'none' and refuses anything else", () => {
    expect(validateInitOptions({ isolation: 'none' })).toMatchObject({ isolation: 'none' });
    expect(validateInitOptions({ isolation: 'origin' })).toMatchObject({ isolation: 'origin' });
    expect(() => validateInitOptions({ isolation: 'sandbox' })).toThrow(/invalid option isolation for ray\.init/);
    expect(() => validateInitOptions({ isolation: false })).toThrow(/invalid option isolation/);
  });
});

describe('valid options', () => {
  it('passes no options as an empty set (defaults are applied by the handle)', () => {
    expect(validateTaskOptions(undefined)).toEqual({});
    expect(validateActorOptions(undefined)).toEqual({});
    expect(validateMethodOptions(undefined)).toEqual({});
  });

  it('passes every task option with a valid value', () => {
    const opts = {
      numCpus: 0.5,
      numGpus: 1,
      resources: { camera: 2 },
      numReturns: 'streaming' as const,
      maxRetries: -1,
      retryExceptions: ['TypeError', RangeError],
      schedulingStrategy: 'SPREAD' as const,
      enableTaskEvents: false,
      name: 'work',
      scope: { k: 1 },
      generatorBackpressureNumObjects: 4,
    };
    expect(validateTaskOptions(opts)).toEqual(opts);
  });

  it('defaults soft to false in a node-affinity strategy', () => {
    expect(validateTaskOptions({ schedulingStrategy: { nodeId: 'n1' } }).schedulingStrategy).toEqual({ nodeId: 'n1', soft: false });
  });

  it('passes actor and method options', () => {
    expect(validateActorOptions({ maxRestarts: -1, maxTaskRetries: 2, maxConcurrency: 8, name: 'hits' })).toMatchObject({ maxRestarts: -1 });
    expect(validateMethodOptions({ numReturns: 2 })).toEqual({ numReturns: 2 });
  });

  it('passes a full init', () => {
    expect(validateInitOptions({ address: 'http://127.0.0.1:8080', cluster: 'lab', token: 's', numCpus: 2 })).toMatchObject({ cluster: 'lab' });
  });
});

describe('retryExceptionNames', () => {
  it('turns classes and names into class names', () => {
    class MyError extends Error {}
    expect(retryExceptionNames([TypeError, 'RangeError', MyError])).toEqual(['TypeError', 'RangeError', 'MyError']);
  });

  it('keeps booleans and defaults to false', () => {
    expect(retryExceptionNames(true)).toBe(true);
    expect(retryExceptionNames(undefined)).toBe(false);
  });
});
