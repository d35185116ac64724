/**
 * Materialising a broadcast (the gradient of a sum): `scale · x` repeated to a larger shape.
 * @module
 */
import { broadcastAffine } from "../../kernels/elementwise.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/** `scale · x` broadcast to `shape` as a new tensor (not recorded on the tape). */
export function broadcastTo(x: Tensor, shape: readonly number[], scale = 1): Tensor {
  const out = Tensor.empty(shape);
  broadcastAffine(getRuntime(), out, x, scale, 0);
  return out;
}
