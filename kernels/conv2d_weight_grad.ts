/**
 * Dispatcher for the conv2d weight gradient (`conv2d_weight_grad.wgsl.ts`): a split-K GEMM whose
 * slices write partial gradients that a second pass adds in slice order.
 * @module
 */
import { type Conv2dGeometry, conv2dGeometry, type Conv2dOptions } from "./conv2d.ts";
import {
  conv2dWeightGradPlaceSource,
  conv2dWeightGradSource,
  type GradOutLayout,
} from "./conv2d_weight_grad.wgsl.ts";
import {
  type GemmFamily,
  placeGrid,
  REGISTER_WORKGROUP,
  registerTiledGrid,
  registerTiledLanes,
  WORKGROUP_DEPTH,
  workgroupTiledGrid,
} from "./gemm.wgsl.ts";
import {
  acquireProduct,
  arrayView,
  fitsLinear,
  fitsProduct,
  fitsTexture,
  packImage,
  packPixels,
  texelsOf,
} from "./pack.ts";
import { reduceSum } from "./reduce.ts";
import type { Runtime } from "./runtime.ts";
import { plainView } from "./texture_views.ts";
import { Uniforms } from "./runtime.ts";
import { forSampleChunks, largestFitting, sampleChunks } from "./sample_chunks.ts";
import { stageLinear } from "./staging.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { gemmFamily } from "./variants.ts";

/**
 * Workgroups a weight-grad dispatch aims for: enough to keep every core of a CPU adapter, or every
 * multiprocessor of a GPU, busy when M·N alone gives only a few tiles.
 */
const TARGET_WORKGROUPS: Record<GemmFamily, number> = { "register-tiled": 32, "workgroup-tiled": 256 };
/** The fewest K steps a slice is given, so slicing never costs more in partials than it gains. */
const MIN_SLICE_STEPS: Record<GemmFamily, number> = {
  "register-tiled": 64,
  "workgroup-tiled": 8 * WORKGROUP_DEPTH,
};

/**
 * How many split-K slices a grid of `tiles` workgroups gets, K being `segments` segments of
 * `stepsPerSegment` steps (slices hold whole segments).
 */
function sliceCount(family: GemmFamily, tiles: number, segments: number, stepsPerSegment = 1): number {
  const wanted = Math.ceil(TARGET_WORKGROUPS[family] / tiles);
  const fewestSegments = Math.ceil(MIN_SLICE_STEPS[family] / stepsPerSegment);
  return Math.max(1, Math.min(wanted, Math.floor(segments / fewestSegments)));
}

/**
 * dw = the gradient of conv2d with respect to its weight (shape `dw.shape`), given dy and the
 * forward input x. `family` defaults to the runtime's choice.
 */
export function conv2dBackwardWeight(
  rt: Runtime,
  dw: TensorRef,
  dy: TensorRef,
  x: TensorRef,
  options: Conv2dOptions = {},
  family: GemmFamily = gemmFamily(rt),
): void {
  const g = conv2dGeometry(x.shape, dw.shape, null, options);
  expectShape(dy.shape, g.outShape, "conv2d weight-grad dy");
  const { width, height } = imageExtent(g);
  const fits = (n: number): boolean => weightGradFits(rt, g, n);
  const chunk = family === "register-tiled" ? largestFitting(g.samples, fits) : 0;
  if (chunk === 0) workgroupTiled(rt, dw, dy, x, g);
  else if (chunk >= g.samples) {
    registerTiled(rt, dw, dy, x, g, registerTiledPlan(g, g.samples), width, height);
  } else {
    // Each chunk's gradient goes to its own partial; the partials are added in chunk order.
    const chunks = sampleChunks(g.samples, chunk).length;
    const partials = rt.acquire(4 * chunks * dw.size);
    forSampleChunks(rt, chunk, [dy, x], [], ([dys, xs], _, n, index) => {
      const part = { buffer: rt.acquire(4 * dw.size), shape: dw.shape, size: dw.size };
      registerTiled(rt, part, dys!, xs!, { ...g, samples: n }, registerTiledPlan(g, n), width, height);
      rt.copyBuffer(part.buffer, 0, partials, 4 * index * dw.size, 4 * dw.size);
      rt.release(part.buffer);
    });
    reduceSum(rt, dw, { buffer: partials, shape: [chunks, dw.size], size: chunks * dw.size }, [0]);
    rt.release(partials);
  }
}

