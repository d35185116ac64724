/**
 * WGSL for batched matrix products C[z] = op(A)[z]·op(B)[z] (+ bias over columns), as hooks for
 * the GEMM bodies of `gemm.wgsl.ts`. op(X) is X or Xᵀ; an operand without a batch is shared by
 * every z.
 *
 * register-tiled: A and B arrive packed by `pack.ts` — A as texels (m, k/4) of four consecutive k,
 * B as texels (n/4, k) of four consecutive n — so the hooks only address texels. The bias is read
 * from its buffer once per column texel, not once per output, and added before C is stored as
 * texels; `matmulPlaceSource` then copies C into the row-major output.
 * workgroup-tiled: A and B are read from their buffers through strides, which is where the
 * transposes and the batch broadcast happen.
 * @module
 */
import {
  cTexelSource,
  type GemmFamily,
  type LaneAxis,
  PLACE_WORKGROUP,
  registerTiledMain,
  workgroupTiledMain,
} from "./gemm.wgsl.ts";
import { wgsl } from "./wgsl.ts";

/** Source of the matmul kernel of `family` (`lanes` only matters to the register-tiled family). */
export function matmulSource(family: GemmFamily, lanes: LaneAxis): string {
  return family === "register-tiled"
    ? registerTiledHooks() + registerTiledMain(lanes)
    : workgroupTiledHooks() + workgroupTiledMain();
}

function registerTiledHooks(): string {
  return wgsl`
struct Params {
  rows: u32,            // M
  cols: u32,            // N
  depthSteps: u32,      // ⌈K/4⌉
  hasBias: u32,
  aLayerStep: u32,      // 1 when A has a batch, 0 when every z shares layer 0
  bLayerStep: u32,
  bands: u32,           // layers of C's texture per batch element
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var a: texture_2d_array<f32>;
@group(0) @binding(3) var b: texture_2d_array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

struct ARow { m: u32, layer: u32 }
fn aRow(m: u32, z: u32) -> ARow { return ARow(m, z * p.aLayerStep); }
struct BCol { n4: u32, layer: u32, bias: vec4f }
fn bCol(n4: u32, z: u32) -> BCol {
  var value = vec4f();
  for (var e = 0u; e < 4u; e++) {
    if (p.hasBias != 0u && 4u * n4 + e < p.cols) { value[e] = bias[4u * n4 + e]; }
  }
  return BCol(n4, z * p.bLayerStep, value);
}
// All of K is one segment.
fn kRange(z: u32) -> vec2u { return vec2u(0u, 1u); }
struct KSegment { steps: u32 }
fn kSegment(s: u32, z: u32) -> KSegment { return KSegment(p.depthSteps); }

fn readA(row: ARow, seg: KSegment, i: u32) -> vec4f {
  return textureLoad(a, vec2u(row.m, i), row.layer, 0);
}

fn readB(col: BCol, seg: KSegment, i: u32, r: u32) -> vec4f {
  return textureLoad(b, vec2u(col.n4, 4u * i + r), col.layer, 0);
}

fn finish(row: ARow, col: BCol, value: vec4f) -> vec4f { return value + col.bias; }
fn cBands() -> u32 { return p.bands; }
`;
}

/** Copies C from the register-tiled kernel's texture into the row-major output [batch, M, N]. */
export function matmulPlaceSource(): string {
  return wgsl`
struct Params { rows: u32, cols: u32, bands: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${cTexelSource("read", 2)}

@compute @workgroup_size(${PLACE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = gid.x;
  let n4 = gid.y;
  if (m >= p.rows || 4u * n4 >= p.cols) { return; }
  let value = loadC(m, n4, gid.z, p.bands);
  let at = (gid.z * p.rows + m) * p.cols + 4u * n4;
  for (var e = 0u; e < 4u; e++) {
    if (4u * n4 + e < p.cols) { out[at + e] = value[e]; }
  }
}
`;
}

function workgroupTiledHooks(): string {
  return wgsl`
struct Params {
  rows: u32, cols: u32, depth: u32, hasBias: u32,
  aBatchStride: u32, aRowStride: u32, aDepthStride: u32,   // op(A)[z][m][k]
  bBatchStride: u32, bDepthStride: u32, bColStride: u32,   // op(B)[z][k][n]
  outBatchStride: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn gemmRows() -> u32 { return p.rows; }
fn gemmCols() -> u32 { return p.cols; }
fn kRange(z: u32) -> vec2u { return vec2u(0u, p.depth); }

fn readA(m: u32, k: u32, z: u32) -> f32 {
  return a[z * p.aBatchStride + m * p.aRowStride + k * p.aDepthStride];
}

fn readB(k: u32, n: u32, z: u32) -> f32 {
  return b[z * p.bBatchStride + k * p.bDepthStride + n * p.bColStride];
}

fn writeC(m: u32, n: u32, z: u32, value: f32) {
  var result = value;
  if (p.hasBias != 0u) { result += bias[n]; }
  c[z * p.outBatchStride + m * p.cols + n] = result;
}
`;
}
