// What a tab offers: CPUs (navigator.hardwareConcurrency unless told) and a GPU when WebGPU
// gives a hardware adapter — a software fallback adapter only when numGpus is given (docs/api.md).

import { MAX_CLAIMED_CPUS } from '../protocol/signaling.ts';
import type { ResourceSet } from '../protocol/task-spec.ts';
import {
  DEVICE_MEMORY_DEFAULT_GIB,
  OBJECT_STORE_MEMORY_MAX_BYTES,
  OBJECT_STORE_MEMORY_MIN_BYTES,
  OBJECT_STORE_MEMORY_SHARE,
} from './constants.ts';

export interface ProbedResources {
  readonly resources: ResourceSet;
  readonly gpuFallback: boolean;
  /** Bytes of objects this node keeps in memory before spilling to IndexedDB. */
  readonly objectStoreMemory: number;
}

/**
 * The default `objectStoreMemory`: a quarter of `navigator.deviceMemory` (which browsers round
 * and cap at 8 GiB; 4 GiB assumed where it is missing), within [256 MiB, 2 GiB].
 */
export function defaultObjectStoreMemory(deviceMemoryGiB: number | undefined): number {
  const gib = deviceMemoryGiB !== undefined && deviceMemoryGiB > 0 ? deviceMemoryGiB : DEVICE_MEMORY_DEFAULT_GIB;
  const bytes = Math.floor(gib * OBJECT_STORE_MEMORY_SHARE * 1024 ** 3);
  return Math.min(OBJECT_STORE_MEMORY_MAX_BYTES, Math.max(OBJECT_STORE_MEMORY_MIN_BYTES, bytes));
}

async function probeAdapter(): Promise<{ present: boolean; fallback: boolean }> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { present: false, fallback: false };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { present: false, fallback: false };
    const info = (adapter as GPUAdapter & { info?: { isFallbackAdapter?: boolean } }).info;
    const fallback = Boolean(info?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
    return { present: true, fallback };
  } catch {
    return { present: false, fallback: false };
  }
}

export async function probeResources(opts: {
  numCpus?: number;
  numGpus?: number;
  resources?: Readonly<Record<string, number>>;
  objectStoreMemory?: number;
}): Promise<ProbedResources> {
  // A cluster accepts at most MAX_CLAIMED_CPUS from a tab; a larger machine offers that many.
  const cpus = opts.numCpus ?? Math.min(MAX_CLAIMED_CPUS, Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1));
  const adapter = await probeAdapter();
  let gpus = 0;
  if (opts.numGpus !== undefined) {
    if (opts.numGpus > 0 && !adapter.present) {
      throw new Error(
        `numGpus: ${opts.numGpus} was asked for, but this tab has no WebGPU adapter ` +
          `(use a browser with WebGPU; headless Chromium needs --enable-unsafe-webgpu)`,
      );
    }
    gpus = opts.numGpus;
  } else if (adapter.present && !adapter.fallback) {
    gpus = 1;
  }
  const resources: Record<string, number> = { CPU: cpus };
  if (gpus > 0) resources.GPU = gpus;
  for (const [k, v] of Object.entries(opts.resources ?? {})) {
    if (k === 'CPU' || k === 'GPU') throw new TypeError(`resources.${k}: use numCpus / numGpus instead`);
    resources[k] = v;
  }
  const deviceMemory = (globalThis.navigator as (Navigator & { deviceMemory?: number }) | undefined)?.deviceMemory;
  const objectStoreMemory = opts.objectStoreMemory ?? defaultObjectStoreMemory(deviceMemory);
  return { resources, gpuFallback: gpus > 0 && adapter.fallback, objectStoreMemory };
}
