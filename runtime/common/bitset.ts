// A growable set of small integers as bits, iterated in increasing order: 32 members per word, so
// finding the first member of a set over 10,000 slots reads at most 313 words.

export class Bitset {
  private words = new Uint32Array(4);
  /** Members, kept as bits are set and cleared. */
  size = 0;

  has(i: number): boolean {
    const w = i >>> 5;
    return w < this.words.length && (this.words[w]! & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    const w = i >>> 5;
    if (w >= this.words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const bit = 1 << (i & 31);
    if ((this.words[w]! & bit) === 0) {
      this.words[w]! |= bit;
      this.size++;
    }
  }

  delete(i: number): void {
    const w = i >>> 5;
    if (w >= this.words.length) return;
    const bit = 1 << (i & 31);
    if ((this.words[w]! & bit) !== 0) {
      this.words[w]! &= ~bit;
      this.size--;
    }
  }

  /** The smallest member for which `accept` is true, or -1. */
  find(accept: (i: number) => boolean): number {
    const words = this.words;
    for (let w = 0; w < words.length; w++) {
      let word = words[w]!;
      while (word !== 0) {
        const low = word & -word;
        const i = (w << 5) + 31 - Math.clz32(low);
        if (accept(i)) return i;
        word ^= low;
      }
    }
    return -1;
  }
}
