/**
 * The SR3 UNet: a noise-level-conditioned UNet that predicts the noise ε in
 * x_noisy from `concat([bicubic(LR), x_noisy])`.
 *
 * Two block styles:
 * - `"reference"`: exactly the PyTorch SR3 reference (Janspiry, `model/sr3_modules/unet.py`), with its
 *   parameter names, so its checkpoints load (see tests/fixtures/REFERENCE_UNET.md).
 * - `"sr3"`: the paper's description (Saharia et al. §3, after BigGAN / Song et al.'s NCSN++):
 *   resampling inside residual blocks, and residual sums and encoder skips rescaled by 1/√2.
 * @module
 */
import { type ForwardOptions, type LayerContext, Linear } from "./layers.ts";
import { Module, ModuleList } from "./module.ts";
import type { Tensor } from "./tensor.ts";
import { seededRandom } from "./init.ts";
import { mulScalar, silu } from "./ops/elementwise.ts";
import { noiseLevelEncoding } from "./ops/encoding.ts";
import { concat } from "./ops/shape.ts";
import {
  Block,
  Downsample,
  ResnetBlock,
  SelfAttention,
  StemConv,
  type UNetLayer,
  Upsample,
} from "./unet_blocks.ts";

/** Block style of the UNet. */
export type BlockStyle = "sr3" | "reference";

/** The knobs of the SR3 UNet, named as arcgis.learn / the PyTorch reference name them (camel-cased). */
export interface UNetConfig {
  /** Image bands; the network sees 2·bands input channels and predicts `bands`. */
  bands: number;
  /** Base channel count C (`inner_channel`). */
  innerChannel: number;
  /** Groups of every GroupNorm (`norm_groups`). */
  normGroups: number;
  /** Channel multiplier per resolution level (`channel_mults`). */
  channelMults: readonly number[];
  /** Feature-map sizes that get self-attention (`attn_res`). */
  attnRes: readonly number[];
  /** Residual blocks per level (`res_blocks`). */
  resBlocks: number;
  /** Dropout in the second conv block of each residual block. */
  dropout: number;
  /** High-resolution chip size the network runs at. */
  imageSize: number;
  /** Block style. */
  blockStyle: BlockStyle;
}

/** Named presets. */
export type PresetName = "tiny" | "arcgis" | "sr3-16-128" | "sr3-64-512";

/** Every preset name, for argument validation. */
export const PRESET_NAMES: readonly PresetName[] = ["tiny", "arcgis", "sr3-16-128", "sr3-64-512"];

/**
 * Preset knobs. `arcgis` = arcgis.learn's defaults (tuned for 64→256); `sr3-16-128` and `sr3-64-512`
 * = the reference repository's configs (the latter is the arcgis guide's advice for Landsat/Sentinel);
 * `tiny` fits a CPU-only machine (attention only at the lowest level).
 */
export const PRESETS: Readonly<Record<PresetName, Omit<UNetConfig, "bands" | "blockStyle">>> = {
  tiny: {
    innerChannel: 32,
    normGroups: 8,
    channelMults: [1, 2, 4],
    attnRes: [8],
    resBlocks: 1,
    dropout: 0,
    imageSize: 32,
  },
  arcgis: {
    innerChannel: 64,
    normGroups: 32,
    channelMults: [1, 2, 4, 4, 8, 8],
    attnRes: [16],
    resBlocks: 3,
    dropout: 0,
    imageSize: 256,
  },
  "sr3-16-128": {
    innerChannel: 64,
    normGroups: 32,
    channelMults: [1, 2, 4, 8, 8],
    attnRes: [16],
    resBlocks: 2,
    dropout: 0.2,
    imageSize: 128,
  },
  "sr3-64-512": {
    innerChannel: 32,
    normGroups: 32,
    channelMults: [1, 2, 4, 8, 8, 16, 16],
    attnRes: [],
    resBlocks: 2,
    dropout: 0,
    imageSize: 512,
  },
};

