// The GPU job: a matrix product C = A × B in WGSL, split into row blocks, each a `numGpus: 1` task
// that computes its block with WebGPU (`ray.getGpuDevice()`), checked against the same product on
// the CPU. DOM-free: takes the `ray` module, so the page and a headless driver run the same code.
import type { Webray } from '../load-webray.ts';

export interface GpuMatmulOptions {
  /** A and B are n × n. */
  readonly n: number;
  /** Row blocks, one GPU task each. */
  readonly blocks: number;
}

export interface GpuMatmulResult {
  readonly n: number;
  readonly blocks: number;
  /** Largest |C_gpu − C_cpu| relative to the largest |C_cpu|. */
  readonly maxRelativeError: number;
  readonly correct: boolean;
  /** Row blocks computed by each node. */
  readonly perNode: Readonly<Record<string, number>>;
  /** The adapters that ran them, e.g. "swiftshader (fallback)". */
  readonly adapters: readonly string[];
  readonly elapsedMs: number;
  readonly cpuMs: number;
}

/** Thrown before anything is submitted when no node offers a GPU: such tasks would wait forever. */
export class NoGpuError extends Error {
  override name = 'NoGpuError';
}

export const NO_GPU_HELP =
  'No node of this cluster offers a GPU, so GPU tasks would wait for one. To get one: open the ' +
  'invite link on a machine whose browser has WebGPU (recent Chrome or Edge), or tick ' +
  '"Offer the fallback GPU" on a volunteer page, or stop and start this tab with "Offer a GPU" ' +
  'ticked to use the software fallback adapter here.';

/** One thread per element of C: the dot product of a row of A and a column of B. */
export const MATMUL_WGSL = /* wgsl */ `
struct Dims { rows: u32, n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> dims: Dims;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let row = id.y;
  let col = id.x;
  if (row >= dims.rows || col >= dims.n) { return; }
  var sum = 0.0;
  for (var k = 0u; k < dims.n; k = k + 1u) {
    sum = sum + a[row * dims.n + k] * b[k * dims.n + col];
  }
  c[row * dims.n + col] = sum;
}
`;

interface BlockResult {
  readonly c: Float32Array;
  readonly node: string;
  readonly adapter: string;
}

/** Multiplies `rows` rows of A by B on this node's GPU. Runs remotely; MATMUL_WGSL comes through `scope`. */
async function matmulBlock(a: Float32Array, b: Float32Array, rows: number, n: number): Promise<BlockResult> {
  const device = await ray.getGpuDevice();
  // GPUBufferUsage and GPUMapMode flags (WebGPU spec values).
  const usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
  const MAP_MODE_READ = 0x1;
  const storage = (data: Float32Array): GPUBuffer => {
    const buf = device.createBuffer({ size: data.byteLength, usage: usage.STORAGE | usage.COPY_DST });
    device.queue.writeBuffer(buf, 0, data);
    return buf;
  };
  const aBuf = storage(a);
  const bBuf = storage(b);
  const bytes = rows * n * 4;
  const cBuf = device.createBuffer({ size: bytes, usage: usage.STORAGE | usage.COPY_SRC });
  const readBuf = device.createBuffer({ size: bytes, usage: usage.MAP_READ | usage.COPY_DST });
  const dims = device.createBuffer({ size: 8, usage: usage.UNIFORM | usage.COPY_DST });
  device.queue.writeBuffer(dims, 0, new Uint32Array([rows, n]));

  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: MATMUL_WGSL }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [aBuf, bBuf, cBuf, dims].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(n / 8), Math.ceil(rows / 8));
  pass.end();
  encoder.copyBufferToBuffer(cBuf, 0, readBuf, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await readBuf.mapAsync(MAP_MODE_READ);
  const c = new Float32Array(readBuf.getMappedRange().slice(0));
  readBuf.unmap();
  for (const buf of [aBuf, bBuf, cBuf, readBuf, dims]) buf.destroy();

  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).adapterInfo;
  const name = info?.description || info?.architecture || info?.vendor || 'WebGPU adapter';
  const adapter = info?.isFallbackAdapter ? `${name} (fallback)` : name;
  return { c, node: String(ray.getRuntimeContext().nodeId), adapter };
}
// `ray` inside matmulBlock is the worker's global; declared for the type checker.
declare const ray: Webray;

function randomMatrix(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < m.length; i++) m[i] = Math.random() * 2 - 1;
  return m;
}

function cpuMatmul(a: Float32Array, b: Float32Array, n: number): Float32Array {
  const c = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      const row = k * n;
      for (let j = 0; j < n; j++) c[i * n + j]! += aik * b[row + j]!;
    }
  }
  return c;
}

/** Whether any live node offers a GPU now. */
export function clusterHasGpu(ray: Webray): boolean {
  return (ray.clusterResources().GPU ?? 0) > 0;
}

export async function runGpuMatmul(ray: Webray, options: GpuMatmulOptions): Promise<GpuMatmulResult> {
  if (!clusterHasGpu(ray)) throw new NoGpuError(NO_GPU_HELP);
  const n = Math.max(8, Math.floor(options.n));
  const blocks = Math.max(1, Math.min(n, Math.floor(options.blocks)));
  const a = randomMatrix(n);
  const b = randomMatrix(n);

  const started = performance.now();
  const block = ray.remote({ numGpus: 1, scope: { MATMUL_WGSL } }, matmulBlock);
  const bRef = ray.put(b);
  const rowsPer = Math.ceil(n / blocks);
  const parts: { start: number; rows: number }[] = [];
  for (let start = 0; start < n; start += rowsPer) parts.push({ start, rows: Math.min(rowsPer, n - start) });
  const refs = parts.map((p) => block.remote(a.slice(p.start * n, (p.start + p.rows) * n), bRef as unknown as Float32Array, p.rows, n));
  const results = await ray.get(refs);
  const elapsedMs = performance.now() - started;

  const cpuStart = performance.now();
  const expected = cpuMatmul(a, b, n);
  const cpuMs = performance.now() - cpuStart;
  let scale = 0;
  for (const x of expected) scale = Math.max(scale, Math.abs(x));
  let maxErr = 0;
  const perNode: Record<string, number> = {};
  const adapters = new Set<string>();
  let complete = true;
  results.forEach((r, i) => {
    const part = parts[i]!;
    const offset = part.start * n;
    const want = part.rows * n;
    // A block of the wrong length (truncated read-back, wrong dims) is wrong, whatever its values.
    if (r.c.length !== want) complete = false;
    for (let j = 0; j < want; j++) {
      const got = r.c[j];
      maxErr = got === undefined ? Infinity : Math.max(maxErr, Math.abs(got - expected[offset + j]!));
    }
    perNode[r.node] = (perNode[r.node] ?? 0) + 1;
    adapters.add(r.adapter);
  });
  const maxRelativeError = scale > 0 ? maxErr / scale : maxErr;
  return { n, blocks: parts.length, maxRelativeError, correct: complete && maxRelativeError < 1e-4, perNode, adapters: [...adapters], elapsedMs, cpuMs };
}
