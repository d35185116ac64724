/**
 * The operands of the attention dispatchers: the sizes of a call, where q, k, v and [C, L] tensors lie in
 * their buffers, and their packing into rgba32float textures, samples stacked in chunks that fit the
 * adapter's texture height.
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import type { TensorRef } from "./shape_math.ts";
import { PACK_WORKGROUP_SIDE, packSource } from "./attention.wgsl.ts";

/** Sizes of one attention call. */
export interface AttentionGeometry {
  /** Samples N. */
  samples: number;
  /** Channels C of each of q, k, v (qkv has 3C). */
  channels: number;
  /** Tokens L = H·W. */
  tokens: number;
  /** Shape of the output: [N, C, H, W]. */
  outShape: number[];
}

/**
 * The sizes of an attention call on qkv of this shape.
 * @throws {ShapeError} unless `qkvShape` is [N, 3C, H, W] (or [N, 3C, L])
 */
export function attentionGeometry(qkvShape: readonly number[]): AttentionGeometry {
  if (qkvShape.length < 3 || qkvShape.length > 4 || qkvShape[1]! % 3 !== 0) {
    throw new ShapeError(`selfAttention: qkv must be [N, 3C, H, W], got ${formatShape(qkvShape)}`);
  }
  const [samples, c3] = qkvShape as [number, number];
  const tokens = qkvShape.slice(2).reduce((a, b) => a * b, 1);
  return { samples, channels: c3 / 3, tokens, outShape: [samples, c3 / 3, ...qkvShape.slice(2)] };
}

export const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;
export const texels = (n: number): number => Math.ceil(n / 4);

/**
 * Consecutive sample ranges [start, count] whose textures, `rowsPerSample` rows per sample stacked
 * vertically, fit `maxRows` (the adapter's maxTextureDimension2D).
 */
export function sampleChunks(
  samples: number,
  rowsPerSample: number,
  maxRows: number,
): [start: number, count: number][] {
  const perChunk = Math.max(1, Math.floor(maxRows / rowsPerSample));
  const result: [number, number][] = [];
  for (let start = 0; start < samples; start += perChunk) {
    result.push([start, Math.min(perChunk, samples - start)]);
  }
  return result;
}

/** Where a matrix lives in a buffer: per sample, element (r, c) at base + n·sampleStride + r·rowStride + c·colStride. */
export interface MatrixSource {
  buffer: GPUBuffer;
  rows: number;
  cols: number;
  base: number;
  sampleStride: number;
  rowStride: number;
  colStride: number;
}

/** Packs `count` samples of a matrix into a new pooled texture, rows padded to a multiple of 4. */
export function pack(rt: Runtime, src: MatrixSource, count: number): GPUTexture {
  const width = texels(src.cols);
  const sampleRows = roundUp4(src.rows);
  const texture = rt.acquireTexture(width, sampleRows * count);
  rt.dispatch({
    pipeline: rt.pipeline("attention-pack", {}, packSource),
    uniforms: new Uniforms().u32(src.rows, src.cols, width, sampleRows)
      .u32(src.base, src.sampleStride, src.rowStride, src.colStride),
    bindings: [texture.createView(), src.buffer],
    workgroups: [Math.ceil(width / PACK_WORKGROUP_SIDE), Math.ceil(sampleRows / PACK_WORKGROUP_SIDE), count],
  });
  return texture;
}

/** The q, k or v block (0, 1, 2) of qkv for samples from `start`, as a [C, L] matrix or its transpose. */
export function block(
  qkv: TensorRef,
  g: AttentionGeometry,
  which: number,
  start: number,
  transposed: boolean,
): MatrixSource {
  const { channels: c, tokens: l } = g;
  const sampleStride = 3 * c * l;
  const base = start * sampleStride + which * c * l;
  return transposed
    ? { buffer: qkv.buffer, rows: l, cols: c, base, sampleStride, rowStride: 1, colStride: l }
    : { buffer: qkv.buffer, rows: c, cols: l, base, sampleStride, rowStride: l, colStride: 1 };
}

/** A [C, L]-per-sample tensor (out or its gradient) from `start`, natural or transposed. */
export function plain(t: TensorRef, g: AttentionGeometry, start: number, transposed: boolean): MatrixSource {
  const { channels: c, tokens: l } = g;
  const base = start * c * l;
  return transposed
    ? { buffer: t.buffer, rows: l, cols: c, base, sampleStride: c * l, rowStride: 1, colStride: l }
    : { buffer: t.buffer, rows: c, cols: l, base, sampleStride: c * l, rowStride: l, colStride: 1 };
}
