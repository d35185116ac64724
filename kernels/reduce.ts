/**
 * Dispatcher for sums and means over axes (`reduce.wgsl.ts`).
 * @module
 */
import { formatShape, ShapeError } from "./errors.ts";
import { Uniforms } from "./runtime.ts";
import type { Runtime } from "./runtime.ts";
import { contiguousStrides, expectShape, padTo4, type TensorRef } from "./shapes.ts";
import { REDUCE_WORKGROUP, reduceSumSource } from "./reduce.wgsl.ts";
import { flatGrid } from "./wgsl.ts";

/** The shape left after summing `axes` of `shape` with the reduced axes kept as size 1. */
export function reducedShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Validates and normalises axes (negative counts from the end, sorted, unique). */
export function normalizeAxes(shape: readonly number[], axes: readonly number[], what: string): number[] {
  const result = new Set<number>();
  for (const axis of axes) {
    const a = axis < 0 ? axis + shape.length : axis;
    if (!Number.isInteger(a) || a < 0 || a >= shape.length) {
      throw new ShapeError(`${what}: axis ${axis} is out of range for shape ${formatShape(shape)}`);
    }
    result.add(a);
  }
  return [...result].sort((x, y) => x - y);
}

/**
 * out = scale · Σ over `axes` of x. `out` holds the kept axes in order (its shape may keep the
 * reduced axes as 1 or drop them; only its size is checked against the kept dimensions).
 */
export function reduceSum(
  rt: Runtime,
  out: TensorRef,
  x: TensorRef,
  axes: readonly number[],
  scale = 1,
): void {
  const normalized = normalizeAxes(x.shape, axes, "sum");
  const kept = reducedShape(x.shape, normalized);
  expectShape([out.size], [kept.reduce((s, d) => s * d, 1)], "sum output size");
  const shape4 = padTo4(x.shape, "sum");
  const strides = contiguousStrides(shape4);
  const offset = 4 - x.shape.length;
  const isReduced = (i: number): boolean => normalized.includes(i - offset);
  const keptDims: number[] = [];
  const keptStrides: number[] = [];
  const redDims: number[] = [];
  const redStrides: number[] = [];
  shape4.forEach((d, i) => {
    if (isReduced(i)) {
      redDims.push(d);
      redStrides.push(strides[i]!);
    } else {
      keptDims.push(d);
      keptStrides.push(strides[i]!);
    }
  });
  const pad = (dims: number[], s: number[]): void => {
    while (dims.length < 4) {
      dims.unshift(1);
      s.unshift(0);
    }
  };
  pad(keptDims, keptStrides);
  pad(redDims, redStrides);
  const outSize = out.size;
  const redSize = x.size / outSize;
  const perThread = outSize >= 1024 || redSize <= 256;
  rt.dispatch({
    pipeline: rt.pipeline("reduce-sum", { perThread }, () => reduceSumSource(perThread)),
    uniforms: new Uniforms().u32(outSize, redSize).f32(scale).u32(0)
      .u32(keptDims[1]!, keptDims[2]!, keptDims[3]!, 0, ...keptStrides)
      .u32(redDims[1]!, redDims[2]!, redDims[3]!, 0, ...redStrides),
    bindings: [out.buffer, x.buffer],
    workgroups: perThread ? flatGrid(outSize, REDUCE_WORKGROUP) : flatGrid(outSize, 1),
  });
}
