/**
 * The layers of the SR3 UNet, with PyTorch parameter names (`weight`, `bias`) and PyTorch layouts
 * (conv weight [out, in, k, k], linear weight [out, in]) so state dicts map one to one.
 * Initialisation follows the reference: orthogonal conv/linear weights, zero biases, GroupNorm 1/0.
 * @module
 */
import { Module } from "./module.ts";
import type { Tensor } from "./tensor.ts";
import { orthogonalMatrix } from "./init.ts";
import { conv2d } from "./ops/conv2d.ts";
import { linear } from "./ops/matmul.ts";
import { groupNorm, groupNormSilu } from "./ops/group_norm.ts";
import { dropout } from "./ops/dropout.ts";
import { groupNormSiluConv2d } from "./ops/norm_conv2d.ts";

/** How layers initialise their parameters. */
export interface LayerContext {
  /** Uniform [0, 1) source for initialisation. */
  random: () => number;
  /** False leaves parameters uninitialised (weights about to be loaded, or a shape-only summary). */
  initialize: boolean;
}

/** Per-call settings of a forward pass. */
export interface ForwardOptions {
  /** Seed of this pass's dropout masks (each dropout layer adds its own stream id). */
  dropoutSeed: number;
}

/** 2-D convolution with zero padding. */
export class Conv2d extends Module {
  /** [out, in, k, k]. */
  readonly weight: Tensor;
  /** [out], or null without bias. */
  readonly bias: Tensor | null;

  /** A k×k convolution from `inChannels` to `outChannels`. */
  constructor(
    ctx: LayerContext,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: { stride?: 1 | 2; padding?: number; bias?: boolean } = {},
  ) {
    super();
    const fanIn = inChannels * kernelSize * kernelSize;
    this.weight = this.parameter(
      "weight",
      [outChannels, inChannels, kernelSize, kernelSize],
      ctx.initialize ? () => orthogonalMatrix(outChannels, fanIn, ctx.random) : null,
    );
    this.bias = options.bias === false
      ? null
      : this.parameter("bias", [outChannels], ctx.initialize ? () => new Float32Array(outChannels) : null);
  }

  /** Convolves an NCHW batch. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.convOptions());
  }

  /** conv(SiLU(norm(x))), upsampled ×2 in between with `upsample`, fused into one op (`nn/ops/norm_conv2d.ts`). */
  forwardAfterNormSilu(norm: GroupNorm, x: Tensor, upsample = false): Tensor {
    const { groups, weight: gamma, bias: beta } = norm;
    return groupNormSiluConv2d(
      x,
      { groups, gamma, beta },
      this.weight,
      this.bias,
      this.convOptions(),
      upsample,
    );
  }

  private convOptions(): { stride: number; padding: number } {
    return { stride: this.options.stride ?? 1, padding: this.options.padding ?? (this.kernelSize - 1) / 2 };
  }
}

/** y = x·Wᵀ + b. */
export class Linear extends Module {
  /** [out, in]. */
  readonly weight: Tensor;
  /** [out]. */
  readonly bias: Tensor;

  /** A dense layer from `inFeatures` to `outFeatures`. */
  constructor(ctx: LayerContext, readonly inFeatures: number, readonly outFeatures: number) {
    super();
    this.weight = this.parameter(
      "weight",
      [outFeatures, inFeatures],
      ctx.initialize ? () => orthogonalMatrix(outFeatures, inFeatures, ctx.random) : null,
    );
    this.bias = this.parameter(
      "bias",
      [outFeatures],
      ctx.initialize ? () => new Float32Array(outFeatures) : null,
    );
  }

  /** Applies the layer to [N, in]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Group normalisation with per-channel affine parameters (eps 1e-5, as PyTorch). */
export class GroupNorm extends Module {
  /** γ, [C]. */
  readonly weight: Tensor;
  /** β, [C]. */
  readonly bias: Tensor;

  /** `groups` groups over `channels` channels (channels must divide evenly). */
  constructor(ctx: LayerContext, readonly groups: number, readonly channels: number) {
    super();
    if (channels % groups !== 0) {
      throw new RangeError(`GroupNorm: ${channels} channels do not split into ${groups} groups`);
    }
    this.weight = this.parameter(
      "weight",
      [channels],
      ctx.initialize ? () => new Float32Array(channels).fill(1) : null,
    );
    this.bias = this.parameter("bias", [channels], ctx.initialize ? () => new Float32Array(channels) : null);
  }

  /** Normalises an NCHW batch. */
  forward(x: Tensor): Tensor {
    return groupNorm(x, this.groups, this.weight, this.bias);
  }

  /** GroupNorm followed by SiLU, fused. */
  forwardSilu(x: Tensor): Tensor {
    return groupNormSilu(x, this.groups, this.weight, this.bias);
  }
}

/** Inverted dropout active in training mode; each instance draws from its own RNG stream. */
export class Dropout extends Module {
  /** Drops each value with probability `p`, drawing masks from RNG stream `stream`. */
  constructor(readonly p: number, readonly stream: number) {
    super();
  }

  /** True when the forward returns its input unchanged (evaluation mode, or p = 0). */
  get isIdentity(): boolean {
    return !this.training || this.p === 0;
  }

  /** Identity in eval mode or when p = 0. */
  forward(x: Tensor, options: ForwardOptions): Tensor {
    if (this.isIdentity) return x;
    return dropout(x, this.p, options.dropoutSeed, this.stream);
  }
}
