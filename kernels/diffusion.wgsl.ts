/**
 * Fused diffusion math: building the network input from a clean image (q_sample, SR3 eq. 2 with a
 * continuous noise level), the ε-prediction loss and its gradient, and one update kernel that every
 * sampler (DDPM, DDIM, DPM-Solver++) expresses through per-step coefficients.
 * @module
 */
import { flatMain, wgsl } from "./wgsl.ts";

/**
 * out[n] = concat(condition[n], γ_n·x0[n] + √(1 − γ_n²)·ε[n]) over channels: the UNet input for
 * training, written in one pass (no separate q_sample and concat).
 */
export function noisyInputSource(): string {
  return wgsl`
struct Params { size: u32, bands: u32, pixels: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> condition: array<f32>;
@group(0) @binding(3) var<storage, read> x0: array<f32>;
@group(0) @binding(4) var<storage, read> noise: array<f32>;
@group(0) @binding(5) var<storage, read> levels: array<f32>;
${flatMain()}
  // i indexes the output [N, 2·bands, H, W].
  let perSample = 2u * p.bands * p.pixels;
  let n = i / perSample;
  let rest = i % perSample;
  let channel = rest / p.pixels;
  let pixel = rest % p.pixels;
  if (channel < p.bands) {
    out[i] = condition[(n * p.bands + channel) * p.pixels + pixel];
  } else {
    let src = (n * p.bands + channel - p.bands) * p.pixels + pixel;
    let gamma = levels[n];
    out[i] = gamma * x0[src] + sqrt(max(1.0 - gamma * gamma, 0.0)) * noise[src];
  }
}
`;
}

/**
 * Per-element masked loss of ε̂ against ε and its gradient:
 * L1: loss = m·|ε̂ − ε|, grad = m·sign(ε̂ − ε)·scale; L2: loss = m·(ε̂ − ε)², grad = 2m·(ε̂ − ε)·scale,
 * with scale = 1/(number of valid elements) so Σ loss·scale is the masked mean.
 */
export function noiseLossSource(kind: "l1" | "l2", masked: boolean): string {
  return wgsl`
struct Params { size: u32, scale: f32, bands: u32, pixels: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read> predicted: array<f32>;
@group(0) @binding(4) var<storage, read> expected: array<f32>;
#if ${masked}
@group(0) @binding(5) var<storage, read> mask: array<f32>;
#endif
${flatMain()}
  let diff = predicted[i] - expected[i];
#if ${masked}
  // The mask is [N, 1, H, W]: one value per pixel shared by every band.
  let n = i / (p.bands * p.pixels);
  let weight = mask[n * p.pixels + i % p.pixels];
#else
  let weight = 1.0;
#endif
#if ${kind === "l1"}
  loss[i] = weight * abs(diff);
  grad[i] = weight * sign(diff) * p.scale;
#else
  loss[i] = weight * diff * diff;
  grad[i] = 2.0 * weight * diff * p.scale;
#endif
}
`;
}

/**
 * One sampler update. With γ = √ᾱ_t (s0) and σ_t = √(1 − ᾱ_t) (s1):
 *   x̂0 = (x − s1·ε̂)/s0, optionally clipped to [−1, 1]; ε' = (x − s0·x̂0)/s1 (ε re-derived from the
 *   clipped x̂0, DDIM §4.1 practice);
 *   x_next = a·x̂0 + b·ε' + c·z + d·x̂0_prev + e·x.
 * DDPM, DDIM and DPM-Solver++(2M) are all of this form with coefficients computed on the CPU in
 * float64 (see diffusion/samplers/). x̂0 is written out too (intermediate images, multistep history).
 */
export function samplerUpdateSource(clip: boolean): string {
  return wgsl`
struct Params { size: u32, s0: f32, s1: f32, a: f32, b: f32, c: f32, d: f32, e: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> next: array<f32>;
@group(0) @binding(2) var<storage, read_write> x0Out: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> epsilon: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> x0Prev: array<f32>;
${flatMain()}
  let xi = x[i];
  var x0 = (xi - p.s1 * epsilon[i]) / p.s0;
#if ${clip}
  x0 = clamp(x0, -1.0, 1.0);
#endif
  // s1 = 0 only at the data end of a schedule, where ε' is not used (b = 0).
  let eps = select(0.0, (xi - p.s0 * x0) / p.s1, p.s1 > 0.0);
  next[i] = p.a * x0 + p.b * eps + p.c * z[i] + p.d * x0Prev[i] + p.e * xi;
  x0Out[i] = x0;
}
`;
}
