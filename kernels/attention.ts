/**
 * Dispatchers for single-head self-attention over the H·W tokens of an NCHW tensor, in the layout
 * of the PyTorch SR3 reference: qkv [N, 3C, H, W] holds q, k, v as channel blocks [0, C), [C, 2C),
 * [2C, 3C); out[n, c, i] = Σ_j softmax_j(Σ_c' q[c', i]·k[c', j]/√C)·v[c, j].
 *
 * Training path: S = QᵀK/√C (texture product) → row softmax (P saved as a buffer) → O = P·Vᵀ.
 * Backward: D = rowsum(dO ∘ O); dS = P ∘ (dOᵀV − D)/√C fused into the product that computes dOᵀV;
 * dV = dO·P, dQ = (dS·Kᵀ)ᵀ and dK = Q·dS written straight into the three blocks of dqkv.
 * Sampling path: an online-softmax kernel that never holds more than a 64×64 block of scores.
 *
 * Matrix operands are packed into rgba32float textures per call (see `attention_gemm.wgsl.ts` for
 * why); samples are stacked vertically, in chunks that fit the adapter's texture height.
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import { flatGrid } from "./wgsl.ts";
import {
  PACK_WORKGROUP_SIDE,
  packSource,
  rowDotSource,
  SOFTMAX_WORKGROUP,
  softmaxSource,
} from "./attention.wgsl.ts";
import {
  attentionGemmSource,
  GEMM_WORKGROUP_SIDE,
  type GemmEpilogue,
  type GemmTile,
} from "./attention_gemm.wgsl.ts";
import {
  attentionFlashSource,
  FLASH_WORKGROUP,
  type FlashLayout,
  flashRowsPerWorkgroup,
  flashWorkgroupBytes,
} from "./attention_flash.wgsl.ts";

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

/** 16×16 outputs per invocation: the shape PERF_NOTES found fastest for texture operands. */
const GEMM_TILE: GemmTile = { rows: 16, colTexels: 4 };

const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;
const texels = (n: number): number => Math.ceil(n / 4);

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
interface MatrixSource {
  buffer: GPUBuffer;
  rows: number;
  cols: number;
  base: number;
  sampleStride: number;
  rowStride: number;
  colStride: number;
}

