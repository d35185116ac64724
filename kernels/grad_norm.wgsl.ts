/**
 * WGSL for global gradient-norm clipping without a readback: per-tensor partial sums of squares,
 * one finalising workgroup that writes the norm and the clip factor, and an in-place rescale that
 * reads the factor from device memory. Every sum runs in a fixed order, so results are deterministic.
 * @module
 */
import { flatMain, wgsl } from "./wgsl.ts";

/** Threads per workgroup of the partial and final sums. */
export const NORM_WORKGROUP = 256;

/**
 * partials[offset + w] = Σ x² over chunk w of x (`chunk` floats each), one workgroup per chunk.
 */
export function sumSquaresSource(): string {
  return wgsl`
struct Params { size: u32, chunk: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
const WG: u32 = ${NORM_WORKGROUP}u;
var<workgroup> scratch: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let start = wid.x * p.chunk;
  let end = min(start + p.chunk, p.size);
  var acc = 0.0;
  for (var i = start + lane; i < end; i += WG) {
    let v = x[i];
    acc = fma(v, v, acc);
  }
  scratch[lane] = acc;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step = step / 2u) {
    if (lane < step) { scratch[lane] += scratch[lane + step]; }
    workgroupBarrier();
  }
  if (lane == 0u) { partials[p.offset + wid.x] = scratch[0]; }
}
`;
}

/**
 * norm = √(Σ partials); factor = min(1, maxNorm / (norm + 1e-6)) as in
 * `torch.nn.utils.clip_grad_norm_`. One workgroup.
 */
export function normFinalizeSource(): string {
  return wgsl`
struct Params { count: u32, maxNorm: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> norm: array<f32>;
@group(0) @binding(2) var<storage, read_write> factor: array<f32>;
@group(0) @binding(3) var<storage, read> partials: array<f32>;
const WG: u32 = ${NORM_WORKGROUP}u;
var<workgroup> scratch: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32) {
  var acc = 0.0;
  for (var i = lane; i < p.count; i += WG) { acc += partials[i]; }
  scratch[lane] = acc;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step = step / 2u) {
    if (lane < step) { scratch[lane] += scratch[lane + step]; }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let total = sqrt(scratch[0]);
    norm[0] = total;
    factor[0] = min(1.0, p.maxNorm / (total + 1e-6));
  }
}
`;
}

/** x[i] ← x[i]·factor[0], the factor read from device memory (never from the host). */
export function scaleByDeviceFactorSource(): string {
  return wgsl`
struct Params { size: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> factor: array<f32>;
${flatMain()}
  x[i] = x[i] * factor[0];
}
`;
}
