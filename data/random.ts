/**
 * A small seeded random generator whose whole state is one 32-bit integer, so a training run can save
 * and restore it exactly. Used for dataset splits, epoch orders, crops and augmentations.
 * @module
 */

/** Anything that yields uniform numbers in [0, 1). */
export interface RandomSource {
  /** The next uniform number in [0, 1). */
  next(): number;
}

/** Mixes integers into a 32-bit seed (MurmurHash3's finaliser over each part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Mulberry32 (Tommy Ettinger's 32-bit generator): fast, full period 2³², state = one integer. */
export class SeededRandom implements RandomSource {
  private value: number;

  /**
   * Starts a sequence.
   * @param seed any integer; equal seeds give equal sequences
   */
  constructor(seed: number) {
    this.value = seed >>> 0;
  }

  /** The current state, to save alongside a checkpoint. */
  get state(): number {
    return this.value;
  }

  /** Restores a saved state. */
  set state(value: number) {
    this.value = value >>> 0;
  }

  /** The next uniform number in [0, 1). */
  next(): number {
    this.value = (this.value + 0x6d2b79f5) >>> 0;
    let t = this.value;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** An integer in [0, n) from a random source. */
export function randomInt(random: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(random.next() * n));
}

/** A seeded Fisher–Yates permutation of 0..n−1. */
export function permutation(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = new SeededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
