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
  broadcastSource,
  fillSource,
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

export type { BinaryOp, UnaryOp } from "./elementwise.wgsl.ts";
export { gradUsesOutput } from "./elementwise.wgsl.ts";

/** out = f(x) elementwise, with the op's scalar parameters. */
export function unary(rt: Runtime, op: UnaryOp, out: TensorRef, x: TensorRef, alpha = 0, beta = 0): void {
  expectShape(out.shape, x.shape, `${op} output`);
  rt.dispatch({
    pipeline: rt.pipeline("unary", { op }, () => unarySource(op)),
    uniforms: new Uniforms().u32(x.size).f32(alpha, beta),
    bindings: [out.buffer, x.buffer],
    workgroups: flatGrid(x.size),
  });
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
  rt.dispatch({
    pipeline: rt.pipeline("unary-grad", { op }, () => unaryGradSource(op)),
    uniforms: new Uniforms().u32(gy.size).f32(alpha, beta),
    bindings: [gx.buffer, gy.buffer, saved.buffer],
    workgroups: flatGrid(gy.size),
  });
}

/** out = a ∘ b with broadcasting; `out` must have the broadcast shape. */
export function binary(rt: Runtime, op: BinaryOp, out: TensorRef, a: TensorRef, b: TensorRef): void {
  const shape = broadcastShapes(a.shape, b.shape, op);
  expectShape(out.shape, shape, `${op} output`);
  const contiguous = sameShape(a.shape, shape) && sameShape(b.shape, shape);
  const [, d1, d2, d3] = padTo4(shape, op);
  rt.dispatch({
    pipeline: rt.pipeline("binary", { op, contiguous }, () => binarySource(op, contiguous)),
    uniforms: new Uniforms().u32(out.size, d1, d2, d3)
      .u32(...broadcastStrides4(a.shape, shape, op))
      .u32(...broadcastStrides4(b.shape, shape, op)),
    bindings: [out.buffer, a.buffer, b.buffer],
    workgroups: flatGrid(out.size),
  });
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
