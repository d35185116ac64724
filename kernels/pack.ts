/**
 * Dispatchers that pack tensors into pooled rgba32float array textures for the register-tiled
 * GEMM family (`pack.wgsl.ts`). Each returns a texture from `rt.acquireTexture`; the caller binds it
 * with {@link arrayView} and hands it back with `rt.releaseTexture` once its last reader is recorded.
 * @module
 */
import { C_BAND_ROWS } from "./gemm.wgsl.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { fitsLinear, notPowerOfTwo, stageLinear } from "./staging.ts";
import { arrayView, plainView } from "./texture_views.ts";
import {
  PACK_SIDE,
  packConvWeightsSource,
  packImageSource,
  packMatrixSource,
  packPixelsSource,
} from "./pack.wgsl.ts";

export { arrayView } from "./texture_views.ts";
export { fitsLinear };

/** Texels needed for `n` floats packed four to a texel. */
export function texelsOf(n: number): number {
  return Math.ceil(n / 4);
}

/** A pooled array texture of at least the given size, with sizes that are not powers of two. */
function acquirePacked(rt: Runtime, width: number, height: number, layers = 1): GPUTexture {
  return rt.acquireTexture(notPowerOfTwo(width), notPowerOfTwo(height), "rgba32float", notPowerOfTwo(layers));
}

/** Whether a width × height × layers texture fits the device's limits. */
export function fitsTexture(rt: Runtime, width: number, height: number, layers = 1): boolean {
  const limits = rt.device.limits;
  return notPowerOfTwo(width) <= limits.maxTextureDimension2D &&
    notPowerOfTwo(height) <= limits.maxTextureDimension2D &&
    notPowerOfTwo(layers) <= limits.maxTextureArrayLayers;
}

/** The texture a register-tiled GEMM stores C in (see `cTexelSource`), and its layers per slice. */
export interface ProductTexture {
  /** Texel (n4, m mod C_BAND_ROWS) of layer z·bands + ⌊m / C_BAND_ROWS⌋ holds C[z][m][4n4 …]. */
  texture: GPUTexture;
  /** Layers per slice. */
  bands: number;
}

/** Sizes of the output texture of an M × N product with `slices` slices. */
function productSize(rows: number, cols: number, slices: number): [number, number, number, number] {
  const bands = Math.ceil(rows / C_BAND_ROWS);
  return [texelsOf(cols), Math.min(rows, C_BAND_ROWS), bands * slices, bands];
}

/** Whether the output texture of an M × N product with `slices` slices fits the device. */
export function fitsProduct(rt: Runtime, rows: number, cols: number, slices: number): boolean {
  const [width, height, layers] = productSize(rows, cols, slices);
  return fitsTexture(rt, width, height, layers);
}

/** A pooled texture for C of an M × N product with `slices` slices. */
export function acquireProduct(rt: Runtime, rows: number, cols: number, slices: number): ProductTexture {
  const [width, height, layers, bands] = productSize(rows, cols, slices);
  return { texture: acquirePacked(rt, width, height, layers), bands };
}

/**
 * Stages `buffer`, runs the pack kernel over `width` × `height` × `layers` texels of `texture`
 * (`transposed`: the kernel's gid.x runs over texture rows), and frees the staging.
 */
function dispatchPack(
  rt: Runtime,
  name: string,
  source: () => string,
  texture: GPUTexture,
  [width, height, layers]: [number, number, number],
  uniforms: Uniforms,
  buffer: GPUBuffer,
  floats: number,
  transposed = false,
): void {
  const staged = stageLinear(rt, buffer, floats);
  const [x, y] = transposed ? [height, width] : [width, height];
  rt.dispatch({
    pipeline: rt.pipeline(name, {}, source),
    uniforms,
    bindings: [arrayView(texture), plainView(staged)],
    workgroups: [Math.ceil(x / PACK_SIDE), Math.ceil(y / PACK_SIDE), layers],
  });
  rt.releaseTexture(staged);
}

