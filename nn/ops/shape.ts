/**
 * Differentiable data movement: concat and split along an axis (the UNet's skip connections
 * concatenate channels), nearest ×2 upsampling and 2×2 average pooling.
 * @module
 */
import * as kernels from "../../kernels/shape.ts";
import { formatShape, ShapeError } from "../../base/errors.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";

/**
 * Concatenates tensors along `axis` (default 1, channels of NCHW). All other dimensions must agree.
 * @throws {ShapeError} naming the first mismatching shape
 */
export function concat(tensors: readonly Tensor[], axis = 1): Tensor {
  const first = tensors[0];
  if (!first) throw new ShapeError("concat: needs at least one tensor");
  const a = kernels.normalizeAxis(first.shape, axis, "concat");
  for (const t of tensors) {
    if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(
        `concat along axis ${axis}: ${formatShape(t.shape)} does not match ${formatShape(first.shape)}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[a] = tensors.reduce((total, t) => total + t.shape[a]!, 0);
  const rt = getRuntime();
  const out = Tensor.empty(shape);
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    offsets.push(offset);
    kernels.copySlab(rt, out, t, a, offset);
    offset += t.shape[a]!;
  }
  return record("concat", tensors, out, (gy, needs) =>
    tensors.map((t, k) => {
      if (!needs[k]) return null;
      const g = Tensor.empty(t.shape);
      kernels.copySlab(rt, g, gy, a, offsets[k]!, true);
      return g;
    }));
}

/** Entries [start, start + length) of `axis`, as a new tensor; its gradient is zero-padded back. */
function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  const shape = [...x.shape];
  shape[axis] = length;
  const rt = getRuntime();
  const out = Tensor.empty(shape);
  kernels.copySlab(rt, out, x, axis, start, true);
  return record("slice", [x], out, (gy) => {
    const g = Tensor.empty(x.shape);
    kernels.padSlab(rt, g, gy, axis, start);
    return [g];
  });
}

/**
 * Splits `x` along `axis` (default 1) into pieces of the given sizes, which must sum to the axis length.
 * @throws {ShapeError} when they do not
 */
export function split(x: Tensor, sizes: readonly number[], axis = 1): Tensor[] {
  const a = kernels.normalizeAxis(x.shape, axis, "split");
  const total = sizes.reduce((s, d) => s + d, 0);
  if (total !== x.shape[a] || sizes.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(
      `split: sizes [${sizes.join(", ")}] do not partition axis ${axis} of ${formatShape(x.shape)}`,
    );
  }
  let start = 0;
  return sizes.map((length) => {
    const piece = slice(x, a, start, length);
    start += length;
    return piece;
  });
}

/** Nearest-neighbour ×2 upsampling of x [N, C, H, W] → [N, C, 2H, 2W] (SR3's `Upsample`). */
export function upsampleNearest2x(x: Tensor): Tensor {
  if (x.shape.length !== 4) {
    throw new ShapeError(`upsampleNearest2x: expected [N, C, H, W], got ${formatShape(x.shape)}`);
  }
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const rt = getRuntime();
  const y = Tensor.empty([n, c, 2 * h, 2 * w]);
  kernels.upsample2x(rt, y, x);
  return record("upsampleNearest2x", [x], y, (gy) => {
    // Each input pixel fed four outputs: its gradient is their sum.
    const g = Tensor.empty(x.shape);
    kernels.pool2x(rt, g, gy, 1);
    return [g];
  });
}

/** 2×2 average pooling with stride 2 of x [N, C, H, W] (H and W even) → [N, C, H/2, W/2]. */
export function avgPool2x(x: Tensor): Tensor {
  if (x.shape.length !== 4 || x.shape[2]! % 2 !== 0 || x.shape[3]! % 2 !== 0) {
    throw new ShapeError(`avgPool2x: expected [N, C, H, W] with H, W even, got ${formatShape(x.shape)}`);
  }
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const rt = getRuntime();
  const y = Tensor.empty([n, c, h / 2, w / 2]);
  kernels.pool2x(rt, y, x, 0.25);
  return record("avgPool2x", [x], y, (gy) => {
    const g = Tensor.empty(x.shape);
    kernels.upsample2x(rt, g, gy, 0.25);
    return [g];
  });
}
