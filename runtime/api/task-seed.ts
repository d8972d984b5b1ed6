// `ray.getRuntimeContext().seed`: a number derived from the task id, so that every replica of a
// verified task (and every retry of any task) sees the same one, and different tasks see different
// ones. Task code that needs randomness takes it from this seed, so replicas stay comparable.

/**
 * The seed of an id: FNV-1a over its UTF-16 code units, then MurmurHash3's 32-bit finalizer to
 * spread the bits. An unsigned 32-bit integer (0 to 2³² − 1); the same in every tab and worker.
 */
export function seedOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
