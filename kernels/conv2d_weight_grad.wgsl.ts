/**
 * WGSL for the conv2d weight gradient as a GEMM over every output pixel (hooks for
 * `gemm.wgsl.ts`): dW[co][ci][ky][kx] = Σ_{n,y,x} dY[n][co][y][x]·in[n][ci][y·s+ky−p][x·s+kx−p],
 * so M = Cout, N = Cin·k², K = N·OH·OW. K is long and M·N small, so K is split into z slices that
 * each write their own partial dW; a second pass adds them in slice order, which keeps the result
 * deterministic (register-tiled: `conv2dWeightGradPlaceSource`, which also moves dW into place;
 * workgroup-tiled: `reduceSum` over the partials).
 *
 * register-tiled: dY is read as texels of four consecutive pixels of a row, the input as channel
 * texels with a zero border (`packImage`); the columns run over (ky, kx, channel texel), so `readB`
 * is one `textureLoad` of four channels at a window tap. When OW is a multiple of 4 those dY texels
 * are exactly NCHW's, so dY is only staged as a linear texture (a memcpy, `staging.ts`: "linear");
 * otherwise `packPixels` pads each row to whole texels ("packed").
 * workgroup-tiled: both are read from their NCHW buffers, columns in dW's own (ci, ky, kx) order.
 * @module
 */
import {
  cTexelSource,
  type GemmFamily,
  type LaneAxis,
  PLACE_WORKGROUP,
  REGISTER_COL_TEXELS,
  registerTiledMain,
  workgroupTiledMain,
} from "./gemm.wgsl.ts";
import { LINEAR_TEXELS } from "./staging.ts";
import { wgsl } from "./wgsl.ts";

/** How the register-tiled weight gradient reads dY (see the module doc). */
export type GradOutLayout = "packed" | "linear";

/** Source of the conv2d weight-gradient kernel of `family`. */
export function conv2dWeightGradSource(
  family: GemmFamily,
  lanes: LaneAxis,
  gradOut: GradOutLayout = "packed",
): string {
  return family === "register-tiled"
    ? registerTiledHooks(gradOut) + registerTiledMain(lanes)
    : workgroupTiledHooks() + workgroupTiledMain();
}

function registerTiledHooks(gradOut: GradOutLayout): string {
  const linear = gradOut === "linear";
  return wgsl`
struct Params {
  outChannels: u32,     // M = Cout
  channelSteps: u32,    // ⌈Cin/4⌉
  inChannels: u32,      // Cin
  kernel: u32,
  pixelTexels: u32,     // ⌈OW/4⌉
  outHeight: u32,       // OH
  totalRows: u32,       // N·OH: the K segments
  sliceRows: u32,       // K segments per split-K slice
  inputStride: u32,     // s
  bands: u32,           // layers of C's texture per slice
}
@group(0) @binding(0) var<uniform> p: Params;
#if ${linear}
@group(0) @binding(2) var gradOut: texture_2d<f32>;
#else
@group(0) @binding(2) var gradOut: texture_2d_array<f32>;
#endif
@group(0) @binding(3) var image: texture_2d_array<f32>;

// channel, and its first dY texel within a sample (linear).
struct ARow { channel: u32, texel: u32 }
fn aRow(m: u32, z: u32) -> ARow { return ARow(m, m * p.outHeight * p.pixelTexels); }
// A column texel is four input channels at one kernel tap.
struct BCol { tx: u32, ty: u32, c4: u32 }
fn bCol(n4: u32, z: u32) -> BCol {
  let tap = n4 / p.channelSteps;
  return BCol(tap % p.kernel, tap / p.kernel, n4 % p.channelSteps);
}
// A segment is one output row (sample, y): its steps are the row's texels of four pixels.
fn kRange(z: u32) -> vec2u {
  let begin = z * p.sliceRows;
  return vec2u(begin, min(begin + p.sliceRows, p.totalRows));
}
// row: the segment's first texel within a channel (packed) or within dY (linear).
struct KSegment { steps: u32, sample: u32, row: u32, y: u32, layer: u32 }
fn kSegment(s: u32, z: u32) -> KSegment {
  let sample = s / p.outHeight;
  let y = s % p.outHeight;
#if ${linear}
  let row = (sample * p.outChannels * p.outHeight + y) * p.pixelTexels;
#else
  let row = y * p.pixelTexels;
#endif
  return KSegment(p.pixelTexels, sample, row, y * p.inputStride, sample * p.channelSteps);
}

fn readA(row: ARow, seg: KSegment, i: u32) -> vec4f {
#if ${linear}
  let t = row.texel + seg.row + i;
  return textureLoad(gradOut, vec2u(t % ${LINEAR_TEXELS}u, t / ${LINEAR_TEXELS}u), 0);
#else
  return textureLoad(gradOut, vec2u(row.channel, seg.row + i), seg.sample, 0);
#endif
}

// Pixel 4i + r of the row; its window's tap (tx, ty) in the image.
fn readB(col: BCol, seg: KSegment, i: u32, r: u32) -> vec4f {
  let x = (4u * i + r) * p.inputStride + col.tx;
  return textureLoad(image, vec2u(x, seg.y + col.ty), seg.layer + col.c4, 0);
}

fn finish(row: ARow, col: BCol, value: vec4f) -> vec4f { return value; }
fn laneColBlocks() -> u32 {
  return (p.kernel * p.kernel * p.channelSteps + ${REGISTER_COL_TEXELS - 1}u) / ${REGISTER_COL_TEXELS}u;
}
fn laneSlices() -> u32 { return (p.totalRows + p.sliceRows - 1u) / p.sliceRows; }
fn cBands() -> u32 { return p.bands; }
`;
}

