/**
 * Dispatcher for sums and means over axes (`reduce.wgsl.ts`).
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import { Uniforms } from "./runtime.ts";
import type { Runtime } from "./runtime.ts";
import { contiguousStrides, expectShape, padTo4, type TensorRef } from "./shape_math.ts";
import { REDUCE_WORKGROUP, reduceColumnsSource, reduceRowsSource, reduceSumSource } from "./reduce.wgsl.ts";
import { lanesWithin, linearBindings, useTextures } from "./staging.ts";
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

/** x as [outer, kept, inner] with summed outer and inner axes, when its kept axes are one block. */
export interface CollapsedSum {
  /** Product of the summed axes before the kept block. */
  outer: number;
  /** Product of the kept axes. */
  kept: number;
  /** Product of the summed axes after the kept block. */
  inner: number;
}

/**
 * Collapses a sum of `shape` over (normalised) `axes` to [outer, kept, inner], or null when kept
 * axes sit on both sides of a summed one (e.g. axis 1 of [N, C, H, W]).
 */
export function collapseSum(shape: readonly number[], axes: readonly number[]): CollapsedSum | null {
  const result: CollapsedSum = { outer: 1, kept: 1, inner: 1 };
  let phase: "outer" | "kept" | "inner" = "outer";
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const summed = axes.includes(i);
    if (phase === "outer" && !summed) phase = "kept";
    else if (phase === "kept" && summed) phase = "inner";
    else if (phase === "inner" && !summed) return null;
    result[phase] *= d;
  }
  // Everything summed: one contiguous run.
  if (result.kept === 1) return { outer: 1, kept: 1, inner: result.outer * result.inner };
  return result;
}

/**
 * Sums a collapsed view from a linear texture: columns (inner = 1) one thread per texel of outputs
 * while each thread's loop is short, otherwise rows, one workgroup per output with as many lanes as
 * keep each lane's loop within the software adapter's limit. Returns false when no form fits.
 */
function reduceCollapsed(
  rt: Runtime,
  out: TensorRef,
  x: TensorRef,
  { outer, kept, inner }: CollapsedSum,
  scale: number,
): boolean {
  const uniforms = new Uniforms().u32(outer, kept, inner).f32(scale);
  if (inner === 1 && lanesWithin([1], () => outer) !== null) {
    const aligned = kept % 4 === 0 && out.buffer.size >= 4 * kept;
    const staged = linearBindings(rt, true, [x]);
    rt.dispatch({
      pipeline: rt.pipeline("reduce-columns", { aligned }, () => reduceColumnsSource(aligned)),
      uniforms,
      bindings: [out.buffer, ...staged.bindings],
      workgroups: flatGrid(aligned ? kept / 4 : kept, REDUCE_WORKGROUP),
    });
    staged.release();
    return true;
  }
  const aligned = inner % 4 === 0;
  const perLane = (lanes: number): number => Math.ceil((outer * inner) / (aligned ? 4 : 1) / lanes) + lanes;
  const lanes = lanesWithin([8, 64, 256], perLane);
  if (lanes === null) return false;
  const staged = linearBindings(rt, true, [x]);
  rt.dispatch({
    pipeline: rt.pipeline("reduce-rows", { aligned, lanes }, () => reduceRowsSource(aligned, lanes)),
    uniforms,
    bindings: [out.buffer, ...staged.bindings],
    workgroups: flatGrid(kept, 1),
  });
  staged.release();
  return true;
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
  const collapsed = collapseSum(x.shape, normalized);
  if (collapsed && useTextures(rt, x.size) && reduceCollapsed(rt, out, x, collapsed, scale)) return;
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
