/**
 * Dispatchers for the optimizer kernels in `adam.wgsl.ts`: the fused Adam/AdamW step and the
 * weight EMA. One dispatch per parameter tensor: parameters are separate persistent buffers, and a
 * packed single dispatch would need one binding per tensor (WebGPU guarantees only 8 storage
 * buffers per stage) or a copy into and out of a packed arena, which costs more than the
 * per-dispatch overhead it saves.
 * @module
 */
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { adamSource, emaUpdateSource, swapSource } from "./adam.wgsl.ts";
import { expectShape, type TensorRef } from "./shapes.ts";
import { flatGrid } from "./wgsl.ts";

/** Hyper-parameters of one Adam step, with the step's bias corrections. */
export interface AdamStepParams {
  /** Learning rate. */
  lr: number;
  /** First-moment decay β1. */
  beta1: number;
  /** Second-moment decay β2. */
  beta2: number;
  /** Denominator term ε. */
  eps: number;
  /** Decoupled weight decay (AdamW); 0 for plain Adam. */
  weightDecay: number;
  /** The 1-based step number t (bias corrections 1 − βᵗ). */
  step: number;
}

/** Updates `param`, `m` and `v` in place from `grad`, all of the same shape. */
export function adamStep(
  rt: Runtime,
  param: TensorRef,
  m: TensorRef,
  v: TensorRef,
  grad: TensorRef,
  hp: AdamStepParams,
): void {
  expectShape(grad.shape, param.shape, "Adam gradient");
  expectShape(m.shape, param.shape, "Adam first moment");
  expectShape(v.shape, param.shape, "Adam second moment");
  const correction1 = 1 - hp.beta1 ** hp.step;
  const correction2 = 1 - hp.beta2 ** hp.step;
  rt.dispatch({
    pipeline: rt.pipeline("adam", {}, adamSource),
    uniforms: new Uniforms().u32(param.size).f32(
      hp.lr / correction1,
      1 / Math.sqrt(correction2),
      hp.beta1,
      hp.beta2,
      hp.eps,
      1 - hp.lr * hp.weightDecay,
    ),
    bindings: [param.buffer, m.buffer, v.buffer, grad.buffer],
    workgroups: flatGrid(param.size),
  });
}

/** shadow ← decay·shadow + (1 − decay)·param. */
export function emaUpdate(rt: Runtime, shadow: TensorRef, param: TensorRef, decay: number): void {
  expectShape(shadow.shape, param.shape, "EMA shadow");
  rt.dispatch({
    pipeline: rt.pipeline("ema-update", {}, emaUpdateSource),
    uniforms: new Uniforms().u32(param.size).f32(1 - decay),
    bindings: [shadow.buffer, param.buffer],
    workgroups: flatGrid(param.size),
  });
}

/** Exchanges the contents of two same-shaped tensors. */
export function swapContents(rt: Runtime, a: TensorRef, b: TensorRef): void {
  expectShape(b.shape, a.shape, "swap");
  rt.dispatch({
    pipeline: rt.pipeline("swap", {}, swapSource),
    uniforms: new Uniforms().u32(a.size),
    bindings: [a.buffer, b.buffer],
    workgroups: flatGrid(a.size),
  });
}
