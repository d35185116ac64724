/**
 * WGSL for the batched matrix products of attention, out = α·A·B, with both operands in rgba32float
 * textures. On lavapipe a `textureLoad` costs ~0.5 ns per float against ~3.8 ns for a storage-buffer
 * load (PERF_NOTES), so operands are packed into textures once and the inner loop reads only them.
 *
 * Layout: A's texel (k/4, m) holds A[m, k..k+3]; B's texel (n/4, k) holds B[k, n..n+3]. Samples
 * are stacked vertically (`aSampleRows`/`bSampleRows` apart, rows padded to a multiple of 4 with
 * zeros so every 4-deep step of k reads real or zero rows). Each invocation accumulates a
 * TM × 4·TN4 register tile; no workgroup memory, so no barriers.
 *
 * Epilogues (compile-time):
 * - "buffer": out[outBase + z·outSampleStride + m·outStrideRow + n·outStrideCol] = α·acc, any
 *   strides, so transposed results land in NCHW directly.
 * - "texture": texel (n/4, z·outSampleRows + m) = α·acc, for a product the next kernel reads.
 * - "softmax-grad": texel = α·P ∘ (acc − D[m]), the softmax backward dS = P ∘ (dP − rowsum(dP ∘ P))
 *   fused into the product that computes dP, with P read from a texture and D from a buffer.
 * @module
 */
import { wgsl } from "./wgsl.ts";

/** What the product's epilogue writes. */
export type GemmEpilogue = "buffer" | "texture" | "softmax-grad";

/** Invocations per workgroup side (8×8). */
export const GEMM_WORKGROUP_SIDE = 8;

/** Register tile of one invocation: `rows` × 4·`colTexels` outputs. */
export interface GemmTile {
  /** Output rows per invocation. */
  rows: number;
  /** Output column texels (4 columns each) per invocation. */
  colTexels: number;
}

/**
 * `count` generated lines joined at `indent`: register tiles are spelled out as named variables
 * (see {@link attentionGemmSource}).
 */
export function repeatLines(count: number, line: (index: number) => string, indent = "    "): string {
  return Array.from({ length: count }, (_, index) => line(index)).join(`\n${indent}`);
}

/**
 * Source of the product with the given epilogue and register tile. The tile's accumulators and
 * B values are generated as named variables (acc{i}_{j}, b{r}_{j}) rather than private arrays:
 * naga keeps a private array indexed in a loop in memory, which lavapipe reads and writes lane by
 * lane, and measured 5× slower (3.3 vs 15.6 GFLOP/s for L = 1024, C = 128). The k loop stays a
 * loop, so compiling a variant takes about a second, not minutes.
 */
export function attentionGemmSource(epilogue: GemmEpilogue, tile: GemmTile): string {
  const toTexture = epilogue !== "buffer";
  const { rows: tm, colTexels: tn4 } = tile;
  const tileIndices = Array.from({ length: tm * tn4 }, (_, t) => [Math.floor(t / tn4), t % tn4] as const);
  const accumulators = tileIndices.map(([i, j]) => `var acc${i}_${j} = vec4f(0.0);`).join("\n  ");
  const loadB = repeatLines(4 * tn4, (t) => {
    const [r, j] = [Math.floor(t / tn4), t % tn4];
    return `let b${r}_${j} = textureLoad(b, vec2u(col0 + ${j}u, bRow + 4u * k4 + ${r}u), 0);`;
  });
  const multiplyRow = (i: number): string =>
    `{\n      let av = textureLoad(a, vec2u(k4, aRow + ${i}u), 0);\n      ` +
    repeatLines(tn4, (j) =>
      `acc${i}_${j} = fma(vec4f(av.w), b3_${j}, fma(vec4f(av.z), b2_${j}, ` +
      `fma(vec4f(av.y), b1_${j}, fma(vec4f(av.x), b0_${j}, acc${i}_${j}))));`, "      ") +
    "\n    }";
  const multiply = repeatLines(tm, multiplyRow);
  const writes = tileIndices.map(([i, j]) => `writeTexel(sample, row0 + ${i}u, col0 + ${j}u, acc${i}_${j});`)
    .join("\n  ");
  return wgsl`
struct Params {
  rows: u32,           // M: valid output rows (buffer) or rows to write incl. padding (textures)
  cols: u32,           // N: valid output columns
  depthTexels: u32,    // ⌈K/4⌉
  alpha: f32,
  aSampleRows: u32,
  bSampleRows: u32,
  outBase: u32,        // buffer: first element; softmax-grad: first element of D
  outSampleStride: u32,
  outStrideRow: u32,
  outStrideCol: u32,
  outSampleRows: u32,  // textures: rows per sample of the output (and of P)
  outWidth: u32,       // textures: texels per output row
  validRows: u32,      // softmax-grad: rows of D that exist (padding rows use D = 0)
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${toTexture}
@group(0) @binding(1) var out: texture_storage_2d<rgba32float, write>;
#else
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
#endif
@group(0) @binding(2) var a: texture_2d<f32>;
@group(0) @binding(3) var b: texture_2d<f32>;
#if ${epilogue === "softmax-grad"}
@group(0) @binding(4) var probs: texture_2d<f32>;
@group(0) @binding(5) var<storage, read> rowDot: array<f32>;
#endif
const SIDE: u32 = ${GEMM_WORKGROUP_SIDE}u;
const TM: u32 = ${tm}u;
const TN4: u32 = ${tn4}u;

// Writes the outputs (m, 4x … 4x + 3) of one sample, skipping those outside the result.
fn writeTexel(sample: u32, m: u32, x: u32, value: vec4f) {
  if (m >= p.rows) { return; }
#if ${toTexture}
  if (x >= p.outWidth) { return; }
  let y = sample * p.outSampleRows + m;
#endif
#if ${epilogue === "texture"}
  textureStore(out, vec2u(x, y), p.alpha * value);
#elif ${epilogue === "softmax-grad"}
  let d = select(0.0, rowDot[p.outBase + sample * p.outSampleStride + m], m < p.validRows);
  textureStore(out, vec2u(x, y), p.alpha * textureLoad(probs, vec2u(x, y), 0) * (value - d));
#else
  let rowStart = p.outBase + sample * p.outSampleStride + m * p.outStrideRow;
  for (var e = 0u; e < 4u; e++) {
    let n = 4u * x + e;
    if (n < p.cols) { out[rowStart + n * p.outStrideCol] = p.alpha * value[e]; }
  }
#endif
}

@compute @workgroup_size(SIDE, SIDE)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let sample = wid.z;
  let row0 = (wid.y * SIDE + lid.y) * TM;
  let col0 = (wid.x * SIDE + lid.x) * TN4; // in texels
  let aRow = sample * p.aSampleRows + row0;
  let bRow = sample * p.bSampleRows;

  ${accumulators}
  for (var k4 = 0u; k4 < p.depthTexels; k4++) {
    // Four rows of B (k = 4·k4 … 4·k4 + 3) across this invocation's column texels,
    ${loadB}
    // scaled by each row's texel of A (A[m, 4·k4 … 4·k4 + 3]) into the accumulators.
    ${multiply}
  }
  ${writes}
}
`;
}
