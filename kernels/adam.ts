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
import { adamSource, emaUpdateSource, finiteGuardSource, swapSource } from "./adam.wgsl.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
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

/** Device-side extras fused into an Adam step. */
export interface AdamFusion {
  /** Guard state from {@link finiteGuard}: the update is skipped when its first element is 0. */
  guard?: TensorRef | null;
  /** One-element gradient multiplier (the clip factor of global-norm clipping). */
  gradScale?: TensorRef | null;
  /** EMA shadow of this parameter, updated from the new value. */
  emaShadow?: TensorRef | null;
  /** EMA decay (with `emaShadow`). */
  emaDecay?: number;
}

/**
 * Updates `param`, `m` and `v` in place from `grad`, all of the same shape, with optional clipping,
 * non-finite guard and EMA fused into the same pass.
 */
export function adamStep(
  rt: Runtime,
  param: TensorRef,
  m: TensorRef,
  v: TensorRef,
  grad: TensorRef,
  hp: AdamStepParams,
  fusion: AdamFusion = {},
): void {
  expectShape(grad.shape, param.shape, "Adam gradient");
  expectShape(m.shape, param.shape, "Adam first moment");
  expectShape(v.shape, param.shape, "Adam second moment");
  if (fusion.emaShadow) expectShape(fusion.emaShadow.shape, param.shape, "EMA shadow");
  const variant = { guarded: !!fusion.guard, scaled: !!fusion.gradScale, ema: !!fusion.emaShadow };
  const correction1 = 1 - hp.beta1 ** hp.step;
  const correction2 = 1 - hp.beta2 ** hp.step;
  const extras = [fusion.guard, fusion.gradScale, fusion.emaShadow].flatMap((t) => (t ? [t.buffer] : []));
  rt.dispatch({
    pipeline: rt.pipeline("adam", { ...variant }, () => adamSource(variant)),
    uniforms: new Uniforms().u32(param.size).f32(
      hp.lr / correction1,
      1 / Math.sqrt(correction2),
      hp.beta1,
      hp.beta2,
      hp.eps,
      1 - hp.lr * hp.weightDecay,
      1 - (fusion.emaDecay ?? 1),
    ),
    bindings: [param.buffer, m.buffer, v.buffer, grad.buffer, ...extras],
    workgroups: flatGrid(param.size),
  });
}

/** shadow ← decay·shadow + (1 − decay)·param, skipped when a `guard` says the step was not finite. */
export function emaUpdate(
  rt: Runtime,
  shadow: TensorRef,
  param: TensorRef,
  decay: number,
  guard: TensorRef | null = null,
): void {
  expectShape(shadow.shape, param.shape, "EMA shadow");
  rt.dispatch({
    pipeline: rt.pipeline("ema-update", { guarded: guard !== null }, () => emaUpdateSource(guard !== null)),
    uniforms: new Uniforms().u32(param.size).f32(1 - decay),
    bindings: guard ? [shadow.buffer, param.buffer, guard.buffer] : [shadow.buffer, param.buffer],
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

/**
 * Updates the guard state [apply, consecutive skipped, total skipped] from a one-element loss: the
 * optimizer and EMA read `apply` and skip non-finite steps without a readback.
 */
export function finiteGuard(rt: Runtime, state: TensorRef, loss: TensorRef): void {
  expectShape([state.size], [3], "non-finite guard state");
  expectShape([loss.size], [1], "guarded loss");
  rt.dispatch({
    pipeline: rt.pipeline("finite-guard", {}, finiteGuardSource),
    uniforms: new Uniforms().u32(0),
    bindings: [state.buffer, loss.buffer],
    workgroups: [1],
  });
}
