/**
 * Training objectives: what one step feeds a network and what its prediction is compared with. The
 * {@link Trainer} owns the rest (loss, backward, clipping, Adam, EMA), so every formulation shares it:
 *
 * - {@link sr3Objective}: SR3 §2.4 — UNet(concat(bicubic, α·HR + σ·ε), α) against ε (or x0 / v).
 * - {@link residualObjective}: the same on r = (HR − m)·s, conditioned on the frozen mean m.
 * - {@link meanObjective}: the mean predictor's regression, MeanNet(LR) against HR.
 *
 * Per-sample Min-SNR weights ride in the per-pixel loss mask, so no kernel changes with them.
 * @module
 */
import { noisyInput } from "../kernels/diffusion.ts";
import type { Batch } from "../data/dataset.ts";
import type { SeededRandom } from "../data/random.ts";
import { mixSeed } from "../data/random.ts";
import { noGrad } from "../nn/autodiff.ts";
import type { MeanNet } from "../nn/mean_net.ts";
import type { Module } from "../nn/module.ts";
import { affine, mul, sub } from "../nn/ops/elementwise.ts";
import { randomNormal } from "../nn/ops/random.ts";
import { getRuntime, Tensor } from "../nn/tensor.ts";
import type { UNet } from "../nn/unet.ts";
import { type Formulation, minSnrWeight, sigmaOf, SR3_FORMULATION } from "./formulation.ts";
import { sampleNoiseLevels, type ScheduleTables } from "./schedule.ts";

/** One step's prediction, what it should equal, and the per-pixel loss weights (N × 1 × H × W). */
export interface ObjectiveTerms {
  /** The network output (on the tape). */
  predicted: Tensor;
  /** The target, same shape. */
  target: Tensor;
  /** Loss weights: the nodata mask times any per-sample weight. */
  weights: Float32Array;
}

/** A training objective over the parameters of `module`. */
export interface Objective {
  /** The module whose parameters are trained (optimizer, EMA and checkpoints follow it). */
  readonly module: Module;
  /** Records the forward pass of step `step` (1-based) on `batch`, inside the trainer's tidy scope. */
  terms(batch: Batch, step: number, seed: number, random: SeededRandom): ObjectiveTerms;
}

function shapeOf(batch: Batch): number[] {
  const { batch: n, channels, height, width } = batch.shape;
  return [n, channels, height, width];
}

/** The mask weighted per sample (Min-SNR), or the mask itself when every weight is 1. */
function weightedMask(mask: Float32Array, perSample: readonly number[]): Float32Array {
  if (perSample.every((w) => w === 1)) return mask;
  const pixels = mask.length / perSample.length;
  return mask.map((m, i) => m * perSample[Math.floor(i / pixels)]!);
}

/**
 * A diffusion step on `x0` (HR, or the scaled residual) conditioned on `condition`: draws per-sample
 * levels from the host random source, noise from (seed, step), builds the UNet input in one kernel.
 */
function diffusionTerms(
  unet: UNet,
  formulation: Formulation,
  batch: Batch,
  step: number,
  seed: number,
  levelsHost: Float32Array,
  condition: Tensor,
  x0: Tensor,
): ObjectiveTerms {
  const shape = shapeOf(batch);
  const [n, channels, height, width] = shape as [number, number, number, number];
  const levels = Tensor.fromArray(levelsHost, [n]);
  const noise = randomNormal(shape, seed, step);
  const input = Tensor.empty([n, 2 * channels, height, width]);
  noisyInput(getRuntime(), input, condition, x0, noise, levels);
  const predicted = unet.forward(input, levels, { dropoutSeed: mixSeed(seed, step) });
  const { target: kind, minSnrGamma } = formulation;
  let target = noise;
  if (kind === "x0") target = x0;
  if (kind === "v") {
    const alpha = Tensor.fromArray(levelsHost, [n, 1, 1, 1]);
    const sigma = Tensor.fromArray(levelsHost.map(sigmaOf), [n, 1, 1, 1]);
    target = sub(mul(alpha, noise), mul(sigma, x0));
  }
  const perSample = Array.from(levelsHost, (alpha) => minSnrWeight(kind, alpha, minSnrGamma));
  return { predicted, target, weights: weightedMask(batch.mask, perSample) };
}

/** Plain SR3 (or its x0/v variants): diffuse HR conditioned on the bicubic upsampling. */
export function sr3Objective(
  unet: UNet,
  schedule: ScheduleTables,
  formulation: Formulation = SR3_FORMULATION,
): Objective {
  return {
    module: unet,
    terms(batch, step, seed, random) {
      // Levels are drawn before anything else, as they always were: resumed runs stay bit-exact.
      const levels = sampleNoiseLevels(schedule, batch.shape.batch, () => random.next());
      const hr = Tensor.fromArray(batch.hr, shapeOf(batch));
      const condition = Tensor.fromArray(batch.lrUp, shapeOf(batch));
      return diffusionTerms(unet, formulation, batch, step, seed, levels, condition, hr);
    },
  };
}

/** The frozen mean predictor's estimate for a batch (no tape, eval mode). */
export function predictMean(meanNet: MeanNet, batch: Batch): Tensor {
  const { batch: n, channels, lrHeight, lrWidth } = batch.shape;
  meanNet.setTraining(false);
  return noGrad(() =>
    meanNet.forward(
      Tensor.fromArray(batch.lr, [n, channels, lrHeight, lrWidth]),
      Tensor.fromArray(batch.lrUp, shapeOf(batch)),
    )
  );
}

/** Residual diffusion: r = (HR − m)·s conditioned on the mean m of a trained, frozen mean predictor. */
export function residualObjective(
  unet: UNet,
  meanNet: MeanNet,
  schedule: ScheduleTables,
  formulation: Formulation,
): Objective {
  return {
    module: unet,
    terms(batch, step, seed, random) {
      const levels = sampleNoiseLevels(schedule, batch.shape.batch, () => random.next());
      const mean = predictMean(meanNet, batch);
      const residual = affine(sub(Tensor.fromArray(batch.hr, shapeOf(batch)), mean), formulation.scale);
      return diffusionTerms(unet, formulation, batch, step, seed, levels, mean, residual);
    },
  };
}

/** The mean predictor's regression: MeanNet(LR, bicubic) against HR (L1 by default, as EDSR). */
export function meanObjective(meanNet: MeanNet): Objective {
  return {
    module: meanNet,
    terms(batch) {
      const { batch: n, channels, lrHeight, lrWidth } = batch.shape;
      const lr = Tensor.fromArray(batch.lr, [n, channels, lrHeight, lrWidth]);
      const lrUp = Tensor.fromArray(batch.lrUp, shapeOf(batch));
      const predicted = meanNet.forward(lr, lrUp);
      return { predicted, target: Tensor.fromArray(batch.hr, shapeOf(batch)), weights: batch.mask };
    },
  };
}
