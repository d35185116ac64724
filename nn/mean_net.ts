/**
 * The mean predictor: a small residual CNN (EDSR without batch norm, Lim et al. 2017; ESPCN's
 * sub-pixel upsampler, Shi et al. 2016) that maps a low-resolution chip to an estimate of the
 * high-resolution image's posterior mean. It works at LR resolution, where every convolution costs
 * factor² less than at HR, and adds what it predicts to the bicubic upsampling (global residual
 * learning), so an untrained net starts at bicubic and only has to learn the missing detail:
 *
 *   m = bicubic(lr) + pixelShuffle(tail(body(head(lr))), factor)
 *   head: Conv3×3(bands → F); body: `blocks` × [Conv3×3 → SiLU → Conv3×3, + skip]; tail: Conv3×3(F → bands·factor²)
 *
 * The tail and each block's second convolution start at zero, so the untrained net is exactly bicubic and
 * every block starts as the identity.
 * @module
 */
import { Conv2d, type LayerContext } from "./layers.ts";
import { Module, ModuleList } from "./module.ts";
import { seededRandom } from "./init.ts";
import { add, mulScalar, silu } from "./ops/elementwise.ts";
import { pixelShuffle } from "./ops/pixel_shuffle.ts";
import { formatShape, ShapeError } from "../base/errors.ts";
import type { Tensor } from "./tensor.ts";

/** The mean predictor's knobs (stored in model.json as `meanNet`). */
export interface MeanNetConfig {
  /** Image bands in and out. */
  bands: number;
  /** Feature channels F of every hidden convolution. */
  features: number;
  /** Residual blocks in the body. */
  blocks: number;
  /** Upscaling factor (HR pixels per LR pixel along each axis). */
  factor: number;
}

/** Default knobs: 4 blocks of 32 features (≈ 89 k parameters for RGB ×4). */
export const MEAN_NET_DEFAULTS = { features: 32, blocks: 4 } as const;

/** Checks that the knobs build a network. @throws {RangeError} naming the first bad knob */
export function validateMeanNetConfig(config: MeanNetConfig): void {
  for (const key of ["bands", "features", "factor"] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1) {
      throw new RangeError(
        `invalid mean-net configuration: ${key} must be a positive integer, got ${config[key]}`,
      );
    }
  }
  if (!Number.isInteger(config.blocks) || config.blocks < 0) {
    throw new RangeError(`invalid mean-net configuration: blocks must be ≥ 0, got ${config.blocks}`);
  }
}

function zero(t: Tensor): void {
  t.rt.write(t.buffer, new Float32Array(t.size));
}

/**
 * Residual scaling of each block (EDSR, Lim et al. 2017): with no normalisation layer, each block adds to
 * the stream at a tenth of its own scale, which keeps the stream's growth in check at lr 1e-3.
 */
const RESIDUAL_SCALE = 0.1;

/** Conv → SiLU → Conv, scaled, with an identity skip. */
class ResidualBlock extends Module {
  private readonly first: Conv2d;
  private readonly second: Conv2d;

  constructor(ctx: LayerContext, features: number) {
    super();
    this.first = this.child("conv1", new Conv2d(ctx, features, features, 3));
    this.second = this.child("conv2", new Conv2d(ctx, features, features, 3));
  }

  forward(x: Tensor): Tensor {
    return add(x, mulScalar(this.second.forward(silu(this.first.forward(x))), RESIDUAL_SCALE));
  }
}

/** LR chip → estimate of the HR image (see the module documentation). */
export class MeanNet extends Module {
  private readonly head: Conv2d;
  private readonly body: ModuleList<ResidualBlock>;
  private readonly tail: Conv2d;

  private constructor(readonly config: MeanNetConfig, seed: number, initialize: boolean) {
    super();
    validateMeanNetConfig(config);
    const ctx: LayerContext = { random: seededRandom(seed), initialize };
    const { bands, features, blocks, factor } = config;
    this.head = this.child("head", new Conv2d(ctx, bands, features, 3));
    this.body = this.child(
      "body",
      new ModuleList(Array.from({ length: blocks }, () => new ResidualBlock(ctx, features))),
    );
    this.tail = this.child("tail", new Conv2d(ctx, features, bands * factor * factor, 3));
    // A zero tail makes the untrained net exactly bicubic: training starts from the baseline.
    if (initialize) zero(this.tail.weight);
  }

  /** A network with weights initialised from `seed` (orthogonal convolutions, zero biases, zero tail). */
  static create(config: MeanNetConfig, seed = 0): MeanNet {
    return new MeanNet(config, seed, true);
  }

  /** A network with allocated but uninitialised weights, about to be loaded. */
  static createUninitialized(config: MeanNetConfig): MeanNet {
    return new MeanNet(config, 0, false);
  }

  /**
   * The HR estimate [N, bands, H·factor, W·factor] from `lr` [N, bands, H, W] and its bicubic
   * upsampling `lrUp`, both in [−1, 1].
   */
  forward(lr: Tensor, lrUp: Tensor): Tensor {
    const { bands, factor } = this.config;
    const [n, c, h, w] = lr.shape;
    const expected = [n!, bands, h! * factor, w! * factor];
    if (lr.shape.length !== 4 || c !== bands || lrUp.shape.join() !== expected.join()) {
      throw new ShapeError(
        `MeanNet: expected lr [N, ${bands}, H, W] and lrUp [N, ${bands}, H·${factor}, W·${factor}], got ` +
          `${formatShape(lr.shape)} and ${formatShape(lrUp.shape)}`,
      );
    }
    let h0 = this.head.forward(lr);
    for (const block of this.body.items) h0 = block.forward(h0);
    return add(lrUp, pixelShuffle(this.tail.forward(h0), factor));
  }
}