/**
 * The packed image the register-tiled weight gradient reads: the padded input, wide enough for the
 * windows of the last texel of a dY row, which stands for up to three pixels past OW (they meet
 * dY's zeros). For a stride-1 convolution with k = 2p + 1 and W a multiple of 4 it is the forward's
 * image, so `conv2dBackwardWeightFromImage` can take that.
 */
export function imageExtent(g: Conv2dGeometry): { width: number; height: number } {
  const pixelTexels = texelsOf(g.outWidth);
  return {
    width: Math.max(g.width + 2 * g.padding, (4 * pixelTexels - 1) * g.stride + g.kernel),
    height: g.height + 2 * g.padding,
  };
}

/** Whether the register-tiled weight gradient runs `n` samples of `g` in one dispatch. */
export function weightGradFits(rt: Runtime, g: Conv2dGeometry, n: number): boolean {
  const pixelTexels = texelsOf(g.outWidth);
  const { width, height } = imageExtent(g);
  return fitsTexture(rt, g.outChannels, g.outHeight * pixelTexels, n) &&
    fitsTexture(rt, width, height, n * texelsOf(g.inChannels)) &&
    fitsLinear(rt, n * g.outChannels * g.outHeight * g.outWidth) &&
    fitsLinear(rt, n * g.inChannels * g.height * g.width) &&
    fitsProduct(
      rt,
      g.outChannels,
      4 * g.kernel * g.kernel * texelsOf(g.inChannels),
      registerTiledPlan(g, n).slices,
    );
}

/**
 * dw from dy and the forward input already packed by the caller (the image of
 * {@link imageExtent}, all samples; e.g. `groupNormForwardPacked`'s): the register-tiled weight
 * gradient without packing x again. The caller checks {@link weightGradFits} for every sample.
 */
export function conv2dBackwardWeightFromImage(
  rt: Runtime,
  dw: TensorRef,
  dy: TensorRef,
  image: GPUTexture,
  g: Conv2dGeometry,
): void {
  expectShape(dy.shape, g.outShape, "conv2d weight-grad dy");
  expectShape(dw.shape, [g.outChannels, g.inChannels, g.kernel, g.kernel], "conv2d weight gradient");
  weightGradFromImage(rt, dw, dy, image, g, registerTiledPlan(g, g.samples));
}

/**
 * Runs `dispatch` into `dw` directly, or into `slices` partials that are then summed into `dw` in
 * slice order.
 */
function withSlices(rt: Runtime, dw: TensorRef, slices: number, dispatch: (target: GPUBuffer) => void): void {
  if (slices === 1) {
    dispatch(dw.buffer);
    return;
  }
  const partials = rt.acquire(slices * dw.size * 4);
  dispatch(partials);
  reduceSum(rt, dw, { buffer: partials, shape: [slices, dw.size], size: slices * dw.size }, [0]);
  rt.release(partials);
}

/** How the register-tiled weight gradient splits: C's columns and the split-K slices of its rows. */
interface RegisterTiledPlan {
  channelSteps: number;
  pixelTexels: number;
  /** Columns of C: (ky, kx, channel) with channels padded to 4·⌈Cin/4⌉. */
  columns: number;
  /** K segments (output rows N·OH) and how many of them each slice takes. */
  totalRows: number;
  slices: number;
  sliceRows: number;
}

/** The plan for `samples` samples of geometry `g`. */
function registerTiledPlan(g: Conv2dGeometry, samples: number): RegisterTiledPlan {
  const channelSteps = texelsOf(g.inChannels);
  const pixelTexels = texelsOf(g.outWidth);
  const columns = 4 * g.kernel * g.kernel * channelSteps;
  const totalRows = samples * g.outHeight;
  // Workgroups' worth of busy lanes per slice: the lanes run over (column block, slice) pairs.
  const tiles = registerTiledLanes(g.outChannels, columns) / REGISTER_WORKGROUP;
  const sliceRows = Math.ceil(totalRows / sliceCount("register-tiled", tiles, totalRows, pixelTexels));
  // Every slice holds rows (the kernel's laneSlices() counts them the same way).
  const slices = Math.ceil(totalRows / sliceRows);
  return { channelSteps, pixelTexels, columns, totalRows, slices, sliceRows };
}

