/**
 * Differentiable single-head self-attention over the H·W tokens of a feature map, as in the
 * PyTorch SR3 reference's `SelfAttention` (between its 1×1 `qkv` and `out` convolutions).
 * @module
 */
import * as kernels from "../../kernels/attention.ts";
import { isGradEnabled, record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * qkv [N, 3C, H, W] → [N, C, H, W]: q, k, v are the channel blocks [0, C), [C, 2C), [2C, 3C)
 * (the reference's `qkv.view(b, 1, 3C, h, w).chunk(3, dim=2)`), and
 * out[c, i] = Σ_j softmax_j(Σ_c' q[c', i]·k[c', j] / √C) · v[c, j] with a max-subtracted softmax.
 *
 * When the tape records and qkv needs a gradient, the L×L probabilities are materialised and kept
 * for the backward; otherwise (sampling) an online-softmax kernel computes the output with no L×L
 * intermediate at all.
 * @throws {ShapeError} unless qkv is [N, 3C, H, W]
 */
export function selfAttention(qkv: Tensor): Tensor {
  const geometry = kernels.attentionGeometry(qkv.shape);
  const rt = getRuntime();
  const out = Tensor.empty(geometry.outShape);
  const training = isGradEnabled() && qkv.requiresGrad;
  if (!training && geometry.channels <= kernels.FLASH_MAX_CHANNELS) {
    kernels.attentionFlash(rt, out, qkv);
    return out;
  }
  const probs = Tensor.empty([geometry.samples, geometry.tokens, geometry.tokens]);
  kernels.attentionForward(rt, out, probs, qkv);
  const recorded = record("selfAttention", [qkv], out, (gy) => {
    const dqkv = Tensor.empty(qkv.shape);
    const rowDot = Tensor.empty([geometry.samples, geometry.tokens]);
    kernels.attentionBackward(rt, dqkv, rowDot, gy, qkv, out, probs);
    rowDot.dispose();
    return [dqkv];
  });
  if (!recorded.node) probs.dispose();
  return recorded;
}