/** Where a matrix op(X)[layer][u][v] lives in a buffer. */
export interface StridedMatrix {
  /** The buffer holding X (`floats` floats). */
  buffer: GPUBuffer;
  /** Floats in the buffer that belong to X. */
  floats: number;
  /** Extent along u. */
  uCount: number;
  /** Extent along v. */
  vCount: number;
  /** Element stride of u. */
  uStride: number;
  /** Element stride of v. */
  vStride: number;
  /** Element stride between layers. */
  layerStride: number;
  /** Number of layers (batch elements). */
  layers: number;
}

/**
 * Packs a matrix as the GEMM's A: texel (m, k4) of each layer holds A[m][4k4 … 4k4+3]
 * (u = m, v = k), zero past K. Width M, height ⌈K/4⌉.
 */
export function packRowsByDepth(rt: Runtime, a: StridedMatrix): GPUTexture {
  const size: [number, number, number] = [a.uCount, texelsOf(a.vCount), a.layers];
  const texture = acquirePacked(rt, ...size);
  // A step along x moves one row of A, a step along y four columns: walk the smaller stride.
  const lanesAlongY = 4 * a.vStride < a.uStride;
  const uniforms = new Uniforms().u32(size[0], size[1], a.uCount, a.vCount)
    .u32(a.uStride, a.vStride, a.layerStride, 1, lanesAlongY ? 1 : 0);
  dispatchPack(rt, "pack-matrix", packMatrixSource, texture, size, uniforms, a.buffer, a.floats, lanesAlongY);
  return texture;
}

/**
 * Packs a matrix as the GEMM's B: texel (n4, k) of each layer holds B[k][4n4 … 4n4+3]
 * (u = n, v = k) for k < 4·⌈K/4⌉, zero past K and N. Width ⌈N/4⌉, height 4·⌈K/4⌉.
 * When B's rows already are whole texels of 256-byte-aligned rows it is copied, not packed.
 */
export function packColumnsByDepth(rt: Runtime, b: StridedMatrix): GPUTexture {
  const size: [number, number, number] = [texelsOf(b.uCount), 4 * texelsOf(b.vCount), b.layers];
  const texture = acquirePacked(rt, ...size);
  const rowBytes = b.uCount * 4;
  if (
    b.uStride === 1 && b.vStride === b.uCount && b.layerStride === b.uCount * b.vCount &&
    rowBytes % 256 === 0 &&
    size[1] === b.vCount
  ) {
    rt.copyBufferToTexture(
      { buffer: b.buffer, bytesPerRow: rowBytes, rowsPerImage: b.vCount },
      { texture },
      { width: size[0], height: size[1], depthOrArrayLayers: b.layers },
    );
    return texture;
  }
  // A step along x moves four columns of B, a step along y one row: walk the smaller stride.
  const lanesAlongY = b.vStride < 4 * b.uStride;
  const uniforms = new Uniforms().u32(size[0], size[1], b.uCount, b.vCount)
    .u32(b.uStride, b.vStride, b.layerStride, 0, lanesAlongY ? 1 : 0);
  dispatchPack(rt, "pack-matrix", packMatrixSource, texture, size, uniforms, b.buffer, b.floats, lanesAlongY);
  return texture;
}

/** An NCHW image in a buffer. */
export interface ImageSource {
  /** The buffer holding [N, C, H, W]. */
  buffer: GPUBuffer;
  /** Samples N. */
  samples: number;
  /** Channels C. */
  channels: number;
  /** Height H. */
  height: number;
  /** Width W. */
  width: number;
}

/** Floats of an image. */
function imageFloats(image: ImageSource): number {
  return image.samples * image.channels * image.height * image.width;
}

/**
 * Packs an NCHW image as channel texels with a zero border: layer n·⌈C/4⌉ + c4, texel
 * (x + border, y + border) holds channels 4c4 … 4c4+3 of pixel (x, y). The texture is
 * `width` × `height` texels (at least the image plus the border on both sides).
 */
