// Distributed quicksort, as in Ray Core's examples: a recursive remote function splits the array
// around a pivot with `partition` (shipped through `scope`) and sorts both halves as child tasks.
// DOM-free: takes the `ray` module, so the page and a headless driver run the same code.
import type { ObjectRef, Webray } from '../load-webray.ts';

export interface QuicksortOptions {
  /** How many random numbers to sort. */
  readonly size: number;
  /** Sub-arrays up to this length are sorted in one task without recursing further. */
  readonly leafSize?: number;
}

export interface QuicksortResult {
  readonly size: number;
  /** Whether the result equals Array.prototype.sort of the same input. */
  readonly correct: boolean;
  /** Index of the first element that differs from the reference, or -1. */
  readonly firstMismatch: number;
  /** quickSort tasks that ran (the recursion tree's size). */
  readonly tasks: number;
  readonly elapsedMs: number;
  /** Time of Array.prototype.sort on the same input in this tab, for comparison. */
  readonly referenceMs: number;
}

/** Splits around the last element: [lesser, pivot, greater]. Ships to the workers through `scope`. */
function partition(collection: number[]): [number[], number, number[]] {
  const pivot = collection[collection.length - 1]!;
  const lesser: number[] = [];
  const greater: number[] = [];
  for (let i = 0; i < collection.length - 1; i++) {
    const x = collection[i]!;
    if (x > pivot) greater.push(x);
    else lesser.push(x);
  }
  return [lesser, pivot, greater];
}

/** Sorts `collection`; inside a worker, `quickSort` is its own remote handle (docs/api.md, "Code shipping"). */
async function quickSort(collection: number[], leafSize: number): Promise<number[]> {
  if (collection.length <= leafSize) return collection.sort((a, b) => a - b);
  const [lesser, pivot, greater] = partition(collection);
  const self = quickSort as unknown as { remote(c: number[], leaf: number): ObjectRef<number[]> };
  const [l, g] = await ray.get([self.remote(lesser, leafSize), self.remote(greater, leafSize)] as const);
  l.push(pivot);
  for (const x of g) l.push(x);
  return l;
}
// `ray` inside quickSort is the worker's global; declared for the type checker.
declare const ray: Webray;

export async function runQuicksort(ray: Webray, options: QuicksortOptions): Promise<QuicksortResult> {
  const size = Math.max(1, Math.floor(options.size));
  const leafSize = Math.max(16, Math.floor(options.leafSize ?? Math.max(2_000, size / 32)));
  const input = Array.from({ length: size }, () => Math.floor(Math.random() * 1_000_000_000));

  const started = performance.now();
  const sort = ray.remote({ scope: { partition } }, quickSort);
  const sorted = await ray.get(sort.remote(input, leafSize));
  const elapsedMs = performance.now() - started;

  const refStart = performance.now();
  const expected = [...input].sort((a, b) => a - b);
  const referenceMs = performance.now() - refStart;
  let firstMismatch = sorted.length === expected.length ? -1 : Math.min(sorted.length, expected.length);
  if (firstMismatch === -1) firstMismatch = expected.findIndex((x, i) => sorted[i] !== x);
  const tasks = (await ray.tasks()).filter((t) => t.name === 'quickSort' && t.submittedAtMs >= performance.timeOrigin + started - 1).length;
  return { size, correct: firstMismatch === -1, firstMismatch, tasks, elapsedMs, referenceMs };
}
