/**
 * Dispatchers for the fused diffusion kernels (`diffusion.wgsl.ts`).
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import { type Runtime, Uniforms } from "./runtime.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { noiseLossSource, noisyInputSource, samplerUpdateSource } from "./diffusion.wgsl.ts";
import { flatGrid } from "./wgsl.ts";

function imageDims(t: TensorRef, what: string): [number, number, number] {
  if (t.shape.length !== 4) throw new ShapeError(`${what}: expected NCHW, got ${formatShape(t.shape)}`);
  const [n, c, h, w] = t.shape as [number, number, number, number];
  return [n, c, h * w];
}

/** out = concat(condition, γ·x0 + √(1−γ²)·noise) along channels; levels holds γ per sample. */
export function noisyInput(
  rt: Runtime,
  out: TensorRef,
  condition: TensorRef,
  x0: TensorRef,
  noise: TensorRef,
  levels: TensorRef,
): void {
  const [n, bands, pixels] = imageDims(x0, "noisy input x0");
  expectShape(condition.shape, x0.shape, "noisy input condition");
  expectShape(noise.shape, x0.shape, "noisy input noise");
  expectShape([levels.size], [n], "noise levels");
  expectShape(out.shape, [n, 2 * bands, x0.shape[2]!, x0.shape[3]!], "noisy input output");
  rt.dispatch({
    pipeline: rt.pipeline("noisy-input", {}, noisyInputSource),
    uniforms: new Uniforms().u32(out.size, bands, pixels),
    bindings: [out.buffer, condition.buffer, x0.buffer, noise.buffer, levels.buffer],
    workgroups: flatGrid(out.size),
  });
}

/**
 * Per-element loss and gradient of predicted ε̂ vs target ε, `scale` = 1/(valid element count);
 * `mask` [N, 1, H, W] (1 valid, 0 nodata) or null.
 */
export function noiseLoss(
  rt: Runtime,
  kind: "l1" | "l2",
  loss: TensorRef,
  grad: TensorRef,
  predicted: TensorRef,
  target: TensorRef,
  mask: TensorRef | null,
  scale: number,
): void {
  const [n, bands, pixels] = imageDims(target, "loss target");
  for (const [t, what] of [[predicted, "prediction"], [loss, "loss"], [grad, "loss gradient"]] as const) {
    expectShape(t.shape, target.shape, what);
  }
  if (mask) expectShape(mask.shape, [n, 1, target.shape[2]!, target.shape[3]!], "loss mask");
  const masked = mask !== null;
  rt.dispatch({
    pipeline: rt.pipeline("noise-loss", { kind, masked }, () => noiseLossSource(kind, masked)),
    uniforms: new Uniforms().u32(target.size).f32(scale).u32(bands, pixels),
    bindings: mask
      ? [loss.buffer, grad.buffer, predicted.buffer, target.buffer, mask.buffer]
      : [loss.buffer, grad.buffer, predicted.buffer, target.buffer],
    workgroups: flatGrid(target.size),
  });
}

/** Coefficients of one sampler update (see `samplerUpdateSource`). */
export interface UpdateCoefficients {
  /** √ᾱ_t of the current point. */
  s0: number;
  /** √(1 − ᾱ_t) of the current point. */
  s1: number;
  /** Weight of x̂0. */
  a: number;
  /** Weight of ε re-derived from the clipped x̂0. */
  b: number;
  /** Weight of fresh noise z. */
  c: number;
  /** Weight of the previous step's x̂0 (multistep solvers). */
  d: number;
  /** Weight of the current x. */
  e: number;
}

/**
 * next = a·x̂0 + b·ε' + c·z + d·x̂0_prev + e·x and x0Out = x̂0. Read-only operands may alias each other
 * (pass `epsilon` as `z` when c = 0, `x` as `x0Prev` when d = 0); the two outputs must be distinct buffers.
 */
export function samplerUpdate(
  rt: Runtime,
  next: TensorRef,
  x0Out: TensorRef,
  x: TensorRef,
  epsilon: TensorRef,
  z: TensorRef,
  x0Prev: TensorRef,
  k: UpdateCoefficients,
  clip: boolean,
): void {
  for (
    const [t, what] of [[next, "next"], [x0Out, "x0"], [epsilon, "ε̂"], [z, "noise"], [
      x0Prev,
      "previous x0",
    ]] as const
  ) {
    expectShape(t.shape, x.shape, `sampler update ${what}`);
  }
  rt.dispatch({
    pipeline: rt.pipeline("sampler-update", { clip }, () => samplerUpdateSource(clip)),
    uniforms: new Uniforms().u32(x.size).f32(k.s0, k.s1, k.a, k.b, k.c, k.d, k.e),
    bindings: [next.buffer, x0Out.buffer, x.buffer, epsilon.buffer, z.buffer, x0Prev.buffer],
    workgroups: flatGrid(x.size),
  });
}
