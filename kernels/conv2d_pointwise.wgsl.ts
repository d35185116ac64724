/**
 * WGSL for 1×1 convolutions (the UNet's skip projections and attention's qkv and output) as a
 * register-tiled GEMM per sample with no packing pass at all (hooks for `gemm.wgsl.ts`, "op" store):
 * C = out[n] [Cout × H·W] = A·B with A = the weights [Cout × Cin] and B = x[n] [Cin × H·W].
 * In NCHW a row of B is a channel plane, so its texels (four consecutive pixels) are B's texels as
 * the GEMM reads them, straight from x's linear staging texture (a memcpy); C's texels are the
 * output's NCHW texels, written to a linear texture that is copied into the output buffer. A's rows
 * are read through strides: forward A = W (one texel when Cin is a multiple of 4), input gradient
 * A = Wᵀ [Cin × Cout] and B = dY[n] (four loads). Needs H·W a multiple of 4, so planes start on
 * texel boundaries; lanes run over (pixel block, sample) pairs.
 * @module
 */
import { REGISTER_COL_TEXELS, registerTiledMain } from "./gemm.wgsl.ts";
import { LINEAR_TEXELS, linearOperand } from "./staging.ts";
import { wgsl } from "./wgsl.ts";

/** Source of the pointwise convolution kernel (forward and input gradient alike). */
export function conv2dPointwiseSource(): string {
  return hooks() + registerTiledMain("cols", "op");
}

function hooks(): string {
  return wgsl`
struct Params {
  rows: u32,         // M: output channels
  depth: u32,        // K: input channels
  pixelTexels: u32,  // H·W / 4
  samples: u32,
  rowStride: u32,    // A[m][k] = weights[m·rowStride + k·depthStride]
  depthStride: u32,
  hasBias: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var linearOut: texture_storage_2d<rgba32float, write>;
${linearOperand("weights", 2, true)}
${linearOperand("x", 3, true)}
@group(0) @binding(4) var<storage, read> bias: array<f32>;

struct ARow { first: u32, bias: f32 }
fn aRow(m: u32, z: u32) -> ARow {
  var b = 0.0;
  if (p.hasBias != 0u && m < p.rows) { b = bias[m]; }
  return ARow(m * p.rowStride, b);
}
struct BCol { n4: u32 }
fn bCol(n4: u32, z: u32) -> BCol { return BCol(n4); }
// One segment: the whole of K, for sample z.
fn kRange(z: u32) -> vec2u { return vec2u(0u, 1u); }
struct KSegment { steps: u32, first: u32 }
fn kSegment(s: u32, z: u32) -> KSegment {
  return KSegment((p.depth + 3u) / 4u, z * p.depth * p.pixelTexels);
}

fn readA(row: ARow, seg: KSegment, i: u32) -> vec4f {
  let k = 4u * i;
  if (p.depthStride == 1u && p.rowStride % 4u == 0u) { return weightsTexel((row.first + k) / 4u); }
  let at = row.first + k * p.depthStride;
  var a = vec4f();
  for (var e = 0u; e < 4u; e++) {
    if (k + e < p.depth) { a[e] = weightsAt(at + e * p.depthStride); }
  }
  return a;
}

// x[z][k + r][4n4 … 4n4+3], zero past K (so A's texels past K never meet another sample's rows).
fn readB(col: BCol, seg: KSegment, i: u32, r: u32) -> vec4f {
  let k = 4u * i + r;
  if (k >= p.depth) { return vec4f(); }
  return xTexel(seg.first + k * p.pixelTexels + col.n4);
}

fn finish(row: ARow, col: BCol, value: vec4f) -> vec4f { return value + row.bias; }
fn laneColBlocks() -> u32 { return (p.pixelTexels + ${REGISTER_COL_TEXELS - 1}u) / ${REGISTER_COL_TEXELS}u; }
fn laneSlices() -> u32 { return p.samples; }
fn cBands() -> u32 { return 0u; }

fn storeC(m: u32, n4: u32, z: u32, bands: u32, value: vec4f) {
  if (m >= p.rows || n4 >= p.pixelTexels) { return; }
  let t = (z * p.rows + m) * p.pixelTexels + n4;
  textureStore(linearOut, vec2u(t % ${LINEAR_TEXELS}u, t / ${LINEAR_TEXELS}u), value);
}
`;
}
