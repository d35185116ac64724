/**
 * WGSL for the glue of single-head self-attention over H·W tokens: packing matrices into textures
 * for the products in `attention_gemm.wgsl.ts`, the max-subtracted row softmax, and the row dot
 * product D = rowsum(dO ∘ O) of the softmax backward.
 * @module
 */
import { wgsl } from "./wgsl.ts";

/** Rows (one per invocation) per workgroup of the softmax. */
export const SOFTMAX_WORKGROUP = 64;

/** Side of the 2-D workgroup of the packing kernel. */
export const PACK_WORKGROUP_SIDE = 8;

/**
 * Packs a strided matrix per sample into texture rows: texel (x, z·sampleRows + y) =
 * src[srcBase + z·srcSampleStride + y·rowStride + (4x + e)·colStride] for e = 0..3, and zero for
 * columns ≥ cols and rows ≥ rows (the padding up to `sampleRows` and the last texel). Every texel
 * of the region is written, so pooled textures never leak stale values into a product.
 * Choosing (rowStride, colStride) = (L, 1) packs a [C, L] block as is, (1, L) packs its transpose.
 */
export function packSource(): string {
  return wgsl`
struct Params {
  rows: u32, cols: u32, width: u32, sampleRows: u32,
  srcBase: u32, srcSampleStride: u32, rowStride: u32, colStride: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var out: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
const SIDE: u32 = ${PACK_WORKGROUP_SIDE}u;

@compute @workgroup_size(SIDE, SIDE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let x = gid.x;
  let y = gid.y;
  if (x >= p.width || y >= p.sampleRows) { return; }
  var texel = vec4f(0.0);
  if (y < p.rows) {
    let row = p.srcBase + gid.z * p.srcSampleStride + y * p.rowStride;
    for (var e = 0u; e < 4u; e++) {
      let col = 4u * x + e;
      if (col < p.cols) { texel[e] = src[row + col * p.colStride]; }
    }
  }
  textureStore(out, vec2u(x, gid.z * p.sampleRows + y), texel);
}
`;
}

/**
 * P = softmax over each row of S (columns < cols), max-subtracted, one invocation per row: three
 * sweeps over the row's texels (max, sum, write), no workgroup memory and no barriers. (A
 * workgroup per row with tree reductions took 25 ms at L = 1024 on lavapipe, where every barrier
 * is expensive; this takes a fraction of that.) Texture reads are cheap; the exponential is
 * evaluated in the sum and write sweeps only. P goes to a texture (for P·V) and to a buffer (saved
 * for the backward); padding rows (row ≥ rows) are written as zero texels so later products may
 * read them.
 */
export function softmaxSource(): string {
  return wgsl`
struct Params { rows: u32, cols: u32, width: u32, sampleRows: u32, probsBase: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var probsTexture: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var scores: texture_2d<f32>;
const WG: u32 = ${SOFTMAX_WORKGROUP}u;

// The row's valid columns within texel x, as a mask (the last texel may be partial).
fn validLanes(x: u32) -> vec4<bool> {
  return vec4u(4u * x) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.cols);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  let sample = gid.y;
  if (row >= p.sampleRows) { return; }
  let y = sample * p.sampleRows + row;
  if (row >= p.rows) {
    for (var x = 0u; x < p.width; x++) { textureStore(probsTexture, vec2u(x, y), vec4f(0.0)); }
    return;
  }
  var rowMax = vec4f(-3.0e38);
  for (var x = 0u; x < p.width; x++) {
    rowMax = max(rowMax, select(vec4f(-3.0e38), textureLoad(scores, vec2u(x, y), 0), validLanes(x)));
  }
  let m = max(max(rowMax.x, rowMax.y), max(rowMax.z, rowMax.w));
  var total = vec4f(0.0);
  for (var x = 0u; x < p.width; x++) {
    total += select(vec4f(0.0), exp(textureLoad(scores, vec2u(x, y), 0) - m), validLanes(x));
  }
  let inverse = 1.0 / dot(total, vec4f(1.0));
  let rowStart = p.probsBase + (sample * p.rows + row) * p.cols;
  for (var x = 0u; x < p.width; x++) {
    let valid = validLanes(x);
    let prob = select(vec4f(0.0), exp(textureLoad(scores, vec2u(x, y), 0) - m) * inverse, valid);
    textureStore(probsTexture, vec2u(x, y), prob);
    for (var e = 0u; e < 4u; e++) {
      if (valid[e]) { probs[rowStart + 4u * x + e] = prob[e]; }
    }
  }
}
`;
}

/** D[n, i] = Σ_c dO[n, c, i]·O[n, c, i] over [N, C, L] tensors, one thread per (n, i). */
export function rowDotSource(): string {
  return wgsl`
struct Params { size: u32, tokens: u32, channels: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> rowDot: array<f32>;
@group(0) @binding(2) var<storage, read> gradOut: array<f32>;
@group(0) @binding(3) var<storage, read> out: array<f32>;
const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= p.size) { return; }
  let sample = t / p.tokens;
  let token = t - sample * p.tokens;
  let base = sample * p.channels * p.tokens + token;
  var acc = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    acc = fma(gradOut[base + c * p.tokens], out[base + c * p.tokens], acc);
  }
  rowDot[t] = acc;
}
`;
}
