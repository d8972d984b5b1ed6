// `ray.util`: Ray's utilities built on the core API (python/ray/util).

import { ActorPool } from './actor-pool.ts';
import { Empty, Full, Queue } from './queue.ts';

export const util = { ActorPool, Queue, Empty, Full } as const;
export type { PoolCall, PoolGetOptions } from './actor-pool.ts';
export type { QueueOptions } from './queue.ts';
