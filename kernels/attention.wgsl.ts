/**
 * WGSL for the glue of single-head self-attention over H·W tokens: packing matrices into textures
 * for the products in `attention_gemm.wgsl.ts`, the max-subtracted row softmax, and the row dot
 * product D = rowsum(dO ∘ O) of the softmax backward.
 * @module
 */
import { wgsl } from "./wgsl.ts";

/** Threads per row of the softmax. */
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
 * P = softmax over each row of S (columns < cols), max-subtracted, one workgroup per (row, sample).
 * Reads S from a texture three times (max, sum, write: texture reads are cheap, exponentials are
 * computed once per pass) and writes P to a texture (for P·V) and to a buffer (saved for the
 * backward). Padding rows (row ≥ rows) are written as zeros so later products may read them.
 */
export function softmaxSource(): string {
  return wgsl`
struct Params { rows: u32, cols: u32, width: u32, sampleRows: u32, probsBase: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var probsTexture: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var scores: texture_2d<f32>;
const WG: u32 = ${SOFTMAX_WORKGROUP}u;
const LOWEST: f32 = -3.0e38;
var<workgroup> scratch: array<f32, WG>;

// Tree reduction of scratch (max or sum); every lane returns the result.
fn reduce(lane: u32, isMax: bool) -> f32 {
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step = step / 2u) {
    if (lane < step) {
      let other = scratch[lane + step];
      scratch[lane] = select(scratch[lane] + other, max(scratch[lane], other), isMax);
    }
    workgroupBarrier();
  }
  let result = scratch[0];
  workgroupBarrier(); // nobody overwrites scratch before every lane has read the result
  return result;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let row = wid.x;
  let sample = wid.y;
  let y = sample * p.sampleRows + row;
  if (row >= p.rows) {
    for (var x = lane; x < p.width; x += WG) { textureStore(probsTexture, vec2u(x, y), vec4f(0.0)); }
    return;
  }
  var rowMax = LOWEST;
  for (var x = lane; x < p.width; x += WG) {
    let s = textureLoad(scores, vec2u(x, y), 0);
    for (var e = 0u; e < 4u; e++) {
      if (4u * x + e < p.cols) { rowMax = max(rowMax, s[e]); }
    }
  }
  scratch[lane] = rowMax;
  rowMax = reduce(lane, true);

  var total = 0.0;
  for (var x = lane; x < p.width; x += WG) {
    let s = textureLoad(scores, vec2u(x, y), 0);
    for (var e = 0u; e < 4u; e++) {
      if (4u * x + e < p.cols) { total += exp(s[e] - rowMax); }
    }
  }
  scratch[lane] = total;
  let inverse = 1.0 / reduce(lane, false);

  let rowStart = p.probsBase + (sample * p.rows + row) * p.cols;
  for (var x = lane; x < p.width; x += WG) {
    let s = textureLoad(scores, vec2u(x, y), 0);
    var prob = vec4f(0.0);
    for (var e = 0u; e < 4u; e++) {
      let col = 4u * x + e;
      if (col < p.cols) {
        prob[e] = exp(s[e] - rowMax) * inverse;
        probs[rowStart + col] = prob[e];
      }
    }
    textureStore(probsTexture, vec2u(x, y), prob);
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