/** Packs `count` samples of a matrix into a new pooled texture, rows padded to a multiple of 4. */
function pack(rt: Runtime, src: MatrixSource, count: number): GPUTexture {
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

/** Parameters of one product out = α·A·B over `count` stacked samples. */
interface GemmCall {
  epilogue: GemmEpilogue;
  out: GPUBuffer | GPUTexture;
  a: GPUTexture;
  b: GPUTexture;
  /** Output rows to produce (for textures including the zero padding rows). */
  rows: number;
  cols: number;
  depth: number;
  alpha: number;
  aSampleRows: number;
  bSampleRows: number;
  count: number;
  /** Buffer epilogue: base, per-sample stride and strides of the output; softmax-grad: of D. */
  outBase?: number;
  outSampleStride?: number;
  outStrideRow?: number;
  outStrideCol?: number;
  /** Texture epilogues: rows per sample of the output texture. */
  outSampleRows?: number;
  /** Softmax-grad: P as a texture, D as a buffer, and the number of real rows. */
  probs?: GPUTexture;
  rowDot?: GPUBuffer;
  validRows?: number;
}

function gemm(rt: Runtime, call: GemmCall): void {
  const { epilogue } = call;
  const outWidth = texels(call.cols);
  const uniforms = new Uniforms()
    .u32(call.rows, call.cols, texels(call.depth)).f32(call.alpha)
    .u32(call.aSampleRows, call.bSampleRows, call.outBase ?? 0, call.outSampleStride ?? 0)
    .u32(
      call.outStrideRow ?? 0,
      call.outStrideCol ?? 0,
      call.outSampleRows ?? 0,
      outWidth,
      call.validRows ?? 0,
    );
  const bindings: (GPUBuffer | GPUTextureView)[] = [
    call.out instanceof GPUBuffer ? call.out : call.out.createView(),
    call.a.createView(),
    call.b.createView(),
  ];
  if (epilogue === "softmax-grad") bindings.push(call.probs!.createView(), call.rowDot!);
  const perGroup = GEMM_WORKGROUP_SIDE;
  rt.dispatch({
    pipeline: rt.pipeline(
      "attention-gemm",
      { epilogue, rows: GEMM_TILE.rows, colTexels: GEMM_TILE.colTexels },
      () => attentionGemmSource(epilogue, GEMM_TILE),
    ),
    uniforms,
    bindings,
    workgroups: [
      Math.ceil(outWidth / (perGroup * GEMM_TILE.colTexels)),
      Math.ceil(call.rows / (perGroup * GEMM_TILE.rows)),
      call.count,
    ],
  });
}

/** The q, k or v block (0, 1, 2) of qkv for samples from `start`, as a [C, L] matrix or its transpose. */
function block(
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
function plain(t: TensorRef, g: AttentionGeometry, start: number, transposed: boolean): MatrixSource {
  const { channels: c, tokens: l } = g;
  const base = start * c * l;
  return transposed
    ? { buffer: t.buffer, rows: l, cols: c, base, sampleStride: c * l, rowStride: 1, colStride: l }
    : { buffer: t.buffer, rows: c, cols: l, base, sampleStride: c * l, rowStride: l, colStride: 1 };
}

/**
 * Training forward: out [N, C, H, W] and the softmax probabilities `probs` [N, L, L] that the
 * backward needs.
 */
export function attentionForward(rt: Runtime, out: TensorRef, probs: TensorRef, qkv: TensorRef): void {
  const g = attentionGeometry(qkv.shape);
  const { channels: c, tokens: l } = g;
  expectShape(out.shape, g.outShape, "selfAttention output");
  expectShape([probs.size], [g.samples * l * l], "selfAttention probabilities size");
  const rowsL = roundUp4(l);
  for (
    const [start, count] of sampleChunks(
      g.samples,
      Math.max(rowsL, roundUp4(c)),
      rt.device.limits.maxTextureDimension2D,
    )
  ) {
    const queriesT = pack(rt, block(qkv, g, 0, start, true), count);
    const keys = pack(rt, block(qkv, g, 1, start, false), count);
    const scores = rt.acquireTexture(texels(l), rowsL * count);
    gemm(rt, {
      epilogue: "texture",
      out: scores,
      a: queriesT,
      b: keys,
      rows: l,
      cols: l,
      depth: c,
      alpha: 1 / Math.sqrt(c),
      aSampleRows: rowsL,
      bSampleRows: roundUp4(c),
      count,
      outSampleRows: rowsL,
    });
    const probsTexture = rt.acquireTexture(texels(l), rowsL * count);
    rt.dispatch({
      pipeline: rt.pipeline("attention-softmax", {}, softmaxSource),
      uniforms: new Uniforms().u32(l, l, texels(l), rowsL, start * l * l),
      bindings: [probsTexture.createView(), probs.buffer, scores.createView()],
      workgroups: [Math.ceil(rowsL / SOFTMAX_WORKGROUP), count],
    });
    const valuesT = pack(rt, block(qkv, g, 2, start, true), count);
    gemm(rt, {
      epilogue: "buffer",
      out: out.buffer,
      a: probsTexture,
      b: valuesT,
      rows: l,
      cols: c,
      depth: l,
      alpha: 1,
      aSampleRows: rowsL,
      bSampleRows: rowsL,
      count,
      outBase: start * c * l,
      outSampleStride: c * l,
      outStrideRow: 1,
      outStrideCol: l,
    });
    for (const t of [queriesT, keys, scores, probsTexture, valuesT]) rt.releaseTexture(t);
  }
}

/**
 * Gradient of {@link attentionForward}: dqkv [N, 3C, H, W] from dOut, the forward's `out` and
 * `probs`, and qkv. `rowDot` is scratch of N·L floats.
 */
export function attentionBackward(
  rt: Runtime,
  dqkv: TensorRef,
  rowDot: TensorRef,
  dOut: TensorRef,
  qkv: TensorRef,
  out: TensorRef,
  probs: TensorRef,
): void {
  const g = attentionGeometry(qkv.shape);
  const { channels: c, tokens: l } = g;
  expectShape(dqkv.shape, qkv.shape, "selfAttention qkv gradient");
  expectShape(dOut.shape, g.outShape, "selfAttention output gradient");
  expectShape(out.shape, g.outShape, "selfAttention output");
  expectShape([probs.size], [g.samples * l * l], "selfAttention probabilities size");
  expectShape([rowDot.size], [g.samples * l], "selfAttention row-dot scratch size");
  rt.dispatch({
    pipeline: rt.pipeline("attention-row-dot", {}, rowDotSource),
    uniforms: new Uniforms().u32(g.samples * l, l, c),
    bindings: [rowDot.buffer, dOut.buffer, out.buffer],
    workgroups: flatGrid(g.samples * l, 64),
  });
  const rowsL = roundUp4(l);
  const rowsC = roundUp4(c);
  const scale = 1 / Math.sqrt(c);
  for (
    const [start, count] of sampleChunks(
      g.samples,
      Math.max(rowsL, rowsC),
      rt.device.limits.maxTextureDimension2D,
    )
  ) {
    const probsSource: MatrixSource = {
      buffer: probs.buffer,
      rows: l,
      cols: l,
      base: start * l * l,
      sampleStride: l * l,
      rowStride: l,
      colStride: 1,
    };
    const probsTexture = pack(rt, probsSource, count);
    const gradOutT = pack(rt, plain(dOut, g, start, true), count);
    const values = pack(rt, block(qkv, g, 2, start, false), count);
    const gradScores = rt.acquireTexture(texels(l), rowsL * count);
    gemm(rt, {
      epilogue: "softmax-grad",
      out: gradScores,
      a: gradOutT,
      b: values,
      rows: rowsL, // padding rows too: they become zeros (P is zero there) that dK's product reads
      cols: l,
      depth: c,
      alpha: scale,
      aSampleRows: rowsL,
      bSampleRows: rowsC,
      count,
      outBase: start * l,
      outSampleStride: l,
      outSampleRows: rowsL,
      probs: probsTexture,
      rowDot: rowDot.buffer,
      validRows: l,
    });
    const sampleStride = 3 * c * l;
    const intoBlock = (which: number, transposed: boolean): Partial<GemmCall> => ({
      outBase: start * sampleStride + which * c * l,
      outSampleStride: sampleStride,
      outStrideRow: transposed ? 1 : l,
      outStrideCol: transposed ? l : 1,
    });
    // dV = dO·P: [C, L]·[L, L].
    const gradOut = pack(rt, plain(dOut, g, start, false), count);
    gemm(rt, {
      epilogue: "buffer",
      out: dqkv.buffer,
      a: gradOut,
      b: probsTexture,
      rows: c,
      cols: l,
      depth: l,
      alpha: 1,
      aSampleRows: rowsC,
      bSampleRows: rowsL,
      count,
      ...intoBlock(2, false),
    });
    // dQᵀ = dS·Kᵀ: [L, L]·[L, C], written transposed into the q block.
    const keysT = pack(rt, block(qkv, g, 1, start, true), count);
    gemm(rt, {
      epilogue: "buffer",
      out: dqkv.buffer,
      a: gradScores,
      b: keysT,
      rows: l,
      cols: c,
      depth: l,
      alpha: 1,
      aSampleRows: rowsL,
      bSampleRows: rowsL,
      count,
      ...intoBlock(0, true),
    });
    // dK = Q·dS: [C, L]·[L, L].
    const queries = pack(rt, block(qkv, g, 0, start, false), count);
    gemm(rt, {
      epilogue: "buffer",
      out: dqkv.buffer,
      a: queries,
      b: gradScores,
      rows: c,
      cols: l,
      depth: l,
      alpha: 1,
      aSampleRows: rowsC,
      bSampleRows: rowsL,
      count,
      ...intoBlock(1, false),
    });
    for (const t of [probsTexture, gradOutT, values, gradScores, gradOut, keysT, queries]) {
      rt.releaseTexture(t);
    }
  }
}

/** Largest C the online-softmax kernel supports (64 channel groups × 16 channels). */
export const FLASH_MAX_CHANNELS = FLASH_WORKGROUP * 16;

/**
 * How the flash kernel splits C among its 64 invocations: CG channel groups (a power of two) of at
 * most 16 channels each, and up to 8 query rows per invocation, so each keeps ≤ 128 accumulators;
 * key blocks of 64 where the workgroup memory allows it (fewer, larger blocks), else 32.
 */
export function flashLayout(channels: number, workgroupStorageBytes: number): FlashLayout {
  if (channels > FLASH_MAX_CHANNELS) {
    throw new ShapeError(`attentionFlash: at most ${FLASH_MAX_CHANNELS} channels, got ${channels}`);
  }
  const channelTexels = texels(channels);
  let channelGroups = 1;
  while (channelGroups * 4 < channelTexels) channelGroups *= 2;
  const layout = {
    channelGroups,
    channelTexels: Math.ceil(channelTexels / channelGroups),
    rowsPerInvocation: Math.min(8, channelGroups),
    keysPerInvocation: 8,
  };
  if (flashWorkgroupBytes(layout) > workgroupStorageBytes) layout.keysPerInvocation = 4;
  return layout;
}

/** No-grad forward with an online softmax: out [N, C, H, W] without any L×L intermediate. */
export function attentionFlash(rt: Runtime, out: TensorRef, qkv: TensorRef): void {
  const g = attentionGeometry(qkv.shape);
  const { channels: c, tokens: l } = g;
  expectShape(out.shape, g.outShape, "selfAttention output");
  const layout = flashLayout(c, rt.device.limits.maxComputeWorkgroupStorageSize);
  const rowsL = roundUp4(l);
  for (const [start, count] of sampleChunks(g.samples, rowsL, rt.device.limits.maxTextureDimension2D)) {
    const queriesT = pack(rt, block(qkv, g, 0, start, true), count);
    const keysT = pack(rt, block(qkv, g, 1, start, true), count);
    const valuesT = pack(rt, block(qkv, g, 2, start, true), count);
    rt.dispatch({
      pipeline: rt.pipeline("attention-flash", { ...layout }, () => attentionFlashSource(layout)),
      uniforms: new Uniforms().u32(l, c, texels(c), rowsL).f32(1 / Math.sqrt(c)).u32(start * c * l, c * l),
      bindings: [out.buffer, queriesT.createView(), keysT.createView(), valuesT.createView()],
      workgroups: [Math.ceil(l / flashRowsPerWorkgroup(layout)), count],
    });
    for (const t of [queriesT, keysT, valuesT]) rt.releaseTexture(t);
  }
}
