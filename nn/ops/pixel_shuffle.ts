/**
 * Differentiable depth-to-space and space-to-depth (PyTorch's `pixel_shuffle` and
 * `pixel_unshuffle`). Both are permutations, so each one's gradient is the other applied to the
 * output gradient.
 * @module
 */
import * as kernels from "../../kernels/pixel_shuffle.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * Rearranges x [N, C·r², H, W] into [N, C, H·r, W·r] with
 * out[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w], exactly as PyTorch's `pixel_shuffle`
 * (a sub-pixel convolution's upsampling step).
 * @throws {ShapeError} unless x is 4-D with channels a multiple of r², and r a positive integer
 */
export function pixelShuffle(x: Tensor, r: number): Tensor {
  const shape = kernels.depthToSpaceShape(x.shape, r, "pixelShuffle");
  const rt = getRuntime();
  const y = Tensor.empty(shape);
  kernels.depthToSpace(rt, y, x, r);
  return record("pixelShuffle", [x], y, (gy) => {
    const g = Tensor.empty(x.shape);
    kernels.spaceToDepth(rt, g, gy, r);
    return [g];
  });
}

/**
 * Rearranges x [N, C, H·r, W·r] into [N, C·r², H, W], the inverse of {@link pixelShuffle}, exactly
 * as PyTorch's `pixel_unshuffle`: out[n, c·r² + i·r + j, h, w] = x[n, c, h·r + i, w·r + j].
 * @throws {ShapeError} unless x is 4-D with height and width multiples of r, and r a positive integer
 */
export function pixelUnshuffle(x: Tensor, r: number): Tensor {
  const shape = kernels.spaceToDepthShape(x.shape, r, "pixelUnshuffle");
  const rt = getRuntime();
  const y = Tensor.empty(shape);
  kernels.spaceToDepth(rt, y, x, r);
  return record("pixelUnshuffle", [x], y, (gy) => {
    const g = Tensor.empty(x.shape);
    kernels.depthToSpace(rt, g, gy, r);
    return [g];
  });
}
