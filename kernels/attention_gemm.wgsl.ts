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

/** Source of the product with the given epilogue and register tile. */
export function attentionGemmSource(epilogue: GemmEpilogue, tile: GemmTile): string {
  const toTexture = epilogue !== "buffer";
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
const TM: u32 = ${tile.rows}u;
const TN4: u32 = ${tile.colTexels}u;

@compute @workgroup_size(SIDE, SIDE)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let sample = wid.z;
  let row0 = (wid.y * SIDE + lid.y) * TM;
  let col0 = (wid.x * SIDE + lid.x) * TN4; // in texels
  let aRow = sample * p.aSampleRows + row0;
  let bRow = sample * p.bSampleRows;

  var acc: array<array<vec4f, TN4>, TM>;
  for (var k4 = 0u; k4 < p.depthTexels; k4++) {
    // Four rows of B (k = 4·k4 … 4·k4 + 3) across this invocation's columns.
    var bv: array<array<vec4f, TN4>, 4>;
    for (var r = 0u; r < 4u; r++) {
      for (var j = 0u; j < TN4; j++) {
        bv[r][j] = textureLoad(b, vec2u(col0 + j, bRow + 4u * k4 + r), 0);
      }
    }
    for (var i = 0u; i < TM; i++) {
      let av = textureLoad(a, vec2u(k4, aRow + i), 0);
      for (var j = 0u; j < TN4; j++) {
        acc[i][j] = fma(vec4f(av.x), bv[0][j], fma(vec4f(av.y), bv[1][j],
                    fma(vec4f(av.z), bv[2][j], fma(vec4f(av.w), bv[3][j], acc[i][j]))));
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let m = row0 + i;
    if (m >= p.rows) { break; }
#if ${toTexture}
    let y = sample * p.outSampleRows + m;
#endif
#if ${epilogue === "softmax-grad"}
    let d = select(0.0, rowDot[p.outBase + sample * p.outSampleStride + m], m < p.validRows);
#endif
    for (var j = 0u; j < TN4; j++) {
#if ${toTexture}
      let x = col0 + j;
      if (x >= p.outWidth) { break; }
#endif
#if ${epilogue === "texture"}
      textureStore(out, vec2u(x, y), p.alpha * acc[i][j]);
#elif ${epilogue === "softmax-grad"}
      let prob = textureLoad(probs, vec2u(x, y), 0);
      textureStore(out, vec2u(x, y), p.alpha * prob * (acc[i][j] - d));
#else
      for (var e = 0u; e < 4u; e++) {
        let n = 4u * (col0 + j) + e;
        if (n < p.cols) {
          out[p.outBase + sample * p.outSampleStride + m * p.outStrideRow + n * p.outStrideCol] =
            p.alpha * acc[i][j][e];
        }
      }
#endif
    }
  }
}
`;
}
