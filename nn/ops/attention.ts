/**
 * Differentiable single-head self-attention over the H·W tokens of a feature map, as in the
 * PyTorch SR3 reference's `SelfAttention` (between its 1×1 `qkv` and `out` convolutions).
 * @module
 */
import * as kernels from "../../kernels/attention.ts";
import { isGradEnabled, record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * How a forward that records no gradient runs: "flash" never materialises the L×L probabilities
 * (online softmax); "materialized" computes them in a transient buffer with the training path's
 * products; "auto" picks flash on hardware adapters and whenever the probabilities would exceed
 * {@link MATERIALIZED_SAMPLING_BYTES}, and the materialised products on software adapters, where
 * they are about 3× faster (lavapipe: workgroup memory loads cost as much as storage loads, and
 * it re-JITs the larger flash variants on every dispatch). "auto" never picks flash above
 * `FLASH_MAX_CHANNELS` (1024) channels; asking for it there throws a ShapeError.
 */
export type AttentionSampling = "auto" | "flash" | "materialized";

/** Largest N·L²·4 bytes of probabilities "auto" materialises on a software adapter (64 MiB). */
export const MATERIALIZED_SAMPLING_BYTES = 64 * 1024 * 1024;

/** Options of {@link selfAttention}. */
export interface SelfAttentionOptions {
  /** The no-grad path (default "auto"). */
  sampling?: AttentionSampling;
}

/**
 * qkv [N, 3C, H, W] → [N, C, H, W]: q, k, v are the channel blocks [0, C), [C, 2C), [2C, 3C)
 * (the reference's `qkv.view(b, 1, 3C, h, w).chunk(3, dim=2)`), and
 * out[c, i] = Σ_j softmax_j(Σ_c' q[c', i]·k[c', j] / √C) · v[c, j] with a max-subtracted softmax.
 *
 * When the tape records and qkv needs a gradient, the L×L probabilities are kept for the backward;
 * otherwise `options.sampling` chooses the path.
 * @throws {ShapeError} unless qkv is [N, 3C, H, W]
 */
export function selfAttention(qkv: Tensor, options: SelfAttentionOptions = {}): Tensor {
  const geometry = kernels.attentionGeometry(qkv.shape);
  const rt = getRuntime();
  const out = Tensor.empty(geometry.outShape);
  const probsShape = [geometry.samples, geometry.tokens, geometry.tokens];
  if (!(isGradEnabled() && qkv.requiresGrad)) {
    const probsBytes = 4 * probsShape.reduce((a, b) => a * b);
    if (useFlash(options.sampling ?? "auto", rt.adapter.isSoftware, probsBytes, geometry.channels)) {
      kernels.attentionFlash(rt, out, qkv);
    } else {
      const probs = Tensor.empty(probsShape);
      kernels.attentionForward(rt, out, probs, qkv);
      probs.dispose();
    }
    return out;
  }
  const probs = Tensor.empty(probsShape);
  kernels.attentionForward(rt, out, probs, qkv);
  return record("selfAttention", [qkv], out, (gy) => {
    const dqkv = Tensor.empty(qkv.shape);
    const rowDot = Tensor.empty([geometry.samples, geometry.tokens]);
    kernels.attentionBackward(rt, dqkv, rowDot, gy, qkv, out, probs);
    rowDot.dispose();
    return [dqkv];
  });
}

function useFlash(
  sampling: AttentionSampling,
  software: boolean,
  probsBytes: number,
  channels: number,
): boolean {
  if (sampling !== "auto") return sampling === "flash";
  if (channels > kernels.FLASH_MAX_CHANNELS) return false;
  return !software || probsBytes > MATERIALIZED_SAMPLING_BYTES;
}
