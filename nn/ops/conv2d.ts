/**
 * Differentiable 2-D convolution (PyTorch's `conv2d`: cross-correlation, zero padding, square
 * kernels) on the implicit-GEMM kernels of `kernels/conv2d.ts`: the input gradient is the
 * transposed convolution, the weight gradient a split-K GEMM over every output pixel, the bias
 * gradient a sum over samples and pixels.
 * @module
 */
import { conv2d as convolve, conv2dGeometry } from "../../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../../kernels/conv2d_input_grad.ts";
import type { Conv2dOptions } from "../../kernels/conv2d.ts";
import { conv2dBackwardWeight } from "../../kernels/conv2d_weight_grad.ts";
import { reduceSum } from "../../kernels/reduce.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

export type { Conv2dOptions } from "../../kernels/conv2d.ts";

/**
 * Convolves x [N, Cin, H, W] with weight [Cout, Cin, k, k] (+ bias [Cout]); the output is
 * [N, Cout, ⌊(H + 2p − k)/s⌋ + 1, ⌊(W + 2p − k)/s⌋ + 1].
 * @throws {ShapeError} naming the shapes that do not fit, before any work is queued
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x.shape, weight.shape, bias?.shape ?? null, options);
  const rt = getRuntime();
  const out = Tensor.empty(g.outShape);
  convolve(rt, out, x, weight, bias, options);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record("conv2d", inputs, out, (gy, needs) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      dx = Tensor.empty(x.shape);
      conv2dBackwardInput(rt, dx, gy, weight, options);
    }
    if (needs[1]) {
      dw = Tensor.empty(weight.shape);
      conv2dBackwardWeight(rt, dw, gy, x, options);
    }
    if (needs[2]) {
      db = Tensor.empty([g.outChannels]);
      reduceSum(rt, db, gy, [0, 2, 3]);
    }
    return [dx, dw, db];
  });
}
