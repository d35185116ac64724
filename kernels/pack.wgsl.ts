/**
 * WGSL that packs tensors into the rgba32float textures the register-tiled GEMM reads
 * (see `gemm.wgsl.ts`). Each kernel writes whole texels with `textureStore` and zeros wherever the
 * source has no element (K padded to a multiple of 4, image borders, channel groups past C), so the
 * GEMM's inner loop needs no bounds checks.
 *
 * Sources are not read from their storage buffers: on lavapipe a storage-buffer load costs
 * ~4.5 ns per float, a buffer-to-texture copy ~0.3 ns and a `textureLoad` ~0.5 ns. So `pack.ts`
 * first copies the buffer into a "linear" texture, LINEAR_TEXELS texels (4·LINEAR_TEXELS floats)
 * per row, and these kernels read that (a pack then costs ~2 ns per float instead of ~7).
 * @module
 */
import { LINEAR_TEXELS } from "./staging.ts";
import { wgsl } from "./wgsl.ts";

/** Invocations per workgroup side of every pack kernel (8 × 8). */
export const PACK_SIDE = 8;

const linearSource = wgsl`
@group(0) @binding(1) var packed: texture_storage_2d_array<rgba32float, write>;
@group(0) @binding(2) var source: texture_2d<f32>;

fn sourceTexel(t: u32) -> vec4f {
  return textureLoad(source, vec2u(t % ${LINEAR_TEXELS}u, t / ${LINEAR_TEXELS}u), 0);
}

fn sourceAt(i: u32) -> f32 {
  return sourceTexel(i / 4u)[i % 4u];
}

// source[i + e·stride] for e = 0..3, in one load when they form one aligned texel. Elements past
// the source's end read whatever the texture holds there; callers mask them.
fn sourceRun(i: u32, stride: u32) -> vec4f {
  if (stride == 1u && i % 4u == 0u) { return sourceTexel(i / 4u); }
  return vec4f(sourceAt(i), sourceAt(i + stride), sourceAt(i + 2u * stride), sourceAt(i + 3u * stride));
}
`;

/**
 * A matrix op(X)[layer][u][v] read through strides. `alongY`: texel (x, y) holds
 * (u, v) = (x, 4y + e), e = 0..3 (matmul's A: four consecutive k of row m); otherwise
 * (u, v) = (4x + e, y) (matmul's B: four consecutive n of row k). Zero outside uCount × vCount.
 * `lanesAlongY`: invocations run down the texture's columns (gid.x is y), chosen when that walks
 * the source contiguously — a transposing pack of a 1024-wide matrix ran 2× faster that way.
 */
export function packMatrixSource(): string {
  return wgsl`
struct Params {
  width: u32, height: u32,
  uCount: u32, vCount: u32,
  uStride: u32, vStride: u32, layerStride: u32,
  alongY: u32, lanesAlongY: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
${linearSource}

@compute @workgroup_size(${PACK_SIDE}, ${PACK_SIDE})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let texel = select(gid.xy, gid.yx, p.lanesAlongY != 0u);
  if (texel.x >= p.width || texel.y >= p.height) { return; }
  var u = vec4u(4u * texel.x) + vec4u(0u, 1u, 2u, 3u);
  var v = vec4u(texel.y);
  var stride = p.uStride;
  if (p.alongY != 0u) {
    u = vec4u(texel.x);
    v = vec4u(4u * texel.y) + vec4u(0u, 1u, 2u, 3u);
    stride = p.vStride;
  }
  let inside = u < vec4u(p.uCount) & v < vec4u(p.vCount);
  var value = vec4f();
  if (inside.x) {
    let run = sourceRun(gid.z * p.layerStride + u.x * p.uStride + v.x * p.vStride, stride);
    value = select(vec4f(), run, inside);
  }
  textureStore(packed, texel, gid.z, value);
}
`;
}

/**
 * An NCHW image as texels of four consecutive channels: texture layer n·⌈C/4⌉ + c4 holds channels
 * 4c4 … 4c4+3 of sample n, pixel (x, y) at texel (x + border, y + border); borders and channels past
 * C are zero, so convolution windows read zero padding without bounds checks. (Writing four
 * neighbouring texels per invocation from one aligned source texel per channel was no faster.)
 */
