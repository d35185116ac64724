/**
 * Dispatchers for group normalisation (`group_norm.wgsl.ts`): forward with saved statistics, and the
 * exact backward for x, γ and β, each optionally fused with SiLU.
 * @module
 */
import { DeviceError, formatShape, ShapeError } from "../base/errors.ts";
import type { Runtime } from "./runtime.ts";
import { Uniforms } from "./runtime.ts";
import { expectShape, type TensorRef } from "./shape_math.ts";
import {
  CHANNEL_SUM_WORKGROUP,
  groupNormBackwardSource,
  groupNormForwardSource,
  groupNormParamGradSource,
  type GroupNormVariant,
} from "./group_norm.wgsl.ts";
import { acquireImage, arrayView, fitsTexture } from "./pack.ts";
import { lanesWithin, linearBindings, SOFTWARE_LOOP_LIMIT, useTextures } from "./staging.ts";

/** The sizes a group-norm dispatch needs, derived from an NCHW shape and a group count. */
export interface GroupNormGeometry {
  /** Samples N. */
  samples: number;
  /** Channels C. */
  channels: number;
  /** Groups G (divides C). */
  groups: number;
  /** H·W. */
  spatial: number;
}

/**
 * Checks `x` is [N, C, H, W] (or [N, C]) with C divisible by `groups`, and γ, β are [C].
 * @throws {ShapeError} naming the shapes
 */
export function groupNormGeometry(
  xShape: readonly number[],
  groups: number,
  gammaShape: readonly number[],
  betaShape: readonly number[],
): GroupNormGeometry {
  if (xShape.length < 2 || xShape.length > 4) {
    throw new ShapeError(`groupNorm: x must be [N, C, H, W], got ${formatShape(xShape)}`);
  }
  const [samples, channels] = xShape as [number, number];
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) {
    throw new ShapeError(
      `groupNorm: ${groups} groups do not divide the ${channels} channels of x ${formatShape(xShape)}`,
    );
  }
  expectShape(gammaShape, [channels], "groupNorm gamma");
  expectShape(betaShape, [channels], "groupNorm beta");
  const spatial = xShape.slice(2).reduce((a, b) => a * b, 1);
  return { samples, channels, groups, spatial };
}

function params(geometry: GroupNormGeometry, eps: number, width = 0, border = 0, upscale = 1): Uniforms {
  const channelsPerGroup = geometry.channels / geometry.groups;
  return new Uniforms()
    .u32(channelsPerGroup * geometry.spatial, geometry.spatial, channelsPerGroup, geometry.groups)
    .f32(eps)
    .u32(width, border, upscale);
}

/** The kernel variant for x on `rt` writing `out`: staged operands on software adapters, texel loops when rows align. */
function variant(
  rt: Runtime,
  geometry: GroupNormGeometry,
  x: TensorRef,
  out: TensorRef,
  silu: boolean,
  packed = false,
): GroupNormVariant {
  const texture = useTextures(rt, x.size);
  const aligned = geometry.spatial % 4 === 0 && out.buffer.size >= 4 * x.size;
  // On CPU adapters a workgroup is one 8-lane SIMD batch, whose barriers are cheap; GPUs want 64.
  // Large groups take more lanes, so that no lane's loop outlasts the software adapter's limit.
  const channelsPerGroup = geometry.channels / geometry.groups;
  const groupItems = channelsPerGroup * geometry.spatial / (aligned ? 4 : 1);
  // Per lane: the statistics or gradient-sum loop and the output loop over the group, and lane 0's
  // per-channel merges of the lanes' partial sums.
  const workgroup = lanesWithin(
    texture ? [8, 64, 256] : [64, 256],
    (lanes) => 2 * (Math.ceil(groupItems / lanes) + channelsPerGroup) + (channelsPerGroup + 1) * lanes,
  );
  if (workgroup === null) {
    if (rt.adapter.isSoftware) {
      throw new DeviceError(
        `groupNorm: groups of ${groupItems} ${aligned ? "texels" : "floats"} (x ${
          formatShape(x.shape)
        }) need more loop iterations per thread than the software adapter runs (${SOFTWARE_LOOP_LIMIT}); use more groups`,
      );
    }
    return { silu, texture, aligned, workgroup: 256, packed };
  }
  return { silu, texture, aligned, workgroup, packed };
}

function key(v: GroupNormVariant): Record<string, boolean | number> {
  return { silu: v.silu, texture: v.texture, aligned: v.aligned, workgroup: v.workgroup, packed: v.packed };
}

/**
 * y = GroupNorm(x)·γ + β (then SiLU when `silu`); `stats` receives [N, G, 2] = (mean, 1/std).
 */
export function groupNormForward(
  rt: Runtime,
  y: TensorRef,
  stats: TensorRef,
  x: TensorRef,
  gamma: TensorRef,
  beta: TensorRef,
  groups: number,
  eps: number,
  silu: boolean,
): void {
  const geometry = groupNormGeometry(x.shape, groups, gamma.shape, beta.shape);
  expectShape(y.shape, x.shape, "groupNorm output");
  expectShape([stats.size], [geometry.samples * groups * 2], "groupNorm statistics size");
  const v = variant(rt, geometry, x, y, silu);
  const staged = linearBindings(rt, v.texture, [x]);
  rt.dispatch({
    pipeline: rt.pipeline("groupnorm-forward", key(v), () => groupNormForwardSource(v)),
    uniforms: params(geometry, eps),
    bindings: [y.buffer, stats.buffer, ...staged.bindings, gamma.buffer, beta.buffer],
    workgroups: [geometry.samples * groups],
  });
  staged.release();
}