/** A full configuration from a preset with overrides (default style "sr3", 3 bands). */
export function unetConfig(preset: PresetName = "arcgis", overrides: Partial<UNetConfig> = {}): UNetConfig {
  return { bands: 3, blockStyle: "sr3", ...structuredClone(PRESETS[preset]), ...overrides };
}

/** The feature-map size at each level, from the chip size (level i is imageSize / 2^i). */
export function levelSizes(config: UNetConfig): number[] {
  return config.channelMults.map((_, i) => config.imageSize / 2 ** i);
}

/**
 * Problems with a configuration that still builds, e.g. `attnRes` matching no level (chip 224 with
 * attention at 16: 224, 112, 56, 28, 14, 7 never hits 16).
 */
export function configWarnings(config: UNetConfig): string[] {
  const sizes = levelSizes(config);
  const warnings: string[] = [];
  const unmatched = config.attnRes.filter((r) => !sizes.includes(r));
  if (unmatched.length > 0) {
    warnings.push(
      `attnRes ${JSON.stringify(unmatched)} matches no UNet level (feature sizes ${
        sizes.join(", ")
      } for chip ${config.imageSize}); ` +
        `those attention layers are not built. Use a chip size such as 256 or set attnRes to one of the sizes.`,
    );
  }
  return warnings;
}

/** Checks that the knobs can build a UNet. @throws {RangeError} naming the first bad knob */
export function validateConfig(config: UNetConfig): void {
  const fail = (message: string): never => {
    throw new RangeError(`invalid UNet configuration: ${message}`);
  };
  if (!Number.isInteger(config.bands) || config.bands < 1) {
    fail(`bands must be a positive integer, got ${config.bands}`);
  }
  if (config.channelMults.length < 1) fail("channelMults must not be empty");
  const downFactor = 2 ** (config.channelMults.length - 1);
  if (config.imageSize % downFactor !== 0) {
    fail(`imageSize ${config.imageSize} must be divisible by 2^(levels−1) = ${downFactor}`);
  }
  for (const mult of [1, ...config.channelMults]) {
    if ((config.innerChannel * mult) % config.normGroups !== 0) {
      fail(
        `normGroups ${config.normGroups} must divide every level's channels (${config.innerChannel}×${mult})`,
      );
    }
  }
  if (config.dropout < 0 || config.dropout >= 1) fail(`dropout must be in [0, 1), got ${config.dropout}`);
  if (config.resBlocks < 1) fail(`resBlocks must be ≥ 1, got ${config.resBlocks}`);
}

const warned = new Set<string>();

/** One row of a model summary: a top-level layer with its channels, feature sizes and parameters. */
export interface LayerSummary {
  /** Parameter-name prefix, e.g. `downs.3`. */
  name: string;
  /** What it is, e.g. "ResnetBlock + SelfAttention". */
  kind: string;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** Input feature size (square side), or null for the noise MLP. */
  inSize: number | null;
  /** Output feature size. */
  outSize: number | null;
  /** Parameters in the layer. */
  parameters: number;
}

/** One encoder/decoder unit: a residual block, optionally followed by self-attention. */
class ResnetBlockWithAttn extends Module implements UNetLayer {
  readonly resBlock: ResnetBlock;
  readonly attention: SelfAttention | null;

  constructor(resBlock: ResnetBlock, attention: SelfAttention | null) {
    super();
    this.resBlock = this.child("res_block", resBlock);
    this.attention = attention ? this.child("attn", attention) : null;
  }

  forward(x: Tensor, emb: Tensor, options: ForwardOptions): Tensor {
    const h = this.resBlock.forward(x, emb, options);
    return this.attention ? this.attention.forward(h) : h;
  }
}

/** Positional encoding of the noise level → Linear(C, 4C) → Swish → Linear(4C, C). */
class NoiseLevelMlp extends Module {
  readonly first: Linear;
  readonly second: Linear;

