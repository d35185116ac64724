/**
 * WGSL for the sinusoidal noise-level encoding of the PyTorch SR3 reference (`PositionalEncoding`,
 * after WaveGrad): with count = dim/2 and f_k = exp(−ln(10⁴)·k/count),
 * out[n] = [sin(γ_n·f_0), …, sin(γ_n·f_{count−1}), cos(γ_n·f_0), …, cos(γ_n·f_{count−1})].
 * @module
 */
import { FLAT_WORKGROUP, wgsl } from "./wgsl.ts";

const frequency = `
const LN_1E4: f32 = 9.210340371976184;
fn frequency(k: u32) -> f32 {
  return exp(-LN_1E4 * (f32(k) / f32(p.count)));
}
`;

/** One thread per output element of [N, 2·count]. */
export function noiseLevelEncodingSource(): string {
  return wgsl`
struct Params { size: u32, count: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> levels: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;
${frequency}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= p.size) { return; }
  let sample = i / (2u * p.count);
  let column = i - sample * 2u * p.count;
  let isCos = column >= p.count;
  let angle = levels[sample] * frequency(select(column, column - p.count, isCos));
  out[i] = select(sin(angle), cos(angle), isCos);
}
`;
}

/**
 * ∂L/∂γ_n = Σ_k f_k·(g[n, k]·cos(γ_n f_k) − g[n, count + k]·sin(γ_n f_k)), one thread per sample.
 */
export function noiseLevelEncodingGradSource(): string {
  return wgsl`
struct Params { samples: u32, count: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gradLevels: array<f32>;
@group(0) @binding(2) var<storage, read> gradOut: array<f32>;
@group(0) @binding(3) var<storage, read> levels: array<f32>;
const WG: u32 = 64u;
${frequency}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let sample = gid.x;
  if (sample >= p.samples) { return; }
  let level = levels[sample];
  let row = sample * 2u * p.count;
  var acc = 0.0;
  for (var k = 0u; k < p.count; k++) {
    let f = frequency(k);
    let angle = level * f;
    acc += f * (gradOut[row + k] * cos(angle) - gradOut[row + p.count + k] * sin(angle));
  }
  gradLevels[sample] = acc;
}
`;
}
