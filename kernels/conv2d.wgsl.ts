/**
 * WGSL for conv2d forward and input-grad as implicit GEMMs (hooks for `gemm.wgsl.ts`): no im2col
 * buffer is ever written; `readA` computes where a window element lives.
 *
 * Forward, out[n][co][y][x] = b[co] + Σ_{ci,ky,kx} w[co][ci][ky][kx]·in[n][ci][y·s+ky−p][x·s+kx−p]:
 * M = output pixels, N = Cout, K = Cin·k².
 * Input-grad is the transposed convolution dX[n][ci][y][x] = Σ_{co,ky,kx} w[co][ci][ky][kx]·
 * dY[n][co][(y+p−ky)/s][(x+p−kx)/s] over the terms whose divisions are exact and in range.
 *
 * register-tiled: the image is packed as texels of four channels with a zero border
 * (`packImage`), so `readA` is one `textureLoad` at (x·stride + tx, y·stride + ty) of the window's
 * tap (tx, ty) with no bounds checks — padding reads the border. Weights are packed per call; the
 * bias is read once per column texel. With the "quads" store (see `conv2dSource`) the kernel writes
 * NCHW itself; otherwise `conv2dPlaceSource` moves C (pixels × channels) into NCHW.
 * Input-grad runs this same kernel once per stride phase (y mod s, x mod s): within a phase the
 * contributing kernel rows ky ≡ (y+p) mod s are fixed, so it is an ordinary stride-1 correlation
 * of dY with those taps flipped, written to every s-th output pixel — no multiplications by
 * inserted zeros.
 * workgroup-tiled: one kernel reads the NCHW buffers directly and covers both directions with
 * the input coordinate (y·scale + ky·tapSign + shift) / divisor, valid when exact and in range:
 * forward (s, +1, −p, 1), input-grad (1, −1, p, s).
 * @module
 */
import {
  cTexelSource,
  type GemmFamily,
  type GemmStore,
  type LaneAxis,
  PLACE_WORKGROUP,
  registerTiledMain,
  workgroupTiledMain,
} from "./gemm.wgsl.ts";
import { LINEAR_TEXELS } from "./staging.ts";
import { wgsl } from "./wgsl.ts";

/**
 * Source of the conv2d forward/input-grad kernel of `family`. The register-tiled kernel with the
 * "quads" store writes its output itself, as NCHW texels of a linear texture (`staging.ts`) that is
 * copied into the output buffer (a memcpy on lavapipe): no placing pass. It takes lattices that are
 * the whole output (forward, and the input gradient of stride 1) with H·W a multiple of 4, so four
 * consecutive rows of C (from a multiple of 4) are four consecutive floats of each channel's NCHW
 * plane: one texel per channel.
 */
export function conv2dSource(family: GemmFamily, lanes: LaneAxis, store: GemmStore = "texels"): string {
  return family === "register-tiled"
    ? registerTiledHooks(store) + registerTiledMain(lanes, store)
    : workgroupTiledHooks() + workgroupTiledMain();
}

function registerTiledHooks(store: GemmStore): string {
  return wgsl`
struct Params {
  pixels: u32,          // M: output pixels this dispatch writes (one stride phase for input-grad)
  latticeWidth: u32,    // their columns and rows
  latticeHeight: u32,
  channelSteps: u32,    // ⌈C/4⌉ texels of input channels per tap
  tapsX: u32,
  taps: u32,            // tapsY · tapsX
  inputStride: u32,     // texture texels per output step
  inputX: u32,          // texture position of output (0, 0)'s first tap, border included
  inputY: u32,
  outChannels: u32,     // N
  hasBias: u32,
  bands: u32,           // layers of C's texture
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var image: texture_2d_array<f32>;
@group(0) @binding(3) var weights: texture_2d_array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// Texture position of the row's first window tap, and its sample's first layer.
struct ARow { x: u32, y: u32, layer: u32 }
fn aRow(m: u32, z: u32) -> ARow {
  let lx = m % p.latticeWidth;
  let rest = m / p.latticeWidth;
  let ly = rest % p.latticeHeight;
  let layer = (rest / p.latticeHeight) * p.channelSteps;
  return ARow(lx * p.inputStride + p.inputX, ly * p.inputStride + p.inputY, layer);
}
struct BCol { n4: u32, bias: vec4f }
fn bCol(n4: u32, z: u32) -> BCol {
  var value = vec4f();
  for (var e = 0u; e < 4u; e++) {
    if (p.hasBias != 0u && 4u * n4 + e < p.outChannels) { value[e] = bias[4u * n4 + e]; }
  }
  return BCol(n4, value);
}
// K runs over (tap y, tap x, channel texel), channels fastest: a segment is one tap.
fn kRange(z: u32) -> vec2u { return vec2u(0u, p.taps); }
struct KSegment { steps: u32, tx: u32, ty: u32, first: u32 }
fn kSegment(s: u32, z: u32) -> KSegment {
  return KSegment(p.channelSteps, s % p.tapsX, s / p.tapsX, s * p.channelSteps);
}

fn readA(row: ARow, seg: KSegment, i: u32) -> vec4f {
  return textureLoad(image, vec2u(row.x + seg.tx, row.y + seg.ty), row.layer + i, 0);
}

fn readB(col: BCol, seg: KSegment, i: u32, r: u32) -> vec4f {
  return textureLoad(weights, vec2u(col.n4, 4u * (seg.first + i) + r), 0, 0);
}

fn finish(row: ARow, col: BCol, value: vec4f) -> vec4f { return value + col.bias; }
fn cBands() -> u32 { return p.bands; }

#if ${store === "quads"}
@group(0) @binding(1) var linearOut: texture_storage_2d<rgba32float, write>;

fn storeLinear(t: u32, value: vec4f) {
  textureStore(linearOut, vec2u(t % ${LINEAR_TEXELS}u, t / ${LINEAR_TEXELS}u), value);
}

// Pixels m … m+3 of one sample's plane, channels 4n4 … 4n4+3: a 4 × 4 transpose into one texel per channel.
fn storeQuad(m: u32, n4: u32, z: u32, c0: vec4f, c1: vec4f, c2: vec4f, c3: vec4f) {
  if (m >= p.pixels) { return; }
  let plane = p.latticeWidth * p.latticeHeight;
  let channel = 4u * n4;
  let first = ((m / plane * p.outChannels + channel) * plane + m % plane) / 4u;
  let step = plane / 4u;
  if (channel < p.outChannels) { storeLinear(first, vec4f(c0.x, c1.x, c2.x, c3.x)); }
  if (channel + 1u < p.outChannels) { storeLinear(first + step, vec4f(c0.y, c1.y, c2.y, c3.y)); }
  if (channel + 2u < p.outChannels) { storeLinear(first + 2u * step, vec4f(c0.z, c1.z, c2.z, c3.z)); }
  if (channel + 3u < p.outChannels) { storeLinear(first + 3u * step, vec4f(c0.w, c1.w, c2.w, c3.w)); }
}
#endif
`;
}

