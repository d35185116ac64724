/**
 * Noise that belongs to a tile, not to a batch: every tile's sampler noise is drawn from its own Philox
 * key, derived from the run seed and the tile's position in the source raster. Which process samples a
 * tile, in which batch and in which order, then no longer changes its pixels, so any split of a raster
 * across shards reproduces a single run exactly.
 * @module
 */
import { noGrad } from "../nn/autodiff.ts";
import { randomNormal } from "../nn/ops/random.ts";
import { concat } from "../nn/ops/shape.ts";
import { type Tensor, tidy } from "../nn/tensor.ts";
import { ShapeError } from "../base/errors.ts";
import type { NoiseSource } from "./samplers/plan.ts";

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of `words` under `salt` (each word folded in with a multiply-rotate, then finalised). */
function hashWords(words: readonly number[], salt: number): number {
  let h = salt >>> 0;
  for (const word of words) {
    h = Math.imul(h ^ fmix32(word >>> 0), 0x9e3779b1);
    h = ((h << 13) | (h >>> 19)) >>> 0;
  }
  return fmix32(h ^ words.length);
}

/**
 * A 52-bit Philox seed from `words` (non-negative integers below 2⁵³): 52 bits keep accidental repeats
 * away even across millions of tiles (2³² would not: the birthday bound is ~77 000 tiles).
 */
function deriveSeed(words: readonly number[]): number {
  const split = words.flatMap((w) => [w % 2 ** 32, Math.floor(w / 2 ** 32)]);
  const high = hashWords(split, 0x5eed5eed) & 0xfffff;
  return high * 2 ** 32 + hashWords(split, 0x7113c0de);
}

/**
 * The seed of the tile whose upper-left low-resolution pixel is (x, y), in a run seeded with `runSeed`.
 * @throws {RangeError} for a negative or non-integer argument
 */
export function tileSeed(runSeed: number, x: number, y: number): number {
  for (const [name, value] of [["seed", runSeed], ["x", x], ["y", y]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`tile seed: ${name} must be a non-negative safe integer, got ${value}`);
    }
  }
  return deriveSeed([runSeed, x, y]);
}

/** The seed of sample `k` (of several averaged) of the item seeded `seed`; sample 0 keeps `seed`. */
export function sampleSeed(seed: number, k: number): number {
  return k === 0 ? seed : deriveSeed([seed, k]);
}

/**
 * A noise source whose item n of the batch is N(0, 1) from Philox key `seeds[n]` (and the sampler's
 * stream), whatever else is in the batch.
 */
export function itemNoise(seeds: readonly number[]): NoiseSource {
  return (shape: readonly number[], stream: number): Tensor => {
    if (shape[0] !== seeds.length) {
      throw new ShapeError(`item noise: ${seeds.length} seeds for a batch of ${shape[0]}`);
    }
    const item = [1, ...shape.slice(1)];
    if (seeds.length === 1) return randomNormal(item, seeds[0]!, stream);
    return noGrad(() => tidy(() => concat(seeds.map((seed) => randomNormal(item, seed, stream)), 0)));
  };
}
