// `ray.util`: Ray's utilities built on the core API (python/ray/util).

import { ActorPool } from './actor-pool.ts';

export const util = { ActorPool } as const;
export type { PoolCall, PoolGetOptions } from './actor-pool.ts';