function registerTiled(
  rt: Runtime,
  dw: TensorRef,
  dy: TensorRef,
  x: TensorRef,
  g: Conv2dGeometry,
  plan: RegisterTiledPlan,
  width: number,
  height: number,
): void {
  const image = packImage(
    rt,
    { buffer: x.buffer, samples: g.samples, channels: g.inChannels, height: g.height, width: g.width },
    g.padding,
    width,
    height,
  );
  weightGradFromImage(rt, dw, dy, image, g, plan);
  rt.releaseTexture(image);
}

function weightGradFromImage(
  rt: Runtime,
  dw: TensorRef,
  dy: TensorRef,
  image: GPUTexture,
  g: Conv2dGeometry,
  plan: RegisterTiledPlan,
): void {
  // dY's NCHW texels are already rows of four pixels when OW is a multiple of 4.
  const layout: GradOutLayout = g.outWidth % 4 === 0 ? "linear" : "packed";
  const gradOut = layout === "linear" ? stageLinear(rt, dy.buffer, dy.size) : packPixels(rt, {
    buffer: dy.buffer,
    samples: g.samples,
    channels: g.outChannels,
    height: g.outHeight,
    width: g.outWidth,
  });
  const { channelSteps, pixelTexels, columns, totalRows, slices, sliceRows } = plan;
  const product = acquireProduct(rt, g.outChannels, columns, slices);
  rt.dispatch({
    pipeline: rt.pipeline(
      "conv2d-weight-grad",
      { family: "register-tiled", gradOut: layout },
      () => conv2dWeightGradSource("register-tiled", "cols", layout),
    ),
    uniforms: new Uniforms().u32(g.outChannels, channelSteps, g.inChannels, g.kernel, pixelTexels)
      .u32(g.outHeight, totalRows, sliceRows, g.stride, product.bands),
    bindings: [
      arrayView(product.texture),
      layout === "linear" ? plainView(gradOut) : arrayView(gradOut),
      arrayView(image),
    ],
    workgroups: registerTiledGrid(g.outChannels, columns, slices, "cols"),
  });
  rt.dispatch({
    pipeline: rt.pipeline("conv2d-weight-grad-place", {}, conv2dWeightGradPlaceSource),
    uniforms: new Uniforms().u32(g.outChannels, channelSteps, g.inChannels, g.kernel, slices, product.bands),
    bindings: [dw.buffer, arrayView(product.texture)],
    workgroups: placeGrid(g.outChannels, columns, 1),
  });
  rt.releaseTexture(product.texture);
  rt.releaseTexture(gradOut);
}

function workgroupTiled(rt: Runtime, dw: TensorRef, dy: TensorRef, x: TensorRef, g: Conv2dGeometry): void {
  const columns = g.inChannels * g.kernel * g.kernel;
  const totalPixels = g.samples * g.outHeight * g.outWidth;
  const tiles = workgroupTiledGrid(g.outChannels, columns, 1).reduce((a, b) => a * b, 1);
  const slices = sliceCount("workgroup-tiled", tiles, totalPixels);
  const slicePixels = Math.ceil(totalPixels / slices);
  withSlices(rt, dw, slices, (target) =>
    rt.dispatch({
      pipeline: rt.pipeline(
        "conv2d-weight-grad",
        { family: "workgroup-tiled" },
        () => conv2dWeightGradSource("workgroup-tiled", "rows"),
      ),
      uniforms: new Uniforms().u32(g.outChannels, columns, g.inChannels, g.kernel, g.height, g.width)
        .u32(g.outHeight, g.outWidth, g.stride, g.padding, slicePixels, totalPixels, dw.size),
      bindings: [target, dy.buffer, x.buffer],
      workgroups: workgroupTiledGrid(g.outChannels, columns, slices),
    }));
}