/**
 * Moves C (output pixels × channels, from the register-tiled kernel's texture) into the NCHW
 * output: pixel m of the lattice goes to (y·outStep + outY, x·outStep + outX) of its sample.
 */
export function conv2dPlaceSource(): string {
  return wgsl`
struct Params {
  pixels: u32, latticeWidth: u32, latticeHeight: u32, outChannels: u32,
  outStep: u32, outX: u32, outY: u32, outWidth: u32, outHeight: u32,
  bands: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${cTexelSource("read", 2)}

@compute @workgroup_size(${PLACE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = gid.x;
  let n4 = gid.y;
  if (m >= p.pixels) { return; }
  let value = loadC(m, n4, 0u, p.bands);
  let lx = m % p.latticeWidth;
  let rest = m / p.latticeWidth;
  let ly = rest % p.latticeHeight;
  let sample = rest / p.latticeHeight;
  let plane = p.outHeight * p.outWidth;
  let pixel = (ly * p.outStep + p.outY) * p.outWidth + lx * p.outStep + p.outX;
  for (var e = 0u; e < 4u; e++) {
    let channel = 4u * n4 + e;
    if (channel < p.outChannels) { out[(sample * p.outChannels + channel) * plane + pixel] = value[e]; }
  }
}
`;
}

function workgroupTiledHooks(): string {
  return wgsl`
struct Params {
  pixels: u32,         // M = N·outHeight·outWidth
  outChannels: u32,    // N
  depth: u32,          // K = innerChannels·k²
  kernel: u32,
  innerChannels: u32,  // channels of the input image
  inHeight: u32, inWidth: u32,
  outHeight: u32, outWidth: u32,
  scale: u32, tapSign: i32, shift: i32, divisor: u32,
  weightOutStride: u32, weightInnerStride: u32,
  hasBias: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> image: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn gemmRows() -> u32 { return p.pixels; }
fn gemmCols() -> u32 { return p.outChannels; }
fn kRange(z: u32) -> vec2u { return vec2u(0u, p.depth); }

// Input coordinate of output coordinate o at kernel tap t, or -1 when no input pixel contributes.
fn inputCoordinate(o: u32, t: u32, size: u32) -> i32 {
  let numerator = i32(o * p.scale) + i32(t) * p.tapSign + p.shift;
  if (numerator < 0 || u32(numerator) % p.divisor != 0u) { return -1; }
  let coordinate = u32(numerator) / p.divisor;
  return select(-1, i32(coordinate), coordinate < size);
}

// K runs over (inner channel, ky, kx) as the weights are stored.
fn readA(m: u32, k: u32, z: u32) -> f32 {
  let x = m % p.outWidth;
  let rest = m / p.outWidth;
  let y = rest % p.outHeight;
  let sample = rest / p.outHeight;
  let kk = p.kernel * p.kernel;
  let channel = k / kk;
  let iy = inputCoordinate(y, (k % kk) / p.kernel, p.inHeight);
  let ix = inputCoordinate(x, k % p.kernel, p.inWidth);
  if (iy < 0 || ix < 0) { return 0.0; }
  return image[((sample * p.innerChannels + channel) * p.inHeight + u32(iy)) * p.inWidth + u32(ix)];
}

fn readB(k: u32, n: u32, z: u32) -> f32 {
  let kk = p.kernel * p.kernel;
  return weights[n * p.weightOutStride + (k / kk) * p.weightInnerStride + k % kk];
}

fn writeC(m: u32, n: u32, z: u32, value: f32) {
  let plane = p.outHeight * p.outWidth;
  let sample = m / plane;
  var result = value;
  if (p.hasBias != 0u) { result += bias[n]; }
  out[(sample * p.outChannels + n) * plane + m % plane] = result;
}
`;
}
