// Namespaces of actor names (Ray's namespaces): a name lives in a namespace — the one given at
// creation, else the job's (`init({ namespace })`, default 'default') — and getActor and
// listNamedActors look there.
import { describe, expect, it } from 'vitest';
import { get, getActor, listNamedActors, remote } from '../api/ray-api.ts';
import { validateJoinOptions } from '../api/options.ts';
import { useInMemoryCluster } from './in-memory-cluster.fixture.ts';

// Inside task code, `ray` is the worker's global.
declare const ray: { getActor(name: string, o?: { namespace?: string }): Promise<{ who: { remote(): unknown } }>; get(r: unknown): Promise<unknown> };

const clusters = useInMemoryCluster();
const Who = remote(
  { numCpus: 0 },
  class Who {
    constructor(private readonly tag: string) {}
    who() {
      return this.tag;
    }
  },
);

describe('namespaces', () => {
  it('keeps one name apart in two namespaces; getActor and listNamedActors look in the job’s unless told', async () => {
    await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    const a = Who.options({ name: 'svc' }).remote('default one');
    const b = Who.options({ name: 'svc', namespace: 'team-b' }).remote('team-b one');
    await get([a.who.remote(), b.who.remote()]);
    expect(await get((await getActor<{ who(): string }>('svc')).who.remote())).toBe('default one');
    expect(await get((await getActor<{ who(): string }>('svc', { namespace: 'team-b' })).who.remote())).toBe('team-b one');
    await expect(getActor('svc', { namespace: 'nobody' })).rejects.toThrow(/no live actor is named "svc" in namespace "nobody"/);
    expect(listNamedActors()).toEqual(['svc']);
    expect(listNamedActors(true)).toEqual(expect.arrayContaining([{ name: 'svc', namespace: 'default' }, { name: 'svc', namespace: 'team-b' }]));
    expect(() => Who.options({ name: 'svc', namespace: 'team-b' }).remote('again')).toThrow(/an actor named "svc" in namespace "team-b" already exists/);
    // Task code looks in a namespace too.
    const lookUp = remote(async function lookUp() {
      return ray.get((await ray.getActor('svc', { namespace: 'team-b' })).who.remote());
    });
    expect(await get(lookUp.remote())).toBe('team-b one');
  });

  it('puts names given without a namespace in the job’s (init({ namespace })), and refuses a namespace without a name, or on join', async () => {
    const c = await clusters.start({ head: { CPU: 0 }, volunteers: [{ CPU: 1 }] });
    c.coordinator.setNamespace('job-7');
    const x = Who.options({ name: 'x' }).remote('x');
    await get(x.who.remote());
    expect(listNamedActors(true)).toEqual([{ name: 'x', namespace: 'job-7' }]);
    expect(await get((await getActor<{ who(): string }>('x', { namespace: 'job-7' })).who.remote())).toBe('x');
    expect(() => Who.options({ namespace: 'n' }).remote('y')).toThrow(/namespace is where a name lives: give a name too/);
    expect(() => Who.options({ name: 'z', namespace: '' }).remote('z')).toThrow(/invalid option namespace/);
    expect(() => validateJoinOptions({ address: 'http://x', namespace: 'n' })).toThrow(/namespace is the job's, set by the cluster's driver/);
  });
});
