/**
 * Dispatchers for 1×1 convolutions without packing passes (`conv2d_pointwise.wgsl.ts`): the forward
 * and the input gradient, which `conv2d` and `conv2dBackwardInput` hand over when
 * {@link takesPointwise} allows. The weight gradient stays with `conv2d_weight_grad.ts`.
 * @module
 */
import { conv2dPointwiseSource } from "./conv2d_pointwise.wgsl.ts";
import { registerTiledGrid } from "./gemm.wgsl.ts";
import type { Runtime } from "./runtime.ts";
import { plainView } from "./texture_views.ts";
import { Uniforms } from "./runtime.ts";
import type { TensorRef } from "./shape_math.ts";
import { acquireLinear, fitsLinear, stageLinear, unstageLinear } from "./staging.ts";

/** The sizes of a convolution these kernels read (a `Conv2dGeometry` of `conv2d.ts` has them). */
export interface PointwiseGeometry {
  /** N. */
  samples: number;
  /** Cin. */
  inChannels: number;
  /** Cout. */
  outChannels: number;
  /** H. */
  height: number;
  /** W. */
  width: number;
  /** Kernel side (1 for these kernels). */
  kernel: number;
  /** Stride (1). */
  stride: number;
  /** Padding (0). */
  padding: number;
}

/**
 * Whether a convolution of `g` runs as a pointwise GEMM on the register-tiled family: 1×1, stride 1,
 * no padding, H·W a multiple of 4, and input and output within a linear texture.
 */
export function takesPointwise(rt: Runtime, g: PointwiseGeometry): boolean {
  const plane = g.height * g.width;
  return g.kernel === 1 && g.stride === 1 && g.padding === 0 && plane % 4 === 0 &&
    fitsLinear(rt, g.samples * Math.max(g.inChannels, g.outChannels) * plane);
}

/** out = conv2d(x, w) + bias for a 1×1 convolution of `g` ({@link takesPointwise}). */
export function conv2dPointwise(
  rt: Runtime,
  out: TensorRef,
  x: TensorRef,
  w: TensorRef,
  bias: TensorRef | null,
  g: PointwiseGeometry,
): void {
  run(rt, out, x, w, bias, g, {
    rows: g.outChannels,
    depth: g.inChannels,
    rowStride: g.inChannels,
    depthStride: 1,
  });
}

/** dx = the input gradient of a 1×1 convolution of `g` given dy: Wᵀ·dy per sample. */
export function conv2dPointwiseInputGrad(
  rt: Runtime,
  dx: TensorRef,
  dy: TensorRef,
  w: TensorRef,
  g: PointwiseGeometry,
): void {
  run(rt, dx, dy, w, null, g, {
    rows: g.inChannels,
    depth: g.outChannels,
    rowStride: 1,
    depthStride: g.inChannels,
  });
}

function run(
  rt: Runtime,
  out: TensorRef,
  x: TensorRef,
  w: TensorRef,
  bias: TensorRef | null,
  g: PointwiseGeometry,
  a: { rows: number; depth: number; rowStride: number; depthStride: number },
): void {
  const pixelTexels = (g.height * g.width) / 4;
  const weights = stageLinear(rt, w.buffer, w.size);
  const input = stageLinear(rt, x.buffer, x.size);
  const output = acquireLinear(rt, out.size);
  rt.dispatch({
    pipeline: rt.pipeline("conv2d-pointwise", {}, conv2dPointwiseSource),
    uniforms: new Uniforms().u32(
      a.rows,
      a.depth,
      pixelTexels,
      g.samples,
      a.rowStride,
      a.depthStride,
      bias ? 1 : 0,
    ),
    bindings: [plainView(output), plainView(weights), plainView(input), bias?.buffer ?? w.buffer],
    workgroups: registerTiledGrid(a.rows, 4 * pixelTexels, g.samples, "cols"),
  });
  unstageLinear(rt, output, out.buffer, out.size);
  for (const t of [weights, input, output]) rt.releaseTexture(t);
}
