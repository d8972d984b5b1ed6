// What GPU this browser could offer: a hardware WebGPU adapter, Chromium's software fallback
// (SwiftShader: correct but CPU-emulated, offered only when the person opts in), or none.

export type GpuKind = 'hardware' | 'fallback' | 'none';

export interface GpuProbe {
  readonly kind: GpuKind;
  /** e.g. "nvidia ampere", "swiftshader", or why there is none. */
  readonly description: string;
}

export async function probeGpu(): Promise<GpuProbe> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return {
      kind: 'none',
      description: isSecureContext ? 'this browser has no WebGPU' : 'WebGPU needs a secure page (HTTPS or localhost)',
    };
  }
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { kind: 'none', description: 'WebGPU found no adapter' };
    const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).info;
    const fallback = Boolean(info?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
    const description = [info?.vendor, info?.architecture].filter(Boolean).join(' ') || info?.description || 'WebGPU adapter';
    return { kind: fallback ? 'fallback' : 'hardware', description };
  } catch (e) {
    return { kind: 'none', description: `WebGPU failed: ${(e as Error).message}` };
  }
}

/** One line for a person: what the GPU is and what offering it means. */
export function describeGpu(p: GpuProbe): string {
  switch (p.kind) {
    case 'hardware':
      return `GPU: ${p.description}`;
    case 'fallback':
      return `Software fallback GPU only (${p.description}): correct but slow, emulated on the CPU`;
    case 'none':
      return `No GPU: ${p.description}`;
  }
}