export function packImageSource(): string {
  return wgsl`
struct Params {
  width: u32, height: u32,
  channels: u32, channelTexels: u32,
  imageHeight: u32, imageWidth: u32,
  border: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
${linearSource}

@compute @workgroup_size(${PACK_SIDE}, ${PACK_SIDE})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let x = i32(gid.x) - i32(p.border);
  let y = i32(gid.y) - i32(p.border);
  var texel = vec4f();
  if (x >= 0 && y >= 0 && x < i32(p.imageWidth) && y < i32(p.imageHeight)) {
    let plane = p.imageHeight * p.imageWidth;
    let c0 = 4u * (gid.z % p.channelTexels);
    let at = ((gid.z / p.channelTexels) * p.channels + c0) * plane + u32(y) * p.imageWidth + u32(x);
    let channels = vec4u(c0) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.channels);
    texel = select(vec4f(), sourceRun(at, plane), channels);
  }
  textureStore(packed, gid.xy, gid.z, texel);
}
`;
}

/**
 * Convolution weights as the GEMM's B: texel (o4, k) holds outputs 4o4 … 4o4+3 at row
 * k = t·4·I4 + i (tap t = ty·tapsX + tx, GEMM-inner channel i), reading
 * weight[o·outStride + i·innerStride + ky·kernel + kx] with ky = kyBase + ty·kyStep (kx alike).
 * Forward: o = Cout, i = Cin, steps +1. Input-grad: o = Cin, i = Cout, and the taps of one stride
 * phase in flipped order (negative steps). `lanesAlongY` as for `packMatrixSource`.
 */
export function packConvWeightsSource(): string {
  return wgsl`
struct Params {
  width: u32, height: u32,
  outCount: u32, innerCount: u32, innerTexels: u32,
  tapsX: u32, kernel: u32,
  kyBase: i32, kyStep: i32, kxBase: i32, kxStep: i32,
  outStride: u32, innerStride: u32,
  lanesAlongY: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
${linearSource}

@compute @workgroup_size(${PACK_SIDE}, ${PACK_SIDE})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let texel = select(gid.xy, gid.yx, p.lanesAlongY != 0u);
  if (texel.x >= p.width || texel.y >= p.height) { return; }
  let inner = texel.y % (4u * p.innerTexels);
  let tap = texel.y / (4u * p.innerTexels);
  let ky = u32(p.kyBase + i32(tap / p.tapsX) * p.kyStep);
  let kx = u32(p.kxBase + i32(tap % p.tapsX) * p.kxStep);
  let o = vec4u(4u * texel.x) + vec4u(0u, 1u, 2u, 3u);
  let inside = o < vec4u(p.outCount) & vec4<bool>(inner < p.innerCount);
  var value = vec4f();
  if (inside.x) {
    let run = sourceRun(o.x * p.outStride + inner * p.innerStride + ky * p.kernel + kx, p.outStride);
    value = select(vec4f(), run, inside);
  }
  textureStore(packed, texel, gid.z, value);
}
`;
}

/**
 * The output gradient dY [N, C, OH, OW] as the weight-grad GEMM's A: layer n, texel
 * (c, oy·OW4 + ox4) holds dY[n][c][oy][4ox4 … 4ox4+3], zero past OW. Invocations run along the
 * texel rows (gid.x) so that neighbouring lanes read neighbouring source texels (~20% faster than
 * along channels).
 */
export function packPixelsSource(): string {
  return wgsl`
struct Params {
  width: u32, height: u32,
  channels: u32, imageHeight: u32, imageWidth: u32, pixelTexels: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
${linearSource}

@compute @workgroup_size(${PACK_SIDE}, ${PACK_SIDE})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let texel = vec2u(gid.y, gid.x);
  if (texel.x >= p.width || texel.y >= p.height) { return; }
  let y = texel.y / p.pixelTexels;
  let x = vec4u(4u * (texel.y % p.pixelTexels)) + vec4u(0u, 1u, 2u, 3u);
  let inside = x < vec4u(p.imageWidth) & vec4<bool>(texel.x < p.channels);
  var value = vec4f();
  if (inside.x) {
    let run = sourceRun(((gid.z * p.channels + texel.x) * p.imageHeight + y) * p.imageWidth + x.x, 1u);
    value = select(vec4f(), run, inside);
  }
  textureStore(packed, texel, gid.z, value);
}
`;
}
