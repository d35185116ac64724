/**
 * The sinusoidal encoding of the continuous noise level γ that conditions the SR3 UNet.
 * @module
 */
import * as kernels from "../../kernels/encoding.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * levels [N] or [N, 1] → [N, dim]: the PyTorch SR3 reference's `PositionalEncoding(dim)`, with
 * count = dim/2 and f_k = exp(−ln(10⁴)·k/count): [sin(γ·f_k) for k < count] then [cos(γ·f_k)].
 * γ is used unscaled. Differentiable in γ (rarely needed: levels are data).
 * @throws {ShapeError} when levels is not [N] / [N, 1] or dim is not even
 */
export function noiseLevelEncoding(levels: Tensor, dim: number): Tensor {
  const samples = kernels.encodingSamples(levels.shape, dim);
  const rt = getRuntime();
  const out = Tensor.empty([samples, dim]);
  kernels.noiseLevelEncoding(rt, out, levels, dim);
  return record("noiseLevelEncoding", [levels], out, (gy) => {
    const grad = Tensor.empty(levels.shape);
    kernels.noiseLevelEncodingGrad(rt, grad, gy, levels, dim);
    return [grad];
  });
}
