/**
 * Dispatchers for the sinusoidal noise-level encoding (`encoding.wgsl.ts`).
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { noiseLevelEncodingGradSource, noiseLevelEncodingSource } from "./encoding.wgsl.ts";
import type { TensorRef } from "./shape_math.ts";
import { flatGrid } from "./wgsl.ts";

/** The number of samples in `levels` ([N] or [N, 1]) and checks `dim` is even and positive. */
export function encodingSamples(levels: readonly number[], dim: number): number {
  if (!(levels.length === 1 || (levels.length === 2 && levels[1] === 1))) {
    throw new ShapeError(`noiseLevelEncoding: levels must be [N] or [N, 1], got ${formatShape(levels)}`);
  }
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) {
    throw new ShapeError(`noiseLevelEncoding: dim must be a positive even integer, got ${dim}`);
  }
  return levels[0]!;
}

/** out [N, dim] = the encoding of `levels` [N] or [N, 1]. */
export function noiseLevelEncoding(rt: Runtime, out: TensorRef, levels: TensorRef, dim: number): void {
  const samples = encodingSamples(levels.shape, dim);
  if (out.size !== samples * dim) {
    throw new ShapeError(
      `noiseLevelEncoding output: expected [${samples}, ${dim}], got ${formatShape(out.shape)}`,
    );
  }
  rt.dispatch({
    pipeline: rt.pipeline("noise-level-encoding", {}, noiseLevelEncodingSource),
    uniforms: new Uniforms().u32(samples * dim, dim / 2),
    bindings: [out.buffer, levels.buffer],
    workgroups: flatGrid(samples * dim),
  });
}

/** gradLevels (shaped like levels) = the gradient of the encoding given gradOut [N, dim]. */
export function noiseLevelEncodingGrad(
  rt: Runtime,
  gradLevels: TensorRef,
  gradOut: TensorRef,
  levels: TensorRef,
  dim: number,
): void {
  const samples = encodingSamples(levels.shape, dim);
  rt.dispatch({
    pipeline: rt.pipeline("noise-level-encoding-grad", {}, noiseLevelEncodingGradSource),
    uniforms: new Uniforms().u32(samples, dim / 2),
    bindings: [gradLevels.buffer, gradOut.buffer, levels.buffer],
    workgroups: [Math.ceil(samples / 64)],
  });
}
