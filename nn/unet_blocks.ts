/**
 * The building blocks of the SR3 UNet (nn/unet.ts), named as the PyTorch reference names them.
 * @module
 */
import { Conv2d, Dropout, type ForwardOptions, GroupNorm, type LayerContext, Linear } from "./layers.ts";
import { Module, NamedModules } from "./module.ts";
import type { Tensor } from "./tensor.ts";
import { add, addScaled } from "./ops/elementwise.ts";
import { reshape } from "./ops/reshape.ts";
import { avgPool2x, upsampleNearest2x } from "./ops/shape.ts";
import { selfAttention } from "./ops/attention.ts";

/** A layer of the UNet's encoder or decoder path. */
export interface UNetLayer extends Module {
  /** Transforms `x` given the noise embedding [N, C]. */
  forward(x: Tensor, emb: Tensor, options: ForwardOptions): Tensor;
}

/** The first convolution (2·bands → C), `downs.0` in the reference. */
export class StemConv extends Conv2d implements UNetLayer {
  /** A 3×3 convolution with bias. */
  constructor(ctx: LayerContext, inChannels: number, outChannels: number) {
    super(ctx, inChannels, outChannels, 3);
  }

  /** Convolves; the embedding is not used. */
  override forward(x: Tensor): Tensor {
    return super.forward(x);
  }
}

/** GroupNorm → Swish → (Dropout) → Conv3×3: the reference's `Block` (`block.0` and `block.3`). */
export class Block extends Module {
  private readonly norm: GroupNorm;
  private readonly drop: Dropout;
  private readonly conv: Conv2d;

  /** A block from `inC` to `outC` channels. */
  constructor(
    ctx: LayerContext,
    inC: number,
    outC: number,
    groups: number,
    dropout: number,
    dropoutStream: number,
  ) {
    super();
    this.norm = new GroupNorm(ctx, groups, inC);
    this.drop = new Dropout(dropout, dropoutStream);
    this.conv = new Conv2d(ctx, inC, outC, 3);
    this.child("block", new NamedModules({ 0: this.norm, 2: this.drop, 3: this.conv }));
  }

  /** Applies the block. */
  forward(x: Tensor, options: ForwardOptions): Tensor {
    if (this.drop.isIdentity) return this.conv.forwardAfterNormSilu(this.norm, x);
    return this.conv.forward(this.drop.forward(this.norm.forwardSilu(x), options));
  }
}

/** Settings of a {@link ResnetBlock}. */
export interface ResnetBlockOptions {
  /** Input channels. */
  inC: number;
  /** Output channels. */
  outC: number;
  /** Width of the noise embedding. */
  embC: number;
  /** GroupNorm groups. */
  groups: number;
  /** Dropout probability of the second block. */
  dropout: number;
  /** RNG stream of that dropout. */
  dropoutStream: number;
  /** Scale the residual sum by 1/√2 (paper style). */
  rescale: boolean;
  /** Resample inside the block (paper/BigGAN style): average-pool or nearest-upsample both paths. */
  resample: "up" | "down" | null;
}

/**
 * h = block1(x); h += Linear(emb) per channel; h = block2(h); out = h + skip(x), with skip a 1×1 conv
 * when channels change. Paper style resamples after block1's activation and on the skip path, and
 * divides the sum by √2.
 */
export class ResnetBlock extends Module implements UNetLayer {
  private readonly noiseProjection: Linear;
  private readonly norm1: GroupNorm;
  private readonly conv1: Conv2d;
  private readonly block2: Block;
  private readonly skipConv: Conv2d | null;

  /** A residual block. */
  constructor(ctx: LayerContext, private readonly options: ResnetBlockOptions) {
    super();
    const { inC, outC, embC, groups } = options;
    // block1 = GroupNorm → Swish → Conv, written out so resampling can sit between Swish and Conv.
    this.noiseProjection = new Linear(ctx, embC, outC);
    this.child("noise_func", new NamedModules({ noise_func: new NamedModules({ 0: this.noiseProjection }) }));
    this.norm1 = new GroupNorm(ctx, groups, inC);
    this.conv1 = new Conv2d(ctx, inC, outC, 3);
    this.child("block1", new NamedModules({ block: new NamedModules({ 0: this.norm1, 3: this.conv1 }) }));
    this.block2 = this.child(
      "block2",
      new Block(ctx, outC, outC, groups, options.dropout, options.dropoutStream),
    );
    this.skipConv = inC !== outC ? this.child("res_conv", new Conv2d(ctx, inC, outC, 1)) : null;
  }

  /** Applies the block. */
  forward(x: Tensor, emb: Tensor, options: ForwardOptions): Tensor {
    const resample = (t: Tensor): Tensor =>
      this.options.resample === "down"
        ? avgPool2x(t)
        : this.options.resample === "up"
        ? upsampleNearest2x(t)
        : t;
    let h = this.options.resample === "down"
      ? this.conv1.forward(resample(this.norm1.forwardSilu(x)))
      : this.conv1.forwardAfterNormSilu(this.norm1, x, this.options.resample === "up");
    const projected = this.noiseProjection.forward(emb);
    h = add(h, reshape(projected, [projected.shape[0]!, this.options.outC, 1, 1]));
    h = this.block2.forward(h, options);
    const shortcut = resample(x);
    const skip = this.skipConv ? this.skipConv.forward(shortcut) : shortcut;
    return this.options.rescale ? addScaled(h, skip, Math.SQRT1_2) : add(h, skip);
  }
}

/** GroupNorm → 1×1 qkv (no bias) → one-head attention over H·W tokens → 1×1 out → + x. */
export class SelfAttention extends Module {
  private readonly norm: GroupNorm;
  private readonly qkv: Conv2d;
  private readonly out: Conv2d;

  /** Attention over `channels` channels. */
  constructor(ctx: LayerContext, channels: number, groups: number, private readonly rescale: boolean) {
    super();
    this.norm = this.child("norm", new GroupNorm(ctx, groups, channels));
    this.qkv = this.child("qkv", new Conv2d(ctx, channels, 3 * channels, 1, { bias: false }));
    this.out = this.child("out", new Conv2d(ctx, channels, channels, 1));
  }

  /** Applies attention with its residual. */
  forward(x: Tensor): Tensor {
    const attended = this.out.forward(selfAttention(this.qkv.forward(this.norm.forward(x))));
    return this.rescale ? addScaled(attended, x, Math.SQRT1_2) : add(attended, x);
  }
}

/** Conv3×3 with stride 2 (reference style). */
export class Downsample extends Module implements UNetLayer {
  private readonly conv: Conv2d;

  /** Keeps the channel count. */
  constructor(ctx: LayerContext, channels: number) {
    super();
    this.conv = this.child("conv", new Conv2d(ctx, channels, channels, 3, { stride: 2, padding: 1 }));
  }

  /** Halves H and W. */
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}

/** Nearest ×2 then Conv3×3 (reference style). */
export class Upsample extends Module implements UNetLayer {
  private readonly conv: Conv2d;

  /** Keeps the channel count. */
  constructor(ctx: LayerContext, channels: number) {
    super();
    this.conv = this.child("conv", new Conv2d(ctx, channels, channels, 3));
  }

  /** Doubles H and W. */
  forward(x: Tensor): Tensor {
    return this.conv.forward(upsampleNearest2x(x));
  }
}