  constructor(ctx: LayerContext, readonly channels: number) {
    super();
    // Indices 1 and 3 as in the reference's nn.Sequential(PositionalEncoding, Linear, Swish, Linear).
    this.first = this.child(1, new Linear(ctx, channels, channels * 4));
    this.second = this.child(3, new Linear(ctx, channels * 4, channels));
  }

  forward(noiseLevels: Tensor): Tensor {
    return this.second.forward(silu(this.first.forward(noiseLevelEncoding(noiseLevels, this.channels))));
  }
}

/** The SR3 noise-prediction UNet. Build it with {@link UNet.create}. */
export class UNet extends Module {
  /** The configuration it was built from. */
  readonly config: UNetConfig;
  /** Warnings found while building (also printed once per configuration). */
  readonly warnings: string[];
  private readonly noiseMlp: NoiseLevelMlp;
  private readonly downs: ModuleList<UNetLayer>;
  private readonly mid: ModuleList<ResnetBlockWithAttn>;
  private readonly ups: ModuleList<UNetLayer>;
  private readonly finalBlock: Block;
  /** Which ups entries consume an encoder skip. */
  private readonly upsTakeSkip: boolean[];
  private readonly layout: Omit<LayerSummary, "parameters">[] = [];

  private constructor(config: UNetConfig, seed: number, initialize: boolean) {
    super();
    validateConfig(config);
    this.config = config;
    this.warnings = configWarnings(config);
    for (const warning of this.warnings) {
      if (!warned.has(warning)) {
        warned.add(warning);
        console.warn(`sr3: ${warning}`);
      }
    }
    const ctx: LayerContext = { random: seededRandom(seed), initialize };
    const { innerChannel: C, normGroups: groups, dropout: p, blockStyle } = config;
    const rescale = blockStyle === "sr3";
    let dropoutStream = 0;
    const resBlock = (inC: number, outC: number, resample: "up" | "down" | null = null): ResnetBlock =>
      new ResnetBlock(ctx, {
        inC,
        outC,
        embC: C,
        groups,
        dropout: p,
        dropoutStream: ++dropoutStream,
        rescale,
        resample,
      });
    const unit = (inC: number, outC: number, withAttention: boolean): ResnetBlockWithAttn =>
      new ResnetBlockWithAttn(
        resBlock(inC, outC),
        withAttention ? new SelfAttention(ctx, outC, groups, rescale) : null,
      );

    const note = (
      name: string,
      kind: string,
      inC: number,
      outC: number,
      inSize: number | null,
      outSize = inSize,
    ) => this.layout.push({ name, kind, inChannels: inC, outChannels: outC, inSize, outSize });
    const unitKind = (withAttention: boolean): string =>
      `ResnetBlock${withAttention ? " + SelfAttention" : ""}`;
    const resampleKind = (direction: "up" | "down"): string =>
      blockStyle === "sr3"
        ? `ResnetBlock (${direction === "down" ? "average-pool" : "nearest"} ×2 inside)`
        : direction === "down"
        ? "Downsample (Conv3×3 stride 2)"
        : "Upsample (nearest ×2, Conv3×3)";

    this.noiseMlp = this.child("noise_level_mlp", new NoiseLevelMlp(ctx, C));
    note("noise_level_mlp", "PositionalEncoding → Linear → Swish → Linear", C, C, null);
    const downs: UNetLayer[] = [new StemConv(ctx, 2 * config.bands, C)];
    note("downs.0", "Conv3×3", 2 * config.bands, C, config.imageSize);
    const skipChannels = [C];
    let channels = C;
    let size = config.imageSize;
    config.channelMults.forEach((mult, level) => {
      const useAttention = config.attnRes.includes(size);
      for (let i = 0; i < config.resBlocks; i++) {
        note(`downs.${downs.length}`, unitKind(useAttention), channels, C * mult, size);
        downs.push(unit(channels, C * mult, useAttention));
        channels = C * mult;
        skipChannels.push(channels);
      }
      if (level < config.channelMults.length - 1) {
        note(`downs.${downs.length}`, resampleKind("down"), channels, channels, size, size / 2);
        downs.push(
          blockStyle === "sr3" ? resBlock(channels, channels, "down") : new Downsample(ctx, channels),
        );
        skipChannels.push(channels);
        size /= 2;
      }
    });
    this.downs = this.child("downs", new ModuleList(downs));
    this.mid = this.child(
      "mid",
      new ModuleList([unit(channels, channels, true), unit(channels, channels, false)]),
    );
    note("mid.0", unitKind(true), channels, channels, size);
    note("mid.1", unitKind(false), channels, channels, size);

    const ups: UNetLayer[] = [];
    const takesSkip: boolean[] = [];
    for (let level = config.channelMults.length - 1; level >= 0; level--) {
      const useAttention = config.attnRes.includes(size);
      const outC = C * config.channelMults[level]!;
      for (let i = 0; i < config.resBlocks + 1; i++) {
        const inC = channels + skipChannels.pop()!;
        note(`ups.${ups.length}`, unitKind(useAttention), inC, outC, size);
        ups.push(unit(inC, outC, useAttention));
        takesSkip.push(true);
        channels = outC;
      }
      if (level > 0) {
        note(`ups.${ups.length}`, resampleKind("up"), channels, channels, size, size * 2);
        ups.push(blockStyle === "sr3" ? resBlock(channels, channels, "up") : new Upsample(ctx, channels));
        takesSkip.push(false);
        size *= 2;
      }
    }
    this.ups = this.child("ups", new ModuleList(ups));
    this.upsTakeSkip = takesSkip;
    this.finalBlock = this.child("final_conv", new Block(ctx, channels, config.bands, groups, 0, 0));
    note("final_conv", "GroupNorm → Swish → Conv3×3", channels, config.bands, config.imageSize);
  }

