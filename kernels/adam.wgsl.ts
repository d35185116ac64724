/**
 * WGSL for the optimizer's elementwise updates: a fused Adam/AdamW step, and the exponential moving
 * average (and swap) of weights.
 * @module
 */
import { flatMain, wgsl } from "./wgsl.ts";

/** Compile-time options of the fused Adam kernel. */
export interface AdamVariant {
  /** Skip the update when a one-element flag (from `finiteGuardSource`) is 0. */
  guarded: boolean;
  /** Multiply the gradient by a one-element factor from device memory (global-norm clipping). */
  scaled: boolean;
  /** Also fold the new parameter into an EMA shadow (saves a separate pass over the weights). */
  ema: boolean;
}

/**
 * One Adam step on one parameter tensor, reading each of p, g, m, v once and writing p, m, v
 * (Kingma & Ba 2015, Alg. 1, in PyTorch's arrangement; decoupled weight decay as in Loshchilov &
 * Hutter's AdamW):
 *   g ← g·clip;  p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε);  shadow ← shadow + (1 − decay)·(p − shadow)
 * The bias corrections are computed on the host in float64 and arrive as uniforms. Clipping, the
 * non-finite guard and the EMA are fused in because on memory-bound adapters every extra pass over
 * the weights costs as much as the update itself.
 */
export function adamSource(variant: AdamVariant): string {
  const { guarded, scaled, ema } = variant;
  return wgsl`
struct Params {
  size: u32,
  stepSize: f32,        // lr / (1 − β1ᵗ)
  rootCorrection2: f32, // 1 / √(1 − β2ᵗ)
  beta1: f32,
  beta2: f32,
  eps: f32,
  decayFactor: f32,     // 1 − lr·weightDecay
  emaRate: f32,         // 1 − EMA decay
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
#if ${guarded}
@group(0) @binding(5) var<storage, read> guard: array<f32>;
#endif
#if ${scaled}
@group(0) @binding(${guarded ? 6 : 5}) var<storage, read> gradScale: array<f32>;
#endif
#if ${ema}
@group(0) @binding(${5 + Number(guarded) + Number(scaled)}) var<storage, read_write> shadow: array<f32>;
#endif
${flatMain()}
#if ${guarded}
  if (guard[0] == 0.0) { return; }
#endif
#if ${scaled}
  let g = grad[i] * gradScale[0];
#else
  let g = grad[i];
#endif
  let mNew = fma(p.beta1, m[i], (1.0 - p.beta1) * g);
  let vNew = fma(p.beta2, v[i], (1.0 - p.beta2) * g * g);
  m[i] = mNew;
  v[i] = vNew;
  let updated = param[i] * p.decayFactor - p.stepSize * mNew / (sqrt(vNew) * p.rootCorrection2 + p.eps);
  param[i] = updated;
#if ${ema}
  let s = shadow[i];
  shadow[i] = fma(p.emaRate, updated - s, s);
#endif
}
`;
}

/** shadow ← shadow + (1 − decay)·(param − shadow), the EMA update as one lerp per element (guarded as Adam). */
export function emaUpdateSource(guarded: boolean): string {
  return wgsl`
struct Params { size: u32, rate: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> shadow: array<f32>;
@group(0) @binding(2) var<storage, read> param: array<f32>;
#if ${guarded}
@group(0) @binding(3) var<storage, read> guard: array<f32>;
#endif
${flatMain()}
#if ${guarded}
  if (guard[0] == 0.0) { return; }
#endif
  let s = shadow[i];
  shadow[i] = fma(p.rate, param[i] - s, s);
}
`;
}

/** Exchanges a[i] and b[i] in place (swapping EMA weights in for sampling and back out). */
export function swapSource(): string {
  return wgsl`
struct Params { size: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
${flatMain()}
  let t = a[i];
  a[i] = b[i];
  b[i] = t;
}
`;
}

/**
 * The non-finite guard of a training step: state = [apply, consecutive skipped, total skipped].
 * A finite loss sets apply = 1 and resets the run of skips; NaN or ±Inf sets apply = 0 and counts it.
 * One invocation; it lets Adam and the EMA skip a bad step without reading the loss back.
 */
export function finiteGuardSource(): string {
  return wgsl`
struct Params { lossIndex: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read> loss: array<f32>;

@compute @workgroup_size(1)
fn main() {
  let value = loss[p.lossIndex];
  // NaN fails every comparison; ±Inf fails the bound.
  let finite = value == value && abs(value) <= 3.4028234e38;
  if (finite) {
    state[0] = 1.0;
    state[1] = 0.0;
  } else {
    state[0] = 0.0;
    state[1] = state[1] + 1.0;
    state[2] = state[2] + 1.0;
  }
}
`;
}
