/** Deterministic random numbers for tests, from the generator that initialises weights. */
import { seededRandom } from "../../nn/init.ts";

/** A seeded uniform source in [0, 1). */
export const makeRng: (seed: number) => () => number = seededRandom;

/** `n` uniform values in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = seededRandom(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
}