export function packImage(
  rt: Runtime,
  image: ImageSource,
  border: number,
  width = image.width + 2 * border,
  height = image.height + 2 * border,
): GPUTexture {
  const channelTexels = texelsOf(image.channels);
  const size: [number, number, number] = [width, height, image.samples * channelTexels];
  const texture = acquireImage(rt, ...size);
  const uniforms = new Uniforms().u32(width, height, image.channels, channelTexels)
    .u32(image.height, image.width, border);
  dispatchPack(rt, "pack-image", packImageSource, texture, size, uniforms, image.buffer, imageFloats(image));
  return texture;
}

/** A pooled texture for a packed image of `width` × `height` texels (border included) and `layers` layers. */
export function acquireImage(rt: Runtime, width: number, height: number, layers: number): GPUTexture {
  return acquirePacked(rt, width, height, layers);
}

/** How convolution weights [Cout, Cin, k, k] map onto the GEMM's B (see `packConvWeightsSource`). */
export interface ConvWeightLayout {
  /** The weight buffer. */
  buffer: GPUBuffer;
  /** Kernel side k. */
  kernel: number;
  /** GEMM output channels (Cout forward, Cin input-grad). */
  outCount: number;
  /** Element stride of a GEMM output channel. */
  outStride: number;
  /** GEMM inner channels (Cin forward, Cout input-grad). */
  innerCount: number;
  /** Element stride of a GEMM inner channel. */
  innerStride: number;
  /** Taps along y; tap t reads kernel row kyBase + t·kyStep. */
  tapsY: number;
  /** Taps along x; tap t reads kernel column kxBase + t·kxStep. */
  tapsX: number;
  /** Kernel row of the first tap along y. */
  kyBase: number;
  /** Kernel-row step between taps (negative when flipped). */
  kyStep: number;
  /** Kernel column of the first tap along x. */
  kxBase: number;
  /** Kernel-column step between taps. */
  kxStep: number;
}

/**
 * Packs convolution weights as the GEMM's B: width ⌈O/4⌉, height 4·taps·⌈I/4⌉ (at least 1, so a
 * stride phase without taps still has a texture to bind).
 */
export function packConvWeights(rt: Runtime, w: ConvWeightLayout): GPUTexture {
  const innerTexels = texelsOf(w.innerCount);
  const rows = 4 * w.tapsY * w.tapsX * innerTexels;
  const size: [number, number, number] = [texelsOf(w.outCount), rows, 1];
  const texture = acquirePacked(rt, size[0], Math.max(1, rows));
  const uniforms = new Uniforms().u32(size[0], rows, w.outCount, w.innerCount, innerTexels)
    .u32(Math.max(1, w.tapsX), w.kernel)
    .i32(w.kyBase, w.kyStep, w.kxBase, w.kxStep);
  // A step along x moves four GEMM output channels, one along y (mostly) one inner channel.
  const lanesAlongY = w.innerStride < 4 * w.outStride;
  uniforms.u32(w.outStride, w.innerStride, lanesAlongY ? 1 : 0);
  const floats = w.outCount * w.innerCount * w.kernel * w.kernel;
  dispatchPack(
    rt,
    "pack-conv-weights",
    packConvWeightsSource,
    texture,
    size,
    uniforms,
    w.buffer,
    floats,
    lanesAlongY,
  );
  return texture;
}

/**
 * Packs an output gradient [N, C, OH, OW] as runs of four pixels: layer n, texel
 * (c, oy·⌈OW/4⌉ + ox4) holds dY[n][c][oy][4ox4 … 4ox4+3], zero past OW.
 */
export function packPixels(rt: Runtime, image: ImageSource): GPUTexture {
  const pixelTexels = texelsOf(image.width);
  const size: [number, number, number] = [image.channels, image.height * pixelTexels, image.samples];
  const texture = acquirePacked(rt, ...size);
  const uniforms = new Uniforms().u32(size[0], size[1], image.channels, image.height)
    .u32(image.width, pixelTexels);
  const floats = imageFloats(image);
  dispatchPack(rt, "pack-pixels", packPixelsSource, texture, size, uniforms, image.buffer, floats, true);
  return texture;
}
