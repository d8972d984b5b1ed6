import { afterEach, describe, expect, it } from 'vitest';
import { useInMemoryCluster } from '../testing/in-memory-cluster.fixture.ts';
import { validateActorOptions, validateInitOptions, validateJoinOptions, validateMethodOptions, validateTaskOptions } from './options.ts';
import { remote } from './ray-api.ts';
import { assertActorReplicable, replicationFields, resolveReplication, setVerificationDefaults } from './replication.ts';

afterEach(() => setVerificationDefaults(undefined));

describe('replicas and maxReplicas options', () => {
  it('accepts whole numbers from 1 to 16 replicas, on tasks and actors', () => {
    expect(validateTaskOptions({ replicas: 3, maxReplicas: 7 })).toEqual({ replicas: 3, maxReplicas: 7 });
    expect(validateActorOptions({ replicas: 1 })).toEqual({ replicas: 1 });
    expect(validateTaskOptions({ replicas: 16 })).toEqual({ replicas: 16 });
  });

  it.each([
    [{ replicas: 0 }, /invalid option replicas .*at least 1 replica/],
    [{ replicas: 1.5 }, /invalid option replicas .*whole number of replicas/],
    [{ replicas: 17 }, /invalid option replicas .*at most 16 replicas/],
    [{ replicas: '2' }, /invalid option replicas/],
    [{ maxReplicas: 0 }, /invalid option maxReplicas .*at least 1 replica/],
    [{ maxReplicas: 34 }, /invalid option maxReplicas .*at most 33 replicas in all/],
  ])('refuses %j naming the option', (opts, msg) => {
    expect(() => validateTaskOptions(opts)).toThrow(msg);
    expect(() => validateActorOptions(opts)).toThrow(msg);
  });

  it('suggests the option for near misses', () => {
    expect(() => validateTaskOptions({ replica: 2 })).toThrow(/did you mean replicas\?/);
    expect(() => validateTaskOptions({ max_replicas: 2 })).toThrow(/did you mean maxReplicas\?/);
  });

  it('is not a method option (a method call follows its actor)', () => {
    expect(() => validateMethodOptions({ replicas: 2 })).toThrow(/unknown option "replicas" for an actor method/);
  });
});

describe('resolveReplication', () => {
  it('defaults to one replica and maxReplicas 2·replicas + 1', () => {
    expect(resolveReplication({}, 'f.remote()')).toEqual({ replicas: 1, maxReplicas: 3, fromDefault: false });
    expect(resolveReplication({ replicas: 3 }, 'f.remote()')).toEqual({ replicas: 3, maxReplicas: 7, fromDefault: false });
    expect(resolveReplication({ replicas: 2, maxReplicas: 2 }, 'f.remote()')).toEqual({ replicas: 2, maxReplicas: 2, fromDefault: false });
  });

  it('takes replicas from ray.init({ verification }) when the call gives none', () => {
    setVerificationDefaults({ replicas: 2, spotCheck: 0.1 });
    expect(resolveReplication({}, 'f.remote()')).toEqual({ replicas: 2, maxReplicas: 5, fromDefault: true });
    expect(resolveReplication({ replicas: 1 }, 'f.remote()')).toEqual({ replicas: 1, maxReplicas: 3, fromDefault: false });
  });

  it('refuses maxReplicas below replicas, naming both', () => {
    expect(() => resolveReplication({ replicas: 3, maxReplicas: 2 }, 'f.remote()')).toThrow(
      /f\.remote\(\): maxReplicas \(2\) must be at least replicas \(3\)/,
    );
  });

  it('adds nothing to the TaskSpec for one replica, both fields for more', () => {
    expect(replicationFields(resolveReplication({}, 'f'))).toEqual({});
    expect(replicationFields(resolveReplication({ replicas: 2 }, 'f'))).toEqual({ replicas: 2, maxReplicas: 5 });
  });

  it('lets a replicated actor run one call at a time and never restart', () => {
    expect(() => assertActorReplicable(resolveReplication({}, 'C'), { maxConcurrency: 8, maxRestarts: -1 }, 'C.remote()')).not.toThrow();
    expect(() => assertActorReplicable(resolveReplication({ replicas: 2 }, 'C'), { maxConcurrency: 1, maxRestarts: 0 }, 'C.remote()')).not.toThrow();
    expect(() => assertActorReplicable(resolveReplication({ replicas: 2 }, 'C'), { maxConcurrency: 2 }, 'C.remote()')).toThrow(
      /C\.remote\(\): a replicated actor \(replicas: 2\) runs one call at a time/,
    );
    expect(() => assertActorReplicable(resolveReplication({ replicas: 3 }, 'C'), { maxRestarts: 1 }, 'C.remote()')).toThrow(
      /C\.remote\(\): a replicated actor \(replicas: 3\) is not restarted/,
    );
  });
});

