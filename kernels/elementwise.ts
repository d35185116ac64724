/**
 * Dispatchers for the elementwise kernels in `elementwise.wgsl.ts`. Shapes are checked here,
 * before anything is queued.
 * @module
 */
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { flatGrid } from "./wgsl.ts";
import {
  type BinaryOp,
  binarySource,
  type BinaryVariant,
  broadcastSource,
  fillSource,
  type OperandRead,
  unaryGradSource,
  type UnaryOp,
  unarySource,
} from "./elementwise.wgsl.ts";
import { broadcastShapes, broadcastStrides4, expectShape, padTo4, type TensorRef } from "./shape_math.ts";
import { linearBindings, useTextures } from "./staging.ts";

export type { BinaryOp, UnaryOp } from "./elementwise.wgsl.ts";
export { gradUsesOutput } from "./elementwise.wgsl.ts";

/** Threads for `size` outputs: one per float, or one per texel of four when reading textures. */
function grid(size: number, texture: boolean): [number, number] {
  return flatGrid(texture ? Math.ceil(size / 4) : size);
}

/** out = f(x) elementwise, with the op's scalar parameters. */
export function unary(rt: Runtime, op: UnaryOp, out: TensorRef, x: TensorRef, alpha = 0, beta = 0): void {
  expectShape(out.shape, x.shape, `${op} output`);
  const texture = useTextures(rt, x.size, out);
  const staged = linearBindings(rt, texture, [x]);
  rt.dispatch({
    pipeline: rt.pipeline("unary", { op, texture }, () => unarySource(op, texture)),
    uniforms: new Uniforms().u32(x.size).f32(alpha, beta),
    bindings: [out.buffer, ...staged.bindings],
    workgroups: grid(x.size, texture),
  });
  staged.release();
}

/** gx = gy · f'(saved) elementwise; `saved` is y or x as `gradUsesOutput(op)` says. */
export function unaryGrad(
  rt: Runtime,
  op: Exclude<UnaryOp, "affine">,
  gx: TensorRef,
  gy: TensorRef,
  saved: TensorRef,
  alpha = 0,
  beta = 0,
): void {
  expectShape(gy.shape, saved.shape, `${op} gradient`);
  expectShape(gx.shape, saved.shape, `${op} gradient output`);
  const texture = useTextures(rt, gy.size, gx);
  const staged = linearBindings(rt, texture, [gy, saved]);
  rt.dispatch({
    pipeline: rt.pipeline("unary-grad", { op, texture }, () => unaryGradSource(op, texture)),
    uniforms: new Uniforms().u32(gy.size).f32(alpha, beta),
    bindings: [gx.buffer, ...staged.bindings],
    workgroups: grid(gy.size, texture),
  });
  staged.release();
}

/** An output's dimensions (rank 4) with the strides two operands are read through. */
export interface BroadcastLayout {
  /** Output dimensions, outermost first. */
  dims: [number, number, number, number];
  /** a's strides (0 where a is broadcast). */
  a: [number, number, number, number];
  /** b's strides. */
  b: [number, number, number, number];
}

/**
 * Merges neighbouring dimensions along which both operands step contiguously (or both repeat), and
 * left-pads to rank 4: h [N, C, H, W] + emb [N, C, 1, 1] becomes [1, 1, N·C, H·W] with emb's strides
 * [0, 0, 1, 0], so a texel of outputs finds its emb value with one division.
 */
export function collapseBroadcast(
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
): BroadcastLayout {
  const kept: [number, number, number][] = [];
  shape.forEach((d, k) => {
    if (d === 1) return;
    const last = kept[kept.length - 1];
    if (last && last[1] === aStrides[k]! * d && last[2] === bStrides[k]! * d) {
      kept[kept.length - 1] = [last[0] * d, aStrides[k]!, bStrides[k]!];
    } else {
      kept.push([d, aStrides[k]!, bStrides[k]!]);
    }
  });
  while (kept.length < 4) kept.unshift([1, 0, 0]);
  const pick = (
    i: number,
  ): [number, number, number, number] => [kept[0]![i]!, kept[1]![i]!, kept[2]![i]!, kept[3]![i]!];
  return { dims: pick(0), a: pick(1), b: pick(2) };
}

