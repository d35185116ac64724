/**
 * Dispatchers for conv2d forward (`conv2d.wgsl.ts`), the register-tiled and workgroup-tiled dispatches
 * the input gradient (`conv2d_input_grad.ts`) reuses, and the shape rules every conv2d kernel shares.
 * Zero padding, square kernels of any odd or even size, any stride. On the register-tiled family
 * 1×1 convolutions go to `conv2d_pointwise.ts`, and `conv2dFromImage` takes an input its producer
 * already packed (`nn/ops/norm_conv2d.ts`).
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import { type GemmFamily, placeGrid, registerTiledGrid, workgroupTiledGrid } from "./gemm.wgsl.ts";
import { conv2dPlaceSource, conv2dSource } from "./conv2d.wgsl.ts";
import {
  acquireProduct,
  arrayView,
  fitsLinear,
  fitsProduct,
  fitsTexture,
  packConvWeights,
  packImage,
  texelsOf,
} from "./pack.ts";
import type { Runtime } from "./runtime.ts";
import { plainView } from "./texture_views.ts";
import { Uniforms } from "./runtime.ts";
import { conv2dPointwise, takesPointwise } from "./conv2d_pointwise.ts";
import { packedWeights, releasePackedWeights } from "./frozen_weights.ts";
import { forSampleChunks, largestFitting } from "./sample_chunks.ts";
import { acquireLinear, unstageLinear } from "./staging.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { gemmFamily } from "./variants.ts";

/** Stride and zero padding of a convolution. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: number;
  /** Zero padding on every side (default 0). */
  padding?: number;
}

/** The sizes of one convolution. */
export interface Conv2dGeometry {
  /** N. */
  samples: number;
  /** Cin. */
  inChannels: number;
  /** H and W of the input. */
  height: number;
  /** Width of the input. */
  width: number;
  /** Cout. */
  outChannels: number;
  /** Kernel side k. */
  kernel: number;
  /** Stride s. */
  stride: number;
  /** Padding p. */
  padding: number;
  /** ⌊(H + 2p − k)/s⌋ + 1. */
  outHeight: number;
  /** ⌊(W + 2p − k)/s⌋ + 1. */
  outWidth: number;
  /** [N, Cout, OH, OW]. */
  outShape: number[];
}

/**
 * Checks input [N, Cin, H, W], weight [Cout, Cin, k, k] and bias [Cout] and returns the sizes.
 * @throws {ShapeError} naming the shapes that do not fit
 */
export function conv2dGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  biasShape: readonly number[] | null,
  options: Conv2dOptions = {},
): Conv2dGeometry {
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  const both = `input ${formatShape(xShape)} and weight ${formatShape(wShape)}`;
  if (!Number.isInteger(stride) || stride < 1 || !Number.isInteger(padding) || padding < 0) {
    throw new ShapeError(`conv2d: stride ${stride} and padding ${padding} must be integers ≥ 1 and ≥ 0`);
  }
  if (xShape.length !== 4 || wShape.length !== 4) {
    throw new ShapeError(`conv2d: ${both} must be [N, Cin, H, W] and [Cout, Cin, k, k]`);
  }
  const [samples, inChannels, height, width] = xShape as [number, number, number, number];
  const [outChannels, weightChannels, kernel, kernelWidth] = wShape as [number, number, number, number];
  if (weightChannels !== inChannels) {
    throw new ShapeError(`conv2d: ${both} disagree on input channels (${inChannels} vs ${weightChannels})`);
  }
  if (kernelWidth !== kernel) throw new ShapeError(`conv2d: weight ${formatShape(wShape)} must be square`);
  if (biasShape && (biasShape.length !== 1 || biasShape[0] !== outChannels)) {
    throw new ShapeError(
      `conv2d: bias ${formatShape(biasShape)} must be [${outChannels}] for weight ${formatShape(wShape)}`,
    );
  }
  const outHeight = Math.floor((height + 2 * padding - kernel) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernel) / stride) + 1;
  if (outHeight < 1 || outWidth < 1) {
    throw new ShapeError(`conv2d: ${both} with padding ${padding} leave no output pixels`);
  }
  return {
    samples,
    inChannels,
    height,
    width,
    outChannels,
    kernel,
    stride,
    padding,
    outHeight,
    outWidth,
    outShape: [samples, outChannels, outHeight, outWidth],
  };
}

/**
 * Whether the register-tiled forward runs `n` samples of `g` in one dispatch: the padded image, the
 * packed weights, the input and C all within the device's limits.
 */
