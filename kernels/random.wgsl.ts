/**
 * WGSL for counter-based random numbers: Philox-4x32-10 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011). Element i of a tensor draws word i mod 4 of the block
 * philox(counter = (⌊i/4⌋, stream, 0, 0), key = (seed mod 2³², ⌊seed/2³²⌋)), so a (seed, stream)
 * pair names one fixed sequence: the integers are identical on every adapter, any element can be
 * recomputed without the others (dropout's backward regenerates its mask instead of storing it),
 * and different streams are independent.
 * @module
 */
import { FLAT_WORKGROUP, wgsl } from "./wgsl.ts";

/** Which numbers a random kernel writes. */
export type RandomDistribution = "uniform" | "normal";

/**
 * WGSL has no 32×32→64-bit multiply: the high word is assembled from 16-bit partial products, the
 * low word is the wrapping product.
 */
const philox = `
fn mulHi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu;
  let aHi = a >> 16u;
  let bLo = b & 0xffffu;
  let bHi = b >> 16u;
  let cross1 = aLo * bHi;
  let cross2 = aHi * bLo;
  let middle = ((aLo * bLo) >> 16u) + (cross1 & 0xffffu) + (cross2 & 0xffffu);
  return aHi * bHi + (cross1 >> 16u) + (cross2 >> 16u) + (middle >> 16u);
}

// Ten rounds of Philox-4x32 with the Random123 multipliers and Weyl key increments.
fn philox4x32(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let hi0 = mulHi(0xD2511F53u, c.x);
    let lo0 = 0xD2511F53u * c.x;
    let hi1 = mulHi(0xCD9E8D57u, c.z);
    let lo1 = 0xCD9E8D57u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k += vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// The top 24 bits as a float in [0, 1): exact, so uniforms are bit-identical on every adapter.
fn unitFloat(word: u32) -> f32 {
  return f32(word >> 8u) * (1.0 / 16777216.0);
}
`;

/**
 * out[i] = low + (high − low)·U[0,1) or mean + std·N(0,1), one Philox block (4 outputs) per thread.
 * Normals come from Box–Muller on word pairs (0,1) and (2,3): r = √(−2 ln u), u ∈ (0, 1], and
 * θ = π(2v − 1) ∈ [−π, π), where GPU sin/cos are most accurate.
 */
export function randomSource(distribution: RandomDistribution): string {
  return wgsl`
struct Params { size: u32, stream: u32, keyLo: u32, keyHi: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;
const PI: f32 = 3.14159265358979;
${philox}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let block = gid.x + gid.y * groups.x * WG;
  let first = 4u * block;
  if (first >= p.size) { return; }
  let words = philox4x32(vec4u(block, p.stream, 0u, 0u), vec2u(p.keyLo, p.keyHi));
  var values: vec4f;
#if ${distribution === "uniform"}
  values = vec4f(unitFloat(words.x), unitFloat(words.y), unitFloat(words.z), unitFloat(words.w));
  values = p.a + (p.b - p.a) * values;
#else
  let radius = sqrt(-2.0 * log(vec2f(unitFloat(words.x), unitFloat(words.z)) + 1.0 / 16777216.0));
  let angle = PI * (2.0 * vec2f(unitFloat(words.y), unitFloat(words.w)) - 1.0);
  values = vec4f(radius.x * cos(angle.x), radius.x * sin(angle.x), radius.y * cos(angle.y), radius.y * sin(angle.y));
  values = p.a + p.b * values;
#endif
  for (var lane = 0u; lane < 4u && first + lane < p.size; lane++) {
    out[first + lane] = values[lane];
  }
}
`;
}

/**
 * Inverted dropout: out[i] = x[i]·scale where element i's uniform is ≥ p, else 0. The mask is a
 * pure function of (seed, stream, i), so the backward runs this same kernel on the gradient.
 */
export function dropoutSource(): string {
  return wgsl`
struct Params { size: u32, stream: u32, keyLo: u32, keyHi: u32, dropProbability: f32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
const WG: u32 = ${FLAT_WORKGROUP}u;
${philox}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let block = gid.x + gid.y * groups.x * WG;
  let first = 4u * block;
  if (first >= p.size) { return; }
  let words = philox4x32(vec4u(block, p.stream, 0u, 0u), vec2u(p.keyLo, p.keyHi));
  for (var lane = 0u; lane < 4u && first + lane < p.size; lane++) {
    let keep = unitFloat(words[lane]) >= p.dropProbability;
    out[first + lane] = select(0.0, x[first + lane] * p.scale, keep);
  }
}
`;
}