/**
 * How the texture kernel reads an operand with these strides over `dims`: whole texels when it has
 * the output's layout, one value per texel when it repeats along an innermost dimension that is a
 * multiple of 4 (by row number when its other dimensions are laid out contiguously), else per float.
 */
function readOf(dims: readonly number[], strides: readonly number[]): OperandRead {
  // Whether the strides of dims[0 … last] are row-major (dimensions of 1 take any stride).
  const rowMajor = (last: number): boolean => {
    let stride = 1;
    for (let k = last; k >= 0; k--) {
      if (dims[k]! > 1 && strides[k] !== stride) return false;
      stride *= dims[k]!;
    }
    return true;
  };
  if (rowMajor(3)) return "full";
  if (strides[3] !== 0 || dims[3]! % 4 !== 0) return "broadcast";
  return rowMajor(2) ? "perRow" : "rowConstant";
}

/** out = scale · (a ∘ b) with broadcasting; `out` must have the broadcast shape. */
export function binary(
  rt: Runtime,
  op: BinaryOp,
  out: TensorRef,
  a: TensorRef,
  b: TensorRef,
  scale = 1,
): void {
  const shape = broadcastShapes(a.shape, b.shape, op);
  expectShape(out.shape, shape, `${op} output`);
  const layout = collapseBroadcast(
    padTo4(shape, op),
    broadcastStrides4(a.shape, shape, op),
    broadcastStrides4(b.shape, shape, op),
  );
  const texture = useTextures(rt, out.size, out);
  // Storage kernels read one float per thread: only full operands skip the index arithmetic.
  const read = (strides: readonly number[]): OperandRead => {
    const how = readOf(layout.dims, strides);
    return texture || how === "full" ? how : "broadcast";
  };
  const v: BinaryVariant = { op, texture, aRead: read(layout.a), bRead: read(layout.b) };
  const [, d1, d2, d3] = layout.dims;
  const staged = linearBindings(rt, v.texture, [a, b]);
  rt.dispatch({
    pipeline: rt.pipeline("binary", { ...v }, () => binarySource(v)),
    uniforms: new Uniforms().u32(out.size, d1, d2, d3).u32(...layout.a).u32(...layout.b).f32(scale),
    bindings: [out.buffer, ...staged.bindings],
    workgroups: grid(out.size, v.texture),
  });
  staged.release();
}

/** out = alpha · x + beta, with x broadcast to out's shape. */
export function broadcastAffine(rt: Runtime, out: TensorRef, x: TensorRef, alpha = 1, beta = 0): void {
  expectShape(broadcastShapes(x.shape, out.shape, "broadcast"), out.shape, "broadcast output");
  const [, d1, d2, d3] = padTo4(out.shape, "broadcast");
  rt.dispatch({
    pipeline: rt.pipeline("broadcast", {}, broadcastSource),
    uniforms: new Uniforms().u32(out.size, d1, d2, d3).u32(
      ...broadcastStrides4(x.shape, out.shape, "broadcast"),
    )
      .f32(alpha, beta),
    bindings: [out.buffer, x.buffer],
    workgroups: flatGrid(out.size),
  });
}

/** Sets every element of `out` to `value` (no upload, so no flush). */
export function fill(rt: Runtime, out: TensorRef, value: number): void {
  rt.dispatch({
    pipeline: rt.pipeline("fill", {}, fillSource),
    uniforms: new Uniforms().u32(out.size).f32(value),
    bindings: [out.buffer],
    workgroups: flatGrid(out.size),
  });
}
