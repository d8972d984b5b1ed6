// Moving objects' bytes to and from the spill store (Ray's spill and restore IO): writing a batch
// of objects — each taken apart (spill-format.ts), its parts cut into chunks, chunks batched into
// transactions of bounded size, every manifest in the last one — and reading one back into its
// final buffers. Which objects spill, and when, is the object store's policy (object-store.ts).

import type { ObjectId } from '../protocol/ids.ts';
import type { SerializedObject } from '../protocol/task-spec.ts';
import { SPILL_CHUNK_BYTES, SPILL_READ_AHEAD_CHUNKS, SPILL_TRANSACTION_MAX_BYTES } from './constants.ts';
import { chunkCount, joinObject, splitObject, type SpillManifest } from './spill-format.ts';
import type { SpillChunk, SpillStore } from './spill-store.ts';

/** An object to spill; its value is read when its turn comes in the batch. */
export interface SpillVictim {
  readonly id: ObjectId;
  readonly size: number;
  readonly obj: SerializedObject | undefined;
}

/**
 * Writes objects out and returns their manifests, in order. Rejects when the spill store refuses
 * a transaction (a quota error is named `QuotaExceededError`): then none of them is complete,
 * though chunks of earlier transactions may be there without their manifest.
 */
export async function spillObjects(spill: SpillStore, victims: readonly SpillVictim[]): Promise<SpillManifest[]> {
  const manifests: SpillManifest[] = [];
  let chunks: SpillChunk[] = [];
  let pending = 0;
  for (const e of victims) {
    const split = splitObject(e.obj!);
    const chunkBytes = SPILL_CHUNK_BYTES;
    let index = 0;
    const addPart = async (bytes: Uint8Array): Promise<number> => {
      const n = chunkCount(bytes.byteLength, chunkBytes);
      for (let i = 0; i < n; i++) {
        // A copy of just this part: storing a view would clone the whole buffer behind it.
        const part = bytes.slice(i * chunkBytes, (i + 1) * chunkBytes);
        if (pending >= SPILL_TRANSACTION_MAX_BYTES) {
          const full = chunks;
          chunks = [];
          pending = 0;
          await spill.write(full, []);
        }
        chunks.push({ id: e.id, index: index++, data: part.buffer });
        pending += part.byteLength;
      }
      return n;
    };
    const headChunks = await addPart(split.head);
    const buffers: SpillManifest['buffers'][number][] = [];
    let bytes = split.head.byteLength;
    for (let i = 0; i < split.buffers.length; i++) {
      buffers.push({ ...split.buffers[i]!, chunks: await addPart(split.bytes[i]!) });
      bytes += split.bytes[i]!.byteLength;
    }
    manifests.push({ id: e.id, size: e.size, bytes, chunkBytes, headBytes: split.head.byteLength, headChunks, buffers });
  }
  await spill.write(chunks, manifests);
  return manifests;
}

/**
 * Reads a spilled object back. Each part (the head, then each buffer) is filled chunk by chunk as
 * chunks arrive; a part held in a single chunk is that chunk's own buffer, not a copy. With
 * `readAll` every chunk is asked for at once (IndexedDB serves them side by side); otherwise a few
 * at a time, so a large object is never all in memory twice.
 */
export async function restoreSpilledObject(spill: SpillStore, id: ObjectId, m: SpillManifest, readAll: boolean): Promise<SerializedObject> {
  const sizes = [m.headBytes, ...m.buffers.map((b) => b.byteLength)];
  const counts = [m.headChunks, ...m.buffers.map((b) => b.chunks)];
  const parts: (ArrayBuffer | undefined)[] = sizes.map(() => undefined);
  const partOf: number[] = [];
  const offsetOf: number[] = [];
  counts.forEach((n, p) => {
    for (let k = 0; k < n; k++) {
      partOf.push(p);
      offsetOf.push(k * m.chunkBytes);
    }
  });
  const window = readAll ? partOf.length : SPILL_READ_AHEAD_CHUNKS;
  await spill.read(id, 0, partOf.length, window, (i, data) => {
    const p = partOf[i]!;
    if (counts[p] === 1) {
      parts[p] = data;
      return;
    }
    const whole = (parts[p] ??= new ArrayBuffer(sizes[p]!));
    new Uint8Array(whole, offsetOf[i], data.byteLength).set(new Uint8Array(data));
  });
  const head = new Uint8Array(parts[0]!, 0, m.headBytes);
  return joinObject(head, m.buffers, parts.slice(1) as ArrayBuffer[]);
}
