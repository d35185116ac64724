/**
 * Differentiable reshape: a view of the same storage whose gradient is the incoming gradient viewed
 * back in the input's shape.
 * @module
 */
import { record } from "../autodiff.ts";
import type { Tensor } from "../tensor.ts";

/** `x` with another shape of the same size (no copy). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return record("reshape", [x], x.view(shape), (gy) => [gy.view(x.shape)]);
}
