/**
 * Dispatchers for global gradient-norm clipping (`grad_norm.wgsl.ts`), entirely on the device.
 * @module
 */
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import {
  NORM_WORKGROUP,
  normFinalizeSource,
  scaleByDeviceFactorSource,
  sumSquaresSource,
} from "./grad_norm.wgsl.ts";
import type { TensorRef } from "./shape_math.ts";
import { flatGrid } from "./wgsl.ts";

/** Floats one workgroup sums in the partial pass (16 per thread keeps the partials list short). */
const CHUNK = NORM_WORKGROUP * 16;

/** Partial-sum slots that {@link sumSquares} writes for a tensor of `size` elements. */
export function partialSlots(size: number): number {
  return Math.ceil(size / CHUNK);
}

/** partials[offset …] = per-chunk Σ x² of `x` ({@link partialSlots} entries). */
export function sumSquares(rt: Runtime, partials: TensorRef, offset: number, x: TensorRef): void {
  rt.dispatch({
    pipeline: rt.pipeline("sum-squares", {}, sumSquaresSource),
    uniforms: new Uniforms().u32(x.size, CHUNK, offset),
    bindings: [partials.buffer, x.buffer],
    workgroups: [partialSlots(x.size)],
  });
}

/** norm[0] = √Σ partials[0..count); factor[0] = min(1, maxNorm / (norm + 1e-6)). */
export function finalizeNorm(
  rt: Runtime,
  norm: TensorRef,
  factor: TensorRef,
  partials: TensorRef,
  count: number,
  maxNorm: number,
): void {
  rt.dispatch({
    pipeline: rt.pipeline("norm-finalize", {}, normFinalizeSource),
    uniforms: new Uniforms().u32(count).f32(maxNorm),
    bindings: [norm.buffer, factor.buffer, partials.buffer],
    workgroups: [1],
  });
}

/** x ← x·factor[0] in place. */
export function scaleByDeviceFactor(rt: Runtime, x: TensorRef, factor: TensorRef): void {
  rt.dispatch({
    pipeline: rt.pipeline("scale-by-device-factor", {}, scaleByDeviceFactorSource),
    uniforms: new Uniforms().u32(x.size),
    bindings: [x.buffer, factor.buffer],
    workgroups: flatGrid(x.size),
  });
}
