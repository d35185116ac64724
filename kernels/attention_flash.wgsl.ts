/**
 * WGSL for no-grad self-attention with an online softmax (Milakov & Gimelshein 2018; Dao et al.,
 * FlashAttention, 2022): the L×L score matrix is never materialised, so sampling memory stays
 * O(L·C) at any resolution.
 *
 * One workgroup of 64 invocations owns BM query rows of one sample and sweeps the keys in blocks
 * of BN = 32 or 64:
 *  1. scores: the BM×BN block of scale·QᵀK, an 8×8 grid of invocations each computing a
 *     (BM/8)×(BN/8) register tile from textures, into workgroup memory;
 *  2. online softmax: one invocation per row raises the running max m, rescales the running sum
 *     l by exp(m_old − m_new) and turns the block into exp(s − m_new) in place;
 *  3. P·V: invocations arranged as RG row groups × CG channel groups rescale their output tile
 *     (TMO rows × 4·TC4 channels, in registers) and add the block's P·Vᵀ.
 * Output = accumulator / l. Operands come from textures packed along channels: texel (c/4, token)
 * holds channels c..c+3 of that token's q, k or v.
 * @module
 */
import { wgsl } from "./wgsl.ts";
import { repeatLines } from "./attention_gemm.wgsl.ts";

/** Invocations per workgroup. */
export const FLASH_WORKGROUP = 64;

/** How the output tile is split among invocations; chosen from C by `flashLayout` in attention.ts. */
export interface FlashLayout {
  /** Channel groups CG (a power of two ≤ 64); the 64 invocations form 64/CG row groups. */
  channelGroups: number;
  /** Channel texels per invocation TC4 (CG·4·TC4 ≥ C). */
  channelTexels: number;
  /** Output rows per invocation TMO; BM = (64/CG)·TMO query rows per workgroup, a multiple of 8. */
  rowsPerInvocation: number;
  /** Score columns per invocation, 4 or 8: a key block holds BN = 8 × this many keys. */
  keysPerInvocation: number;
}

/** Query rows per workgroup for a layout. */
export function flashRowsPerWorkgroup(layout: FlashLayout): number {
  return (FLASH_WORKGROUP / layout.channelGroups) * layout.rowsPerInvocation;
}

/** Bytes of workgroup memory a layout needs (the score block plus three per-row values). */
export function flashWorkgroupBytes(layout: FlashLayout): number {
  const rows = flashRowsPerWorkgroup(layout);
  return 4 * rows * (8 * layout.keysPerInvocation + 3);
}

/**
 * Source of the online-softmax attention kernel for one layout. Register tiles (scores s{a}_{h},
 * accumulators acc{a}_{b}, values v{b}_{e}) are generated as named variables, not private arrays,
 * for the reason given in `attention_gemm.wgsl.ts`. The score block lives in workgroup memory as
 * vec4s of four consecutive keys: on lavapipe each workgroup-memory load costs as much as a
 * texture texel, so one load per four keys halved the kernel's time against one per key.
 */