  /** The top-level layers in order, with channels, feature sizes and parameter counts. */
  summary(): LayerSummary[] {
    const counts = new Map<string, number>();
    for (const [name, tensor] of this.namedParameters()) {
      const parts = name.split(".");
      const key = parts[0] === "downs" || parts[0] === "mid" || parts[0] === "ups"
        ? `${parts[0]}.${parts[1]}`
        : parts[0]!;
      counts.set(key, (counts.get(key) ?? 0) + tensor.size);
    }
    return this.layout.map((row) => ({ ...row, parameters: counts.get(row.name) ?? 0 }));
  }

  /** Builds a UNet with weights initialised from `seed` (orthogonal weights, zero biases). */
  static create(config: UNetConfig, seed = 0): UNet {
    return new UNet(config, seed, true);
  }

  /**
   * Builds a UNet whose parameters are allocated but not initialised: for loading a checkpoint
   * (orthogonal init of a large model takes seconds) or for a shape-only summary.
   */
  static createUninitialized(config: UNetConfig): UNet {
    return new UNet(config, 0, false);
  }

  /**
   * Predicts ε̂ for `x` = concat([condition, x_noisy]) [N, 2·bands, H, W] at noise levels γ = √ᾱ [N].
   * H and W must be divisible by 2^(levels−1); the UNet is fully convolutional otherwise.
   */
  forward(x: Tensor, noiseLevels: Tensor, options: ForwardOptions = { dropoutSeed: 0 }): Tensor {
    const emb = this.noiseMlp.forward(noiseLevels);
    const skipScale = this.config.blockStyle === "sr3" ? Math.SQRT1_2 : 1;
    const skips: Tensor[] = [];
    let h = x;
    for (const layer of this.downs.items) {
      h = layer.forward(h, emb, options);
      skips.push(h);
    }
    for (const layer of this.mid.items) h = layer.forward(h, emb, options);
    this.ups.items.forEach((layer, i) => {
      if (this.upsTakeSkip[i]) {
        const skip = skips.pop()!;
        h = concat([h, skipScale === 1 ? skip : mulScalar(skip, skipScale)], 1);
      }
      h = layer.forward(h, emb, options);
    });
    return this.finalBlock.forward(h, options);
  }
}
