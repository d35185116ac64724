/**
 * Dispatchers for depth-to-space and space-to-depth (`pixel_shuffle` / `pixel_unshuffle`), each
 * the other's inverse and adjoint, with the shape arithmetic both they and the ops use.
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import { type PixelShuffleDirection, pixelShuffleSource } from "./pixel_shuffle.wgsl.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { flatGrid } from "./wgsl.ts";

function checkFactor(r: number, what: string): void {
  if (!Number.isInteger(r) || r < 1) {
    throw new ShapeError(`${what}: the factor must be a positive integer, got ${r}`);
  }
}

function dims4(shape: readonly number[], what: string): [number, number, number, number] {
  if (shape.length !== 4) throw new ShapeError(`${what}: expected [N, C, H, W], got ${formatShape(shape)}`);
  return shape as [number, number, number, number];
}

/**
 * The output shape of depth-to-space by `r`: [N, C·r², H, W] → [N, C, H·r, W·r].
 * @throws {ShapeError} unless `shape` is 4-D with channels a multiple of r², and r a positive integer
 */
export function depthToSpaceShape(shape: readonly number[], r: number, what = "depthToSpace"): number[] {
  checkFactor(r, what);
  const [n, c, h, w] = dims4(shape, what);
  if (c % (r * r) !== 0) {
    throw new ShapeError(
      `${what}: channels of ${formatShape(shape)} must be a multiple of r² = ${r * r} for r = ${r}`,
    );
  }
  return [n, c / (r * r), h * r, w * r];
}

/**
 * The output shape of space-to-depth by `r`: [N, C, H·r, W·r] → [N, C·r², H, W].
 * @throws {ShapeError} unless `shape` is 4-D with height and width multiples of r, and r a positive integer
 */
export function spaceToDepthShape(shape: readonly number[], r: number, what = "spaceToDepth"): number[] {
  checkFactor(r, what);
  const [n, c, h, w] = dims4(shape, what);
  if (h % r !== 0 || w % r !== 0) {
    throw new ShapeError(`${what}: height and width of ${formatShape(shape)} must be multiples of r = ${r}`);
  }
  return [n, c * r * r, h / r, w / r];
}

/** Records the permutation; `height`/`width` are the low-resolution (depth-layout) ones. */
function permute(
  rt: Runtime,
  y: TensorRef,
  x: TensorRef,
  r: number,
  height: number,
  width: number,
  direction: PixelShuffleDirection,
): void {
  if (y.size === 0) return;
  if (r === 1) {
    // Both layouts coincide: a buffer copy, which is a memcpy on lavapipe and a blit on GPUs.
    rt.copyBuffer(x.buffer, 0, y.buffer, 0, 4 * x.size);
    return;
  }
  // Whole output texels need output rows of whole texels.
  const texels = (direction === "depthToSpace" ? width * r : width) % 4 === 0;
  rt.dispatch({
    pipeline: rt.pipeline(
      "pixel-shuffle",
      { direction, texels },
      () => pixelShuffleSource(direction, texels),
    ),
    uniforms: new Uniforms().u32(y.size, r, height, width),
    bindings: [y.buffer, x.buffer],
    workgroups: flatGrid(texels ? y.size / 4 : y.size),
  });
}

/**
 * y [N, C, H·r, W·r] = depth-to-space of x [N, C·r², H, W], PyTorch's `pixel_shuffle`:
 * y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w].
 * @throws {ShapeError} when x does not split into r² channel groups or y has the wrong shape
 */
export function depthToSpace(rt: Runtime, y: TensorRef, x: TensorRef, r: number): void {
  expectShape(y.shape, depthToSpaceShape(x.shape, r), "depthToSpace output");
  permute(rt, y, x, r, x.shape[2]!, x.shape[3]!, "depthToSpace");
}

/**
 * y [N, C·r², H, W] = space-to-depth of x [N, C, H·r, W·r], PyTorch's `pixel_unshuffle` (the
 * inverse, and the adjoint, of {@link depthToSpace}): y[n, c·r² + i·r + j, h, w] = x[n, c, h·r + i, w·r + j].
 * @throws {ShapeError} when x's height or width is not a multiple of r or y has the wrong shape
 */
export function spaceToDepth(rt: Runtime, y: TensorRef, x: TensorRef, r: number): void {
  const shape = spaceToDepthShape(x.shape, r);
  expectShape(y.shape, shape, "spaceToDepth output");
  permute(rt, y, x, r, shape[2]!, shape[3]!, "spaceToDepth");
}