/**
 * Adds the split-K slices of C (Cout × (ky, kx, channel texel), from the register-tiled kernel's
 * texture) in slice order and writes them to dW [Cout, Cin, k, k].
 */
export function conv2dWeightGradPlaceSource(): string {
  return wgsl`
struct Params { outChannels: u32, channelSteps: u32, inChannels: u32, kernel: u32, slices: u32, bands: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${cTexelSource("read", 2)}

@compute @workgroup_size(${PLACE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = gid.x;
  let n4 = gid.y;
  let kk = p.kernel * p.kernel;
  let tap = n4 / p.channelSteps;
  if (m >= p.outChannels || tap >= kk) { return; }
  var sum = vec4f();
  for (var z = 0u; z < p.slices; z++) { sum += loadC(m, n4, z, p.bands); }
  let c0 = 4u * (n4 % p.channelSteps);
  for (var e = 0u; e < 4u; e++) {
    if (c0 + e < p.inChannels) { out[(m * p.inChannels + c0 + e) * kk + tap] = sum[e]; }
  }
}
`;
}

function workgroupTiledHooks(): string {
  return wgsl`
struct Params {
  outChannels: u32,   // M = Cout
  columns: u32,       // N = Cin·k²
  inChannels: u32,
  kernel: u32,
  inHeight: u32, inWidth: u32,
  outHeight: u32, outWidth: u32,
  stride: u32, padding: u32,
  slicePixels: u32,   // K (output pixels) per split-K slice
  totalPixels: u32,   // N·OH·OW
  sliceStride: u32,   // elements of one partial dW
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> gradOut: array<f32>;
@group(0) @binding(3) var<storage, read> image: array<f32>;

fn gemmRows() -> u32 { return p.outChannels; }
fn gemmCols() -> u32 { return p.columns; }
fn kRange(z: u32) -> vec2u {
  let begin = z * p.slicePixels;
  return vec2u(begin, min(begin + p.slicePixels, p.totalPixels));
}

fn readA(m: u32, k: u32, z: u32) -> f32 {
  let plane = p.outHeight * p.outWidth;
  return gradOut[((k / plane) * p.outChannels + m) * plane + k % plane];
}

fn readB(k: u32, n: u32, z: u32) -> f32 {
  let plane = p.outHeight * p.outWidth;
  let sample = k / plane;
  let y = (k % plane) / p.outWidth;
  let x = k % p.outWidth;
  let kk = p.kernel * p.kernel;
  let iy = i32(y * p.stride + (n % kk) / p.kernel) - i32(p.padding);
  let ix = i32(x * p.stride + n % p.kernel) - i32(p.padding);
  if (iy < 0 || ix < 0 || u32(iy) >= p.inHeight || u32(ix) >= p.inWidth) { return 0.0; }
  return image[((sample * p.inChannels + n / kk) * p.inHeight + u32(iy)) * p.inWidth + u32(ix)];
}

fn writeC(m: u32, n: u32, z: u32, value: f32) {
  out[z * p.sliceStride + m * p.columns + n] = value;
}
`;
}
