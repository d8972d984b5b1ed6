import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { JoinRequestSchema, MAX_CLAIMED_CPUS, MAX_CLAIMED_CUSTOM, MAX_CLAIMED_GPUS, MemberSchema } from './signaling.ts';

const join = (resources: Record<string, number>) => ({ role: 'node', cluster: 'c1', token: 'abcdef', resources, gpuFallback: false });
const problem = (resources: Record<string, number>) => {
  const r = v.safeParse(JoinRequestSchema, join(resources));
  return r.success ? undefined : r.issues[0].message;
};

describe('resource claims at join', () => {
  it('accepts what a browser can have, up to each cap', () => {
    expect(problem({ CPU: MAX_CLAIMED_CPUS, GPU: MAX_CLAIMED_GPUS, custom: MAX_CLAIMED_CUSTOM })).toBeUndefined();
    expect(problem({ CPU: 0.5 })).toBeUndefined();
  });

  it('refuses more CPUs or GPUs than a browser has, naming the cap', () => {
    expect(problem({ CPU: MAX_CLAIMED_CPUS + 1 })).toBe(`CPU must be <=${MAX_CLAIMED_CPUS} (the most threads a browser reports)`);
    expect(problem({ CPU: 1000 })).toMatch(/CPU must be <=256/);
    expect(problem({ CPU: 1, GPU: MAX_CLAIMED_GPUS + 1 })).toBe(`GPU must be <=${MAX_CLAIMED_GPUS}`);
  });

  it('refuses custom claims past their bound, negative and non-finite claims', () => {
    expect(problem({ custom: MAX_CLAIMED_CUSTOM * 2 })).toBeDefined();
    expect(problem({ CPU: -1 })).toBeDefined();
    expect(problem({ CPU: Infinity })).toBeDefined();
    expect(problem({ CPU: NaN })).toBeDefined();
  });

  it('holds a member the server introduces to the same caps (a tab checks what it is told)', () => {
    const member = (CPU: number) => v.safeParse(MemberSchema, { nodeId: 'n1', role: 'node', resources: { CPU }, gpuFallback: false }).success;
    expect(member(8)).toBe(true);
    expect(member(1e12)).toBe(false);
  });
});