describe('ray.init({ verification })', () => {
  it('accepts replicas and a spotCheck fraction', () => {
    expect(validateInitOptions({ verification: { replicas: 2, spotCheck: 0.25 } }).verification).toEqual({ replicas: 2, spotCheck: 0.25 });
    expect(validateInitOptions({ verification: { spotCheck: 0 } }).verification).toEqual({ spotCheck: 0 });
    expect(validateInitOptions({ verification: { spotCheck: 1 } }).verification).toEqual({ spotCheck: 1 });
    expect(validateInitOptions({ verification: { quarantineAfter: 5 } }).verification).toEqual({ quarantineAfter: 5 });
  });

  it.each([
    [{ spotCheck: 1.5 }, /invalid option spotCheck for ray\.init verification: .*a fraction from 0 to 1/],
    [{ spotCheck: -0.1 }, /invalid option spotCheck for ray\.init verification: .*a fraction from 0 to 1/],
    [{ replicas: 0 }, /invalid option replicas for ray\.init verification: .*at least 1 replica/],
    [{ quarantineAfter: 0 }, /invalid option quarantineAfter for ray\.init verification: .*at least 1 mismatch/],
    [{ quarantineAfter: 1.5 }, /invalid option quarantineAfter for ray\.init verification: .*whole number of mismatches/],
    [{ replica: 2 }, /unknown option "replica" for ray\.init verification — did you mean replicas\?/],
    ['all', /ray\.init verification must be an object of options/],
  ])('refuses %j naming the option', (verification, msg) => {
    expect(() => validateInitOptions({ verification })).toThrow(msg);
  });

  it('is refused on ray.join: the cluster default is its driver\'s', () => {
    expect(() => validateJoinOptions({ address: 'http://x', verification: { replicas: 2 } })).toThrow(
      /ray\.join: verification is set by the cluster's driver/,
    );
    expect(validateJoinOptions({ address: 'http://x', numCpus: 1 })).toEqual({ address: 'http://x', numCpus: 1 });
  });
});

describe('.remote() with replicas > 1 where it cannot run', () => {
  const clusters = useInMemoryCluster();

  it('refuses a streaming generator or a concurrent actor asking for replicas, never running it once', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }, { CPU: 1 }] });
    const Counter = remote(class Counter { n = 0; });
    expect(() => Counter.options({ replicas: 2, maxConcurrency: 2 }).remote()).toThrow(/Counter\.remote\(\): a replicated actor \(replicas: 2\) runs one call at a time/);
    const gen = remote(function* count() { yield 1; });
    expect(() => gen.options({ replicas: 2 }).remote()).toThrow(/count\.remote\(\): a streaming generator cannot be verified with replicas/);
    setVerificationDefaults({ replicas: 2 });
    expect(() => remote(class Other {}).options({ maxRestarts: 2 }).remote()).toThrow(/a replicated actor \(replicas: 2, from ray\.init\(\{ verification \}\)\) is not restarted/);
    expect(c.network.count('to_node:run_task')).toBe(0);
  });
});
