/**
 * conv2d(SiLU(groupNorm(x))) as one differentiable op, what every UNet block runs. On the
 * register-tiled kernels the norm writes its output straight into the packed image the convolution
 * reads (`groupNormForwardPacked`): the activation between them never exists in NCHW, the
 * convolution skips its packing pass, and the weight gradient reads the same image instead of
 * packing x again: two of the three packing passes of a block's convolution are gone.
 * Wherever the kernels cannot take that path (the GPU kernel family, strided or non-"same"
 * convolutions, planes or group sizes that are not multiples of 4, widths that are not when a
 * backward will run, device limits) it is exactly conv2d(groupNormSilu(x)).
 * @module
 */
import {
  conv2dFromImage,
  type Conv2dGeometry,
  conv2dGeometry,
  type Conv2dOptions,
  forwardFits,
} from "../../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../../kernels/conv2d_input_grad.ts";
import {
  conv2dBackwardWeightFromImage,
  imageExtent,
  weightGradFits,
} from "../../kernels/conv2d_weight_grad.ts";
import { groupNormBackward, groupNormForwardPacked, groupNormPacks } from "../../kernels/group_norm.ts";
import { reduceSum } from "../../kernels/reduce.ts";
import { pool2x } from "../../kernels/shape.ts";
import type { Runtime } from "../../kernels/runtime.ts";
import { gemmFamily } from "../../kernels/variants.ts";
import { isGradEnabled, record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";
import { conv2d } from "./conv2d.ts";
import { groupNormSilu } from "./group_norm.ts";
import { upsampleNearest2x } from "./shape.ts";

/** The group norm in front of the convolution: groups, γ [C], β [C] and eps. */
export interface GroupNormParams {
  /** Groups G (divides C). */
  groups: number;
  /** γ, [C]. */
  gamma: Tensor;
  /** β, [C]. */
  beta: Tensor;
  /** Added to the variance (default 1e-5, as PyTorch). */
  eps?: number;
}

/**
 * conv2d(SiLU(groupNorm(x, norm)), weight, bias, options), fused where the kernels allow (see the
 * module doc); the output is the convolution's. With `upsample` the activation is upsampled ×2
 * (nearest) before the convolution, as the paper-style UNet's up blocks do.
 * @throws {ShapeError} naming the shapes that do not fit, before any work is queued
 */
export function groupNormSiluConv2d(
  x: Tensor,
  norm: GroupNormParams,
  weight: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
  upsample = false,
): Tensor {
  const { groups, gamma, beta } = norm;
  const eps = norm.eps ?? 1e-5;
  const upscale = upsample ? 2 : 1;
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const convInput = x.shape.length === 4 ? [n, c, upscale * h, upscale * w] : x.shape;
  const g = conv2dGeometry(convInput, weight.shape, bias?.shape ?? null, options);
  const rt = getRuntime();
  const recording = isGradEnabled() && [x, gamma, beta, weight, bias].some((t) => t?.requiresGrad);
  if (!fuses(rt, x, groups, g, upscale, recording)) {
    const activated = groupNormSilu(x, groups, gamma, beta, eps);
    return conv2d(upsample ? upsampleNearest2x(activated) : activated, weight, bias, options);
  }
  const stats = Tensor.empty([g.samples, groups, 2]);
  const image = groupNormForwardPacked(rt, stats, x, gamma, beta, groups, eps, true, g.padding, upscale);
  // The image is the saved activation: it lives as long as the statistics the backward also reads.
  stats.onDispose(() => rt.releaseTexture(image));
  const out = Tensor.empty(g.outShape);
  conv2dFromImage(rt, out, image, weight, bias, g);
  const inputs = bias ? [x, gamma, beta, weight, bias] : [x, gamma, beta, weight];
  const recorded = record("groupNormSiluConv2d", inputs, out, (gy, needs) => {
    const grads: (Tensor | null)[] = [null, null, null, null, null];
    if (needs[3]) {
      grads[3] = Tensor.empty(weight.shape);
      conv2dBackwardWeightFromImage(rt, grads[3], gy, image, g);
    }
    if (needs[4]) {
      grads[4] = Tensor.empty([g.outChannels]);
      reduceSum(rt, grads[4], gy, [0, 2, 3]);
    }
    if (needs[0] || needs[1] || needs[2]) {
      let dh = Tensor.empty(convInput);
      conv2dBackwardInput(rt, dh, gy, weight, options);
      if (upsample) {
        // Each activation pixel fed a 2 × 2 block of the convolution's input: its gradient is their sum.
        const summed = Tensor.empty(x.shape);
        pool2x(rt, summed, dh, 1);
        dh.dispose();
        dh = summed;
      }
      const norms = {
        dx: Tensor.empty(x.shape),
        dGamma: Tensor.empty(gamma.shape),
        dBeta: Tensor.empty(beta.shape),
        channelSums: Tensor.empty([g.samples, g.inChannels, 2]),
      };
      groupNormBackward(rt, norms, dh, x, stats, gamma, beta, groups, true);
      for (const t of [dh, norms.channelSums]) t.dispose();
      [norms.dx, norms.dGamma, norms.dBeta].forEach((t, i) => {
        if (needs[i]) grads[i] = t;
        else t.dispose();
      });
    }
    return grads.slice(0, inputs.length);
  });
  // Without a tape entry nothing reads the statistics or the image again.
  if (!recorded.node) stats.dispose();
  return recorded;
}

/**
 * Whether the fused path runs: register-tiled kernels, a stride-1 "same" convolution, fitting shapes;
 * and when a backward will run, the weight gradient's image must be the forward's (W a multiple of 4).
 */
function fuses(
  rt: Runtime,
  x: Tensor,
  groups: number,
  g: Conv2dGeometry,
  upscale: 1 | 2,
  recording: boolean,
): boolean {
  const sameImage = (): boolean => {
    const { width, height } = imageExtent(g);
    return width === g.width + 2 * g.padding && height === g.height + 2 * g.padding &&
      weightGradFits(rt, g, g.samples);
  };
  return gemmFamily(rt) === "register-tiled" && g.stride === 1 && g.kernel === 2 * g.padding + 1 &&
    groupNormPacks(rt, x.shape, groups, g.padding, upscale) && forwardFits(rt, g, g.samples) &&
    (!recording || sameImage());
}
