/**
 * WGSL for no-grad self-attention with an online softmax (Milakov & Gimelshein 2018; Dao et al.,
 * FlashAttention, 2022): the L×L score matrix is never materialised, so sampling memory stays
 * O(L·C) at any resolution.
 *
 * One workgroup of 64 invocations owns BM query rows of one sample and sweeps the keys in blocks
 * of BN = 32:
 *  1. scores: the BM×BN block of scale·QᵀK, an 8×8 grid of invocations each computing a
 *     (BM/8)×4 register tile from textures, into workgroup memory;
 *  2. online softmax: one invocation per row raises the running max m, rescales the running sum
 *     l by exp(m_old − m_new) and turns the block into exp(s − m_new) in place;
 *  3. P·V: invocations arranged as RG row groups × CG channel groups rescale their output tile
 *     (TMO rows × 4·TC4 channels, in registers) and add the block's P·Vᵀ.
 * Output = accumulator / l. Operands come from textures packed along channels: texel (c/4, token)
 * holds channels c..c+3 of that token's q, k or v.
 * @module
 */
import { wgsl } from "./wgsl.ts";

/** Invocations per workgroup. */
export const FLASH_WORKGROUP = 64;

/** Keys per block. */
export const FLASH_KEY_BLOCK = 32;

/** How the output tile is split among invocations; chosen from C by `flashLayout` in attention.ts. */
export interface FlashLayout {
  /** Channel groups CG (a power of two ≤ 64); the 64 invocations form 64/CG row groups. */
  channelGroups: number;
  /** Channel texels per invocation TC4 (CG·4·TC4 ≥ C). */
  channelTexels: number;
  /** Output rows per invocation TMO; BM = (64/CG)·TMO query rows per workgroup, a multiple of 8. */
  rowsPerInvocation: number;
}

/** Query rows per workgroup for a layout. */
export function flashRowsPerWorkgroup(layout: FlashLayout): number {
  return (FLASH_WORKGROUP / layout.channelGroups) * layout.rowsPerInvocation;
}

/** Source of the online-softmax attention kernel for one layout. */
export function attentionFlashSource(layout: FlashLayout): string {
  const blockRows = flashRowsPerWorkgroup(layout);
  return wgsl`
struct Params {
  tokens: u32,          // L
  channels: u32,        // C
  channelTexels: u32,   // ⌈C/4⌉
  sampleRows: u32,      // texture rows per sample
  scale: f32,           // 1/√C
  outBase: u32,
  outSampleStride: u32, // C·L
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var queries: texture_2d<f32>;
@group(0) @binding(3) var keys: texture_2d<f32>;
@group(0) @binding(4) var values: texture_2d<f32>;

const WG: u32 = ${FLASH_WORKGROUP}u;
const BN: u32 = ${FLASH_KEY_BLOCK}u;
const BM: u32 = ${blockRows}u;
const TSM: u32 = BM / 8u;             // score rows per invocation (8×8 grid)
const CG: u32 = ${layout.channelGroups}u;
const TC4: u32 = ${layout.channelTexels}u;
const TMO: u32 = ${layout.rowsPerInvocation}u;
const LOWEST: f32 = -3.0e38;          // a finite −∞: exp(LOWEST − m) = 0 without inf − inf

var<workgroup> block: array<f32, BM * BN>;
var<workgroup> runningMax: array<f32, BM>;
var<workgroup> runningSum: array<f32, BM>;
var<workgroup> rescale: array<f32, BM>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let sample = wid.y;
  let query0 = wid.x * BM;
  let texRow0 = sample * p.sampleRows;
  let scoreRow = (lane / 8u) * TSM;     // this invocation's rows and columns of the score block
  let scoreCol = (lane % 8u) * 4u;
  let outRow = (lane / CG) * TMO;       // and of the output tile
  let outTexel = (lane % CG) * TC4;

  if (lane < BM) {
    runningMax[lane] = LOWEST;
    runningSum[lane] = 0.0;
  }
  var acc: array<array<vec4f, TC4>, TMO>;

  for (var key0 = 0u; key0 < p.tokens; key0 += BN) {
    // 1. Scores of this key block.
    // Explicitly zeroed: naga (Deno's WGSL compiler) zero-fills an uninitialised loop-body var only
    // once, on function entry (gfx-rs/wgpu issue 9489), so a bare declaration would carry over.
    var s = array<vec4f, TSM>();
    for (var c4 = 0u; c4 < p.channelTexels; c4++) {
      let keyRow = texRow0 + key0 + scoreCol;
      let k0 = textureLoad(keys, vec2u(c4, keyRow), 0);
      let k1 = textureLoad(keys, vec2u(c4, keyRow + 1u), 0);
      let k2 = textureLoad(keys, vec2u(c4, keyRow + 2u), 0);
      let k3 = textureLoad(keys, vec2u(c4, keyRow + 3u), 0);
      for (var a = 0u; a < TSM; a++) {
        let q = textureLoad(queries, vec2u(c4, texRow0 + query0 + scoreRow + a), 0);
        s[a] += vec4f(dot(q, k0), dot(q, k1), dot(q, k2), dot(q, k3));
      }
    }
    for (var a = 0u; a < TSM; a++) {
      for (var e = 0u; e < 4u; e++) {
        let valid = key0 + scoreCol + e < p.tokens;
        block[(scoreRow + a) * BN + scoreCol + e] = select(LOWEST, s[a][e] * p.scale, valid);
      }
    }
    workgroupBarrier();

    // 2. Online softmax, one invocation per query row.
    if (lane < BM) {
      let row = lane * BN;
      let previous = runningMax[lane];
      var newMax = previous;
      for (var t = 0u; t < BN; t++) { newMax = max(newMax, block[row + t]); }
      var blockSum = 0.0;
      for (var t = 0u; t < BN; t++) {
        let e = exp(block[row + t] - newMax);
        block[row + t] = e;
        blockSum += e;
      }
      let factor = exp(previous - newMax);
      runningMax[lane] = newMax;
      runningSum[lane] = fma(runningSum[lane], factor, blockSum);
      rescale[lane] = factor;
    }
    workgroupBarrier();

    // 3. Rescale the output tile and add this block's P·V.
    for (var a = 0u; a < TMO; a++) {
      let factor = rescale[outRow + a];
      for (var b = 0u; b < TC4; b++) { acc[a][b] *= factor; }
    }
    let keysHere = min(BN, p.tokens - key0);
    for (var t = 0u; t < keysHere; t++) {
      var v: array<vec4f, TC4>;
      for (var b = 0u; b < TC4; b++) {
        v[b] = textureLoad(values, vec2u(outTexel + b, texRow0 + key0 + t), 0);
      }
      for (var a = 0u; a < TMO; a++) {
        let prob = vec4f(block[(outRow + a) * BN + t]);
        for (var b = 0u; b < TC4; b++) { acc[a][b] = fma(prob, v[b], acc[a][b]); }
      }
    }
    workgroupBarrier();
  }

  // out[c, i] = acc / l, scattered back to NCHW.
  for (var a = 0u; a < TMO; a++) {
    let query = query0 + outRow + a;
    if (query >= p.tokens) { break; }
    let inverse = 1.0 / runningSum[outRow + a];
    for (var b = 0u; b < TC4; b++) {
      for (var e = 0u; e < 4u; e++) {
        let c = 4u * (outTexel + b) + e;
        if (c < p.channels) {
          out[p.outBase + sample * p.outSampleStride + c * p.tokens + query] = acc[a][b][e] * inverse;
        }
      }
    }
  }
}
`;
}
