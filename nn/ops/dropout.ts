/**
 * Inverted dropout with a counter-based mask: nothing is stored for the backward, which regenerates
 * the same mask from (seed, stream, element index).
 * @module
 */
import { dropoutMask } from "../../kernels/random.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * Zeroes each element with probability `p` and scales the rest by 1/(1 − p), so the expectation is
 * unchanged. Use a fresh `seed` or `stream` per step and per layer. Returns `x` itself when p = 0.
 * @throws {RangeError} unless 0 ≤ p < 1
 */
export function dropout(x: Tensor, p: number, seed: number, stream = 0): Tensor {
  if (p === 0) return x;
  const rt = getRuntime();
  const y = Tensor.empty(x.shape);
  dropoutMask(rt, y, x, p, seed, stream);
  return record("dropout", [x], y, (gy) => {
    const gx = Tensor.empty(x.shape);
    dropoutMask(rt, gx, gy, p, seed, stream);
    return [gx];
  });
}
