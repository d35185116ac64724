/**
 * Dispatcher for batched matrix products (`matmul.wgsl.ts`): shape checks, then either the packing
 * passes and the register-tiled kernel, or the workgroup-tiled kernel on the buffers themselves.
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import { type GemmFamily, placeGrid, registerTiledGrid, workgroupTiledGrid } from "./gemm.wgsl.ts";
import { matmulPlaceSource, matmulSource } from "./matmul.wgsl.ts";
import {
  acquireProduct,
  arrayView,
  fitsLinear,
  fitsProduct,
  fitsTexture,
  packColumnsByDepth,
  packRowsByDepth,
  texelsOf,
} from "./pack.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { gemmFamily } from "./variants.ts";

/** Which operands enter the product transposed. */
export interface MatmulOptions {
  /** Use Aᵀ: `a` is stored [K, M] (or [B, K, M]). */
  transA?: boolean;
  /** Use Bᵀ: `b` is stored [N, K] (or [B, N, K]). */
  transB?: boolean;
}

/** The sizes of one product op(A)·op(B). */
export interface MatmulGeometry {
  /** Batch elements (1 when both operands are 2-D). */
  batch: number;
  /** Rows M of the result. */
  rows: number;
  /** Columns N of the result. */
  cols: number;
  /** Inner dimension K. */
  depth: number;
  /** Whether A / B have a batch dimension (a 2-D operand is shared by every batch element). */
  aBatched: boolean;
  /** Whether B has a batch dimension. */
  bBatched: boolean;
  /** [M, N], or [B, M, N] when either operand is batched. */
  outShape: number[];
}

/**
 * Checks the operands of op(A)·op(B) and returns the product's sizes.
 * @throws {ShapeError} naming both shapes when they do not multiply
 */
export function matmulGeometry(
  aShape: readonly number[],
  bShape: readonly number[],
  options: MatmulOptions = {},
): MatmulGeometry {
  const mismatch = (why: string): ShapeError =>
    new ShapeError(
      `matmul: A ${formatShape(aShape)}${options.transA ? "ᵀ" : ""} and B ${formatShape(bShape)}${
        options.transB ? "ᵀ" : ""
      } ${why}`,
    );
  if (aShape.length < 2 || aShape.length > 3 || bShape.length < 2 || bShape.length > 3) {
    throw mismatch("must be 2-D [rows, cols] or 3-D [batch, rows, cols]");
  }
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const [rows, depth] = options.transA ? [aCols, aRows] : [aRows, aCols];
  const [bDepth, cols] = options.transB ? [bCols, bRows] : [bRows, bCols];
  if (depth !== bDepth) throw mismatch(`have inner dimensions ${depth} and ${bDepth}`);
  const aBatched = aShape.length === 3;
  const bBatched = bShape.length === 3;
  if (aBatched && bBatched && aShape[0] !== bShape[0]) {
    throw mismatch(`have batches ${aShape[0]} and ${bShape[0]}`);
  }
  const batch = aBatched ? aShape[0]! : bBatched ? bShape[0]! : 1;
  const outShape = aBatched || bBatched ? [batch, rows, cols] : [rows, cols];
  return { batch, rows, cols, depth, aBatched, bBatched, outShape };
}

/**
 * out = op(A)·op(B) (+ bias[n] on every row), batched over the leading dimension. `family`
 * defaults to the runtime's choice (`variants.ts`); the register-tiled family falls back to the
 * workgroup-tiled one for operands larger than the adapter's textures.
 */
export function matmul(
  rt: Runtime,
  out: TensorRef,
  a: TensorRef,
  b: TensorRef,
  options: MatmulOptions = {},
  bias: TensorRef | null = null,
  family: GemmFamily = gemmFamily(rt),
): void {
  const g = matmulGeometry(a.shape, b.shape, options);
  expectShape(out.shape, g.outShape, "matmul output");
  if (bias) expectShape(bias.shape, [g.cols], "matmul bias");
  const aLayers = g.aBatched ? g.batch : 1;
  const bLayers = g.bBatched ? g.batch : 1;
  const packable = fitsTexture(rt, g.rows, texelsOf(g.depth), aLayers) &&
    fitsTexture(rt, texelsOf(g.cols), 4 * texelsOf(g.depth), bLayers) && fitsLinear(rt, a.size) &&
    fitsLinear(rt, b.size) && fitsProduct(rt, g.rows, g.cols, g.batch);
  if (family === "register-tiled" && packable) registerTiled(rt, out, a, b, options, bias, g);
  else workgroupTiled(rt, out, a, b, options, bias, g);
}

function registerTiled(
  rt: Runtime,
  out: TensorRef,
  a: TensorRef,
  b: TensorRef,
  options: MatmulOptions,
  bias: TensorRef | null,
  g: MatmulGeometry,
): void {
  const { rows, cols, depth } = g;
  const aTexture = packRowsByDepth(rt, {
    buffer: a.buffer,
    floats: a.size,
    uCount: rows,
    vCount: depth,
    uStride: options.transA ? 1 : depth,
    vStride: options.transA ? rows : 1,
    layerStride: rows * depth,
    layers: g.aBatched ? g.batch : 1,
  });
  const bTexture = packColumnsByDepth(rt, {
    buffer: b.buffer,
    floats: b.size,
    uCount: cols,
    vCount: depth,
    uStride: options.transB ? depth : 1,
    vStride: options.transB ? 1 : cols,
    layerStride: depth * cols,
    layers: g.bBatched ? g.batch : 1,
  });
  const product = acquireProduct(rt, rows, cols, g.batch);
  rt.dispatch({
    pipeline: rt.pipeline(
      "matmul",
      { family: "register-tiled" },
      () => matmulSource("register-tiled", "rows"),
    ),
    uniforms: new Uniforms().u32(rows, cols, texelsOf(depth), bias ? 1 : 0)
      .u32(g.aBatched ? 1 : 0, g.bBatched ? 1 : 0, product.bands),
    bindings: [
      arrayView(product.texture),
      arrayView(aTexture),
      arrayView(bTexture),
      bias?.buffer ?? a.buffer,
    ],
    workgroups: registerTiledGrid(rows, cols, g.batch, "rows"),
  });
  rt.releaseTexture(aTexture);
  rt.releaseTexture(bTexture);
  rt.dispatch({
    pipeline: rt.pipeline("matmul-place", {}, matmulPlaceSource),
    uniforms: new Uniforms().u32(rows, cols, product.bands),
    bindings: [out.buffer, arrayView(product.texture)],
    workgroups: placeGrid(rows, cols, g.batch),
  });
  rt.releaseTexture(product.texture);
}

function workgroupTiled(
  rt: Runtime,
  out: TensorRef,
  a: TensorRef,
  b: TensorRef,
  options: MatmulOptions,
  bias: TensorRef | null,
  g: MatmulGeometry,
): void {
  const { rows, cols, depth } = g;
  rt.dispatch({
    pipeline: rt.pipeline(
      "matmul",
      { family: "workgroup-tiled" },
      () => matmulSource("workgroup-tiled", "rows"),
    ),
    uniforms: new Uniforms().u32(rows, cols, depth, bias ? 1 : 0)
      .u32(g.aBatched ? rows * depth : 0, options.transA ? 1 : depth, options.transA ? rows : 1)
      .u32(g.bBatched ? depth * cols : 0, options.transB ? 1 : cols, options.transB ? depth : 1)
      .u32(rows * cols),
    bindings: [out.buffer, a.buffer, b.buffer, bias?.buffer ?? b.buffer],
    workgroups: workgroupTiledGrid(rows, cols, g.batch),
  });
}