/**
 * Whether {@link groupNormForwardPacked} takes x [N, C, H, W] on `rt`: H·W a multiple of 4, a group
 * whole channel quads, operands staged in textures and the image within the device's limits.
 */
export function groupNormPacks(
  rt: Runtime,
  xShape: readonly number[],
  groups: number,
  border: number,
  upscale: 1 | 2 = 1,
): boolean {
  if (xShape.length !== 4) return false;
  const [samples, channels, height, width] = xShape as [number, number, number, number];
  return (height * width) % 4 === 0 && (channels / groups) % 4 === 0 &&
    useTextures(rt, samples * channels * height * width) &&
    fitsTexture(rt, upscale * width + 2 * border, upscale * height + 2 * border, samples * channels / 4);
}

/**
 * {@link groupNormForward} writing y as the packed image a register-tiled convolution reads
 * (`packImage` with `border`; upsampled ×2, nearest, when `upscale` is 2) instead of NCHW: a conv
 * right after a norm skips its packing pass, and its weight gradient reuses the image. Returns the
 * pooled texture (the caller releases it).
 * @throws {DeviceError} when {@link groupNormPacks} is false
 */
export function groupNormForwardPacked(
  rt: Runtime,
  stats: TensorRef,
  x: TensorRef,
  gamma: TensorRef,
  beta: TensorRef,
  groups: number,
  eps: number,
  silu: boolean,
  border: number,
  upscale: 1 | 2 = 1,
): GPUTexture {
  const geometry = groupNormGeometry(x.shape, groups, gamma.shape, beta.shape);
  if (!groupNormPacks(rt, x.shape, groups, border, upscale)) {
    throw new DeviceError(
      `groupNorm: x ${formatShape(x.shape)} with ${groups} groups cannot be written packed`,
    );
  }
  expectShape([stats.size], [geometry.samples * groups * 2], "groupNorm statistics size");
  const [samples, channels, height, width] = x.shape as [number, number, number, number];
  const v = variant(rt, geometry, x, x, silu, true);
  const image = acquireImage(
    rt,
    upscale * width + 2 * border,
    upscale * height + 2 * border,
    samples * channels / 4,
  );
  const staged = linearBindings(rt, v.texture, [x]);
  rt.dispatch({
    pipeline: rt.pipeline("groupnorm-forward", key(v), () => groupNormForwardSource(v)),
    uniforms: params(geometry, eps, width, border, upscale),
    bindings: [arrayView(image), stats.buffer, ...staged.bindings, gamma.buffer, beta.buffer],
    workgroups: [geometry.samples * groups],
  });
  staged.release();
  return image;
}

/**
 * Gradients of {@link groupNormForward} for x, γ and β (two dispatches). `channelSums` is scratch of
 * N·C·2 floats.
 */
export function groupNormBackward(
  rt: Runtime,
  grads: { dx: TensorRef; dGamma: TensorRef; dBeta: TensorRef; channelSums: TensorRef },
  dy: TensorRef,
  x: TensorRef,
  stats: TensorRef,
  gamma: TensorRef,
  beta: TensorRef,
  groups: number,
  silu: boolean,
): void {
  const geometry = groupNormGeometry(x.shape, groups, gamma.shape, beta.shape);
  expectShape(dy.shape, x.shape, "groupNorm gradient");
  expectShape(grads.dx.shape, x.shape, "groupNorm input gradient");
  expectShape([grads.channelSums.size], [geometry.samples * geometry.channels * 2], "groupNorm scratch");
  expectShape(grads.dGamma.shape, [geometry.channels], "groupNorm gamma gradient");
  expectShape(grads.dBeta.shape, [geometry.channels], "groupNorm beta gradient");
  const v = variant(rt, geometry, x, grads.dx, silu);
  const staged = linearBindings(rt, v.texture, [dy, x]);
  rt.dispatch({
    pipeline: rt.pipeline("groupnorm-backward", key(v), () => groupNormBackwardSource(v)),
    uniforms: params(geometry, 0),
    bindings: [
      grads.dx.buffer,
      grads.channelSums.buffer,
      ...staged.bindings,
      stats.buffer,
      gamma.buffer,
      beta.buffer,
    ],
    workgroups: [geometry.samples * groups],
  });
  staged.release();
  rt.dispatch({
    pipeline: rt.pipeline("groupnorm-param-grad", {}, groupNormParamGradSource),
    uniforms: new Uniforms().u32(geometry.samples, geometry.channels),
    bindings: [grads.dGamma.buffer, grads.dBeta.buffer, grads.channelSums.buffer],
    workgroups: [Math.ceil(geometry.channels / CHANNEL_SUM_WORKGROUP)],
  });
}
