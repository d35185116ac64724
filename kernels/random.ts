/**
 * Dispatchers for the counter-based random kernels (`random.wgsl.ts`): fills with uniform or normal
 * numbers, and inverted dropout whose mask is recomputed from (seed, stream, index).
 * @module
 */
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { dropoutSource, type RandomDistribution, randomSource } from "./random.wgsl.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { flatGrid } from "./wgsl.ts";

export type { RandomDistribution } from "./random.wgsl.ts";

const TWO_32 = 2 ** 32;

/** The Philox key words of `seed` and the stream index, validated. */
export function philoxKey(seed: number, stream: number): [stream: number, keyLo: number, keyHi: number] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`random seed must be a non-negative safe integer, got ${seed}`);
  }
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_32) {
    throw new RangeError(`random stream must be an integer in [0, 2^32), got ${stream}`);
  }
  return [stream, seed % TWO_32, Math.floor(seed / TWO_32)];
}

/**
 * Fills `out` from the (seed, stream) sequence: `low + (high − low)·U[0, 1)` for "uniform" with
 * (a, b) = (low, high), or `mean + std·N(0, 1)` for "normal" with (a, b) = (mean, std).
 */
export function fillRandom(
  rt: Runtime,
  out: TensorRef,
  distribution: RandomDistribution,
  seed: number,
  stream: number,
  a: number,
  b: number,
): void {
  rt.dispatch({
    pipeline: rt.pipeline("random", { distribution }, () => randomSource(distribution)),
    uniforms: new Uniforms().u32(out.size, ...philoxKey(seed, stream)).f32(a, b),
    bindings: [out.buffer],
    workgroups: flatGrid(Math.ceil(out.size / 4)),
  });
}

/**
 * out = x ⊙ mask / (1 − p) with mask[i] = (uniform(seed, stream, i) ≥ p). Running it on the output
 * gradient with the same (p, seed, stream) gives the input gradient.
 */
export function dropoutMask(
  rt: Runtime,
  out: TensorRef,
  x: TensorRef,
  dropProbability: number,
  seed: number,
  stream: number,
): void {
  if (!(dropProbability >= 0 && dropProbability < 1)) {
    throw new RangeError(`dropout probability must be in [0, 1), got ${dropProbability}`);
  }
  expectShape(out.shape, x.shape, "dropout output");
  rt.dispatch({
    pipeline: rt.pipeline("dropout", {}, dropoutSource),
    uniforms: new Uniforms().u32(x.size, ...philoxKey(seed, stream)).f32(
      dropProbability,
      1 / (1 - dropProbability),
    ),
    bindings: [out.buffer, x.buffer],
    workgroups: flatGrid(Math.ceil(x.size / 4)),
  });
}