export function attentionFlashSource(layout: FlashLayout): string {
  const blockRows = flashRowsPerWorkgroup(layout);
  const scoreRows = blockRows / 8;
  const keyTexels = layout.keysPerInvocation / 4;
  const { channelTexels: tc4, rowsPerInvocation: tmo } = layout;
  const pairs = (n: number, m: number): [number, number][] =>
    Array.from({ length: n * m }, (_, t) => [Math.floor(t / m), t % m]);
  const scoreTile = pairs(scoreRows, keyTexels);
  const outputTile = pairs(tmo, tc4);

  const scores = scoreTile.map(([a, h]) => `var s${a}_${h} = vec4f(0.0);`).join("\n    ");
  const loadKeys = repeatLines(
    layout.keysPerInvocation,
    (key) => `let k${key} = textureLoad(keys, vec2u(c4, keyRow + ${key}u), 0);`,
    "      ",
  );
  const scoreRow = (a: number): string =>
    `q = textureLoad(queries, vec2u(c4, texRow0 + query0 + scoreRow + ${a}u), 0);\n      ` +
    repeatLines(keyTexels, (h) => {
      const dots = [0, 1, 2, 3].map((e) => `dot(q, k${4 * h + e})`).join(", ");
      return `s${a}_${h} += vec4f(${dots});`;
    }, "      ");
  const scoreProducts = repeatLines(scoreRows, scoreRow, "      ");
  const storeScores = scoreTile.map(([a, h]) =>
    `storeScores(scoreRow + ${a}u, scoreTexel + ${h}u, key0 + scoreCol + ${4 * h}u, s${a}_${h});`
  ).join("\n    ");

  const accumulators = outputTile.map(([a, b]) => `var acc${a}_${b} = vec4f(0.0);`).join("\n  ");
  const rescaleTile = outputTile.map(([a, b]) => `acc${a}_${b} *= rescale[outRow + ${a}u];`).join("\n    ");
  const loadValues = pairs(tc4, 4).map(([b, e]) =>
    `let v${b}_${e} = textureLoad(values, vec2u(outTexel + ${b}u, keyRow + ${e}u), 0);`
  ).join("\n      ");
  const loadProbs = repeatLines(tmo, (a) => `let p${a} = block[(outRow + ${a}u) * BN4 + t4];`, "      ");
  const accumulate = outputTile.map(([a, b]) =>
    `acc${a}_${b} = fma(vec4f(p${a}.w), v${b}_3, fma(vec4f(p${a}.z), v${b}_2, ` +
    `fma(vec4f(p${a}.y), v${b}_1, fma(vec4f(p${a}.x), v${b}_0, acc${a}_${b}))));`
  ).join("\n      ");
  const writes = outputTile.map(([a, b]) =>
    `writeOutput(sample, query0, outRow + ${a}u, outTexel + ${b}u, acc${a}_${b});`
  ).join("\n  ");

  return wgsl`
struct Params {
  tokens: u32,          // L
  channels: u32,        // C
  channelTexels: u32,   // ⌈C/4⌉
  sampleRows: u32,      // texture rows per sample (L rounded up to 4, zero rows beyond L)
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
const BN4: u32 = ${2 * layout.keysPerInvocation}u; // key quads per block (BN = 4·BN4 keys)
const BM: u32 = ${blockRows}u;
const CG: u32 = ${layout.channelGroups}u;
const TC4: u32 = ${tc4}u;
const TMO: u32 = ${tmo}u;
const LOWEST: f32 = -3.0e38;          // a finite −∞: exp(LOWEST − m) = 0 without inf − inf

var<workgroup> block: array<vec4f, BM * BN4>; // [query row][key quad]
var<workgroup> runningMax: array<f32, BM>;
var<workgroup> runningSum: array<f32, BM>;
var<workgroup> rescale: array<f32, BM>;

// Scaled scores of one query row for keys key … key + 3; keys past the end get LOWEST (p = 0).
fn storeScores(row: u32, quad: u32, key: u32, s: vec4f) {
  let valid = vec4u(key) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.tokens);
  block[row * BN4 + quad] = select(vec4f(LOWEST), s * p.scale, valid);
}

// out[c, query] = acc / l for channels 4·texel … 4·texel + 3 that exist.
fn writeOutput(sample: u32, query0: u32, row: u32, texel: u32, acc: vec4f) {
  let query = query0 + row;
  if (query >= p.tokens) { return; }
  let inverse = 1.0 / runningSum[row];
  for (var e = 0u; e < 4u; e++) {
    let c = 4u * texel + e;
    if (c < p.channels) { out[p.outBase + sample * p.outSampleStride + c * p.tokens + query] = acc[e] * inverse; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let sample = wid.y;
  let query0 = wid.x * BM;
  let texRow0 = sample * p.sampleRows;
  // This invocation's part of the score block (an 8×8 grid over BM rows × BN keys) …
  let scoreRow = (lane / 8u) * ${scoreRows}u;
  let scoreTexel = (lane % 8u) * ${keyTexels}u;
  let scoreCol = 4u * scoreTexel;
  // … and of the output tile (BM/TMO row groups × CG channel groups).
  let outRow = (lane / CG) * TMO;
  let outTexel = (lane % CG) * TC4;

  if (lane < BM) {
    runningMax[lane] = LOWEST;
    runningSum[lane] = 0.0;
  }
  ${accumulators}

  for (var key0 = 0u; key0 < p.tokens; key0 += 4u * BN4) {
    // 1. Scores of this key block.
    ${scores}
    for (var c4 = 0u; c4 < p.channelTexels; c4++) {
      let keyRow = texRow0 + key0 + scoreCol;
      ${loadKeys}
      var q: vec4f;
      ${scoreProducts}
    }
    ${storeScores}
    workgroupBarrier();

    // 2. Online softmax, one invocation per query row: raise the running max, rescale the running
    //    sum, and replace the scores by exp(s − max).
    if (lane < BM) {
      let row = lane * BN4;
      let previous = runningMax[lane];
      var quadMax = vec4f(previous);
      for (var t4 = 0u; t4 < BN4; t4++) { quadMax = max(quadMax, block[row + t4]); }
      let newMax = max(max(quadMax.x, quadMax.y), max(quadMax.z, quadMax.w));
      var quadSum = vec4f(0.0);
      for (var t4 = 0u; t4 < BN4; t4++) {
        let e = exp(block[row + t4] - newMax);
        block[row + t4] = e;
        quadSum += e;
      }
      let factor = exp(previous - newMax);
      runningMax[lane] = newMax;
      runningSum[lane] = fma(runningSum[lane], factor, dot(quadSum, vec4f(1.0)));
      rescale[lane] = factor;
    }
    workgroupBarrier();

    // 3. Rescale the output tile and add this block's P·V, four keys at a time (value rows past L
    //    but within the texture's padding are zeros, and their probabilities are 0).
    ${rescaleTile}
    let quadsHere = (min(4u * BN4, p.tokens - key0) + 3u) / 4u;
    for (var t4 = 0u; t4 < quadsHere; t4++) {
      let keyRow = texRow0 + key0 + 4u * t4;
      ${loadValues}
      ${loadProbs}
      ${accumulate}
    }
    workgroupBarrier();
  }

  // out[c, i] = acc / l, scattered back to NCHW.
  ${writes}
}
`;
}
