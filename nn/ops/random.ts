/**
 * Random tensor factories on the GPU, from the counter-based Philox generator: a (seed, stream)
 * pair always gives the same numbers, on any adapter (uniform values bit for bit; normal values up
 * to the last-place rounding of the adapter's log/sin/cos). These are the diffusion noise source.
 * @module
 */
import { fillRandom } from "../../kernels/random.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * A tensor of independent N(mean, std²) samples from stream `stream` of `seed`.
 * @param seed non-negative safe integer
 * @param stream an integer in [0, 2³²) separating independent uses of one seed
 */
export function randomNormal(shape: readonly number[], seed: number, stream = 0, mean = 0, std = 1): Tensor {
  const out = Tensor.empty(shape);
  fillRandom(getRuntime(), out, "normal", seed, stream, mean, std);
  return out;
}

/**
 * A tensor of independent U[low, high) samples from stream `stream` of `seed`
 * (24-bit resolution: (k / 2²⁴) scaled to the interval).
 */
export function randomUniform(shape: readonly number[], seed: number, stream = 0, low = 0, high = 1): Tensor {
  const out = Tensor.empty(shape);
  fillRandom(getRuntime(), out, "uniform", seed, stream, low, high);
  return out;
}
