/**
 * Differentiable group normalisation with affine parameters, and its SiLU-fused form (every UNet
 * block runs GroupNorm → Swish, so fusing saves one full read and write of the activation).
 * @module
 */
import * as kernels from "../../kernels/group_norm.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

function normalize(
  name: string,
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps: number,
  silu: boolean,
): Tensor {
  const geometry = kernels.groupNormGeometry(x.shape, groups, gamma.shape, beta.shape);
  const rt = getRuntime();
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([geometry.samples, groups, 2]);
  kernels.groupNormForward(rt, y, stats, x, gamma, beta, groups, eps, silu);
  const recorded = record(name, [x, gamma, beta], y, (gy, needs) => {
    const grads = {
      dx: Tensor.empty(x.shape),
      dGamma: Tensor.empty(gamma.shape),
      dBeta: Tensor.empty(beta.shape),
      channelSums: Tensor.empty([geometry.samples, geometry.channels, 2]),
    };
    kernels.groupNormBackward(rt, grads, gy, x, stats, gamma, beta, groups, silu);
    grads.channelSums.dispose();
    const keep = (t: Tensor, needed: boolean | undefined): Tensor | null => {
      if (needed) return t;
      t.dispose();
      return null;
    };
    return [keep(grads.dx, needs[0]), keep(grads.dGamma, needs[1]), keep(grads.dBeta, needs[2])];
  });
  // Without a tape entry nothing will read the statistics again.
  if (!recorded.node) stats.dispose();
  return recorded;
}

/**
 * Group normalisation of x [N, C, H, W] over `groups` groups of C/groups channels, then per-channel
 * γ [C] and β [C]: y = (x − mean)/√(var + eps)·γ + β, statistics per (sample, group) with the
 * biased variance (as `torch.nn.GroupNorm`).
 * @throws {ShapeError} when `groups` does not divide C or γ/β are not [C]
 */
export function groupNorm(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  return normalize("groupNorm", x, groups, gamma, beta, eps, false);
}

/** SiLU(groupNorm(x, groups, γ, β, eps)) in one kernel, with its exact fused backward. */
export function groupNormSilu(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  return normalize("groupNormSilu", x, groups, gamma, beta, eps, true);
}
