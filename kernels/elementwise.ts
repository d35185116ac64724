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
import {
  broadcastShapes,
  broadcastStrides4,
  expectShape,
  padTo4,
  sameShape,
  type TensorRef,
} from "./shapes.ts";
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
  const [, d1, d2, d3] = padTo4(shape, op);
  const readOf = (operand: TensorRef): OperandRead => {
    if (sameShape(operand.shape, shape)) return "full";
    const innermost = operand.shape[operand.shape.length - 1] ?? 1; // shapes align at the right
    return innermost === 1 && d3 % 4 === 0 ? "rowConstant" : "broadcast";
  };
  const v: BinaryVariant = {
    op,
    texture: useTextures(rt, out.size, out),
    aRead: readOf(a),
    bRead: readOf(b),
  };
  const staged = linearBindings(rt, v.texture, [a, b]);
  rt.dispatch({
    pipeline: rt.pipeline("binary", { ...v }, () => binarySource(v)),
    uniforms: new Uniforms().u32(out.size, d1, d2, d3)
      .u32(...broadcastStrides4(a.shape, shape, op))
      .u32(...broadcastStrides4(b.shape, shape, op))
      .f32(scale),
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