export function forwardFits(rt: Runtime, g: Conv2dGeometry, n: number): boolean {
  const { inChannels, kernel, padding } = g;
  return fitsTexture(rt, g.width + 2 * padding, g.height + 2 * padding, n * texelsOf(inChannels)) &&
    fitsTexture(rt, texelsOf(g.outChannels), 4 * kernel * kernel * texelsOf(inChannels)) &&
    fitsLinear(rt, n * inChannels * g.height * g.width) &&
    fitsProduct(rt, n * g.outHeight * g.outWidth, g.outChannels, 1);
}

/** out = conv2d(x, w) + bias, zero padded. `family` defaults to the runtime's choice. */
export function conv2d(
  rt: Runtime,
  out: TensorRef,
  x: TensorRef,
  w: TensorRef,
  bias: TensorRef | null,
  options: Conv2dOptions = {},
  family: GemmFamily = gemmFamily(rt),
): void {
  const g = conv2dGeometry(x.shape, w.shape, bias?.shape ?? null, options);
  expectShape(out.shape, g.outShape, "conv2d output");
  if (family === "register-tiled" && takesPointwise(rt, g)) {
    conv2dPointwise(rt, out, x, w, bias, g);
    return;
  }
  const chunk = family === "register-tiled" ? largestFitting(g.samples, (n) => forwardFits(rt, g, n)) : 0;
  if (chunk === 0) {
    workgroupTiled(rt, out, x, w, bias, g, "forward");
    return;
  }
  const weights = forwardWeights(rt, w.buffer, g);
  forSampleChunks(rt, chunk, [x], [out], ([xs], [outs], samples) => {
    const image = packImage(
      rt,
      { buffer: xs!.buffer, samples, channels: g.inChannels, height: g.height, width: g.width },
      g.padding,
    );
    forwardFromImage(rt, outs!, image, weights, bias?.buffer ?? null, xs!.buffer, g, samples);
    rt.releaseTexture(image);
  });
  releasePackedWeights(rt, weights);
}

/**
 * out = conv2d(x, w) + bias where x is already packed (`packImage` with border p, all of `g`'s
 * samples, as `groupNormForwardPacked` writes it): the register-tiled forward without its packing
 * pass. The caller checks {@link forwardFits} for every sample; the image stays the caller's.
 */
export function conv2dFromImage(
  rt: Runtime,
  out: TensorRef,
  image: GPUTexture,
  w: TensorRef,
  bias: TensorRef | null,
  g: Conv2dGeometry,
): void {
  expectShape(out.shape, g.outShape, "conv2d output");
  const weights = forwardWeights(rt, w.buffer, g);
  forwardFromImage(rt, out, image, weights, bias?.buffer ?? null, w.buffer, g, g.samples);
  releasePackedWeights(rt, weights);
}

/** The forward's weights [Cout, Cin, k, k] as the GEMM's B (kept for a frozen scope, see `frozen_weights.ts`). */
function forwardWeights(rt: Runtime, buffer: GPUBuffer, g: Conv2dGeometry): GPUTexture {
  const { inChannels, kernel } = g;
  return packedWeights(rt, buffer, "conv2d-forward", () =>
    packConvWeights(rt, {
      buffer,
      kernel,
      outCount: g.outChannels,
      outStride: inChannels * kernel * kernel,
      innerCount: inChannels,
      innerStride: kernel * kernel,
      tapsY: kernel,
      tapsX: kernel,
      kyBase: 0,
      kyStep: 1,
      kxBase: 0,
      kxStep: 1,
    }));
}

function forwardFromImage(
  rt: Runtime,
  out: TensorRef,
  image: GPUTexture,
  weights: GPUTexture,
  bias: GPUBuffer | null,
  unbound: GPUBuffer,
  g: Conv2dGeometry,
  samples: number,
): void {
  registerTiled(rt, out, image, weights, bias, unbound, {
    samples,
    latticeWidth: g.outWidth,
    latticeHeight: g.outHeight,
    channels: g.inChannels,
    tapsY: g.kernel,
    tapsX: g.kernel,
    inputStride: g.stride,
    inputX: 0,
    inputY: 0,
    outChannels: g.outChannels,
    outStep: 1,
    outX: 0,
    outY: 0,
    outWidth: g.outWidth,
    outHeight: g.outHeight,
  });
}

/** Geometry of one register-tiled conv dispatch (see the Params of `conv2d.wgsl.ts`). */
export interface ConvLattice {
  samples: number;
  latticeWidth: number;
  latticeHeight: number;
  channels: number;
  tapsY: number;
  tapsX: number;
  inputStride: number;
  inputX: number;
  inputY: number;
  outChannels: number;
  outStep: number;
  outX: number;
  outY: number;
  outWidth: number;
  outHeight: number;
}

