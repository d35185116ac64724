/**
 * Sums and means over axes, and `sumTo` (the adjoint of broadcasting) used by binary-op gradients.
 * @module
 */
import * as kernels from "../../kernels/reduce.ts";
import { broadcastShapes, sameShape } from "../../kernels/shape_math.ts";
import { formatShape, ShapeError } from "../../base/errors.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";
import { broadcastTo } from "./broadcast.ts";

function reduce(x: Tensor, axes: readonly number[] | undefined, keepDims: boolean, mean: boolean): Tensor {
  const all = x.shape.map((_, i) => i);
  const normalized = kernels.normalizeAxes(x.shape, axes ?? all, mean ? "mean" : "sum");
  const kept = kernels.reducedShape(x.shape, normalized);
  const outShape = keepDims ? kept : x.shape.filter((_, i) => !normalized.includes(i));
  const count = x.size / kept.reduce((s, d) => s * d, 1);
  const out = Tensor.empty(outShape.length > 0 ? outShape : [1]);
  kernels.reduceSum(getRuntime(), out, x, normalized, mean ? 1 / count : 1);
  return record(mean ? "mean" : "sum", [x], out, (gy) => {
    const g = gy.view(kept);
    const spread = broadcastTo(g, x.shape, mean ? 1 / count : 1);
    g.dispose();
    return [spread];
  });
}

/** Σ of `x` over `axes` (all when omitted); reduced axes are dropped unless `keepDims`. */
export function sum(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  return reduce(x, axes, keepDims, false);
}

/** Mean of `x` over `axes` (all when omitted); reduced axes are dropped unless `keepDims`. */
export function mean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  return reduce(x, axes, keepDims, true);
}

/**
 * Sums `x` down to `shape`, the adjoint of broadcasting `shape` up to `x.shape`.
 * Not recorded on the tape: gradients call it.
 */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(x.shape, shape)) return x.view(shape);
  if (!sameShape(broadcastShapes(shape, x.shape, "sumTo"), x.shape)) {
    throw new ShapeError(`sumTo: ${formatShape(x.shape)} is not a broadcast of ${formatShape(shape)}`);
  }
  const offset = x.shape.length - shape.length;
  const axes = x.shape.map((_, i) => i).filter((i) =>
    i < offset || (shape[i - offset] === 1 && x.shape[i] !== 1)
  );
  const out = Tensor.empty(shape);
  kernels.reduceSum(getRuntime(), out, x, axes);
  return out;
}