/**
 * One register-tiled conv dispatch and the pass that places its C into `out`; `unbound` fills the
 * bias binding when there is no bias.
 */
export function registerTiled(
  rt: Runtime,
  out: TensorRef,
  image: GPUTexture,
  weights: GPUTexture,
  bias: GPUBuffer | null,
  unbound: GPUBuffer,
  c: ConvLattice,
): void {
  const pixels = c.samples * c.latticeHeight * c.latticeWidth;
  const channelSteps = texelsOf(c.channels);
  const taps = c.tapsY * c.tapsX;
  const uniforms = (bands: number): Uniforms =>
    new Uniforms()
      .u32(pixels, c.latticeWidth, c.latticeHeight, channelSteps, Math.max(1, c.tapsX), taps)
      .u32(c.inputStride, c.inputX, c.inputY, c.outChannels, bias ? 1 : 0, bands);
  const operands = [arrayView(image), arrayView(weights), bias ?? unbound];
  const workgroups = registerTiledGrid(pixels, c.outChannels, 1, "rows");
  const floats = pixels * c.outChannels;
  if (writesQuads(rt, c, floats)) {
    const linear = acquireLinear(rt, floats);
    rt.dispatch({
      pipeline: rt.pipeline(
        "conv2d",
        { family: "register-tiled", store: "quads" },
        () => conv2dSource("register-tiled", "rows", "quads"),
      ),
      uniforms: uniforms(0),
      bindings: [plainView(linear), ...operands],
      workgroups,
    });
    unstageLinear(rt, linear, out.buffer, floats);
    rt.releaseTexture(linear);
    return;
  }
  const product = acquireProduct(rt, pixels, c.outChannels, 1);
  rt.dispatch({
    pipeline: rt.pipeline(
      "conv2d",
      { family: "register-tiled" },
      () => conv2dSource("register-tiled", "rows"),
    ),
    uniforms: uniforms(product.bands),
    bindings: [arrayView(product.texture), ...operands],
    workgroups,
  });
  rt.dispatch({
    pipeline: rt.pipeline("conv2d-place", {}, conv2dPlaceSource),
    uniforms: new Uniforms().u32(pixels, c.latticeWidth, c.latticeHeight, c.outChannels)
      .u32(c.outStep, c.outX, c.outY, c.outWidth, c.outHeight, product.bands),
    bindings: [out.buffer, arrayView(product.texture)],
    workgroups: placeGrid(pixels, c.outChannels, 1),
  });
  rt.releaseTexture(product.texture);
}

/**
 * Whether the kernel writes `out` itself ("quads", see `conv2dSource`): the lattice is the whole
 * output, its plane (H·W) a multiple of 4, and the output fits a linear texture.
 */
function writesQuads(rt: Runtime, c: ConvLattice, floats: number): boolean {
  return c.outStep === 1 && c.outX === 0 && c.outY === 0 && c.latticeWidth === c.outWidth &&
    c.latticeHeight === c.outHeight && (c.outWidth * c.outHeight) % 4 === 0 && fitsLinear(rt, floats);
}

export function workgroupTiled(
  rt: Runtime,
  out: TensorRef,
  image: TensorRef,
  w: TensorRef,
  bias: TensorRef | null,
  g: Conv2dGeometry,
  direction: "forward" | "input-grad",
): void {
  const { kernel, stride, padding } = g;
  const kk = kernel * kernel;
  const forward = direction === "forward";
  const [outChannels, innerChannels] = forward
    ? [g.outChannels, g.inChannels]
    : [g.inChannels, g.outChannels];
  const [outHeight, outWidth] = forward ? [g.outHeight, g.outWidth] : [g.height, g.width];
  const [inHeight, inWidth] = forward ? [g.height, g.width] : [g.outHeight, g.outWidth];
  const pixels = g.samples * outHeight * outWidth;
  rt.dispatch({
    pipeline: rt.pipeline(
      "conv2d",
      { family: "workgroup-tiled" },
      () => conv2dSource("workgroup-tiled", "rows"),
    ),
    uniforms: new Uniforms()
      .u32(
        pixels,
        outChannels,
        innerChannels * kk,
        kernel,
        innerChannels,
        inHeight,
        inWidth,
        outHeight,
        outWidth,
      )
      .u32(forward ? stride : 1).i32(forward ? 1 : -1, forward ? -padding : padding).u32(forward ? 1 : stride)
      .u32(forward ? g.inChannels * kk : kk, forward ? kk : g.inChannels * kk, bias ? 1 : 0),
    bindings: [out.buffer, image.buffer, w.buffer, bias?.buffer ?? w.buffer],
    workgroups: workgroupTiledGrid(pixels, outChannels, 1),
  });
}
