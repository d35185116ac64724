/**
 * Inference for one batch of chips or tiles, for every formulation:
 *
 * - plain SR3: sample x from the UNet conditioned on bicubic(LR) (a truncated start noises bicubic);
 * - residual: m = MeanNet(LR); sample r conditioned on m (a truncated start noises r = 0, i.e. the
 *   mean itself); output m + r/s;
 * - `samplingType: "mean"`: the mean predictor alone (residual models), no diffusion.
 *
 * With `samples: K` the batch is replicated K times along N and sampled in one sampler run; the output
 * is the per-pixel mean of the K samples (a K-sample average has about 1/K of a sample's excess error
 * over the posterior mean) and their standard deviation is the uncertainty map.
 * @module
 */
import type { BatchShape } from "../data/dataset.ts";
import { DataError } from "../base/errors.ts";
import { withFrozenWeights } from "../kernels/frozen_weights.ts";
import { noGrad } from "../nn/autodiff.ts";
import type { EMA } from "../nn/ema.ts";
import type { MeanNet } from "../nn/mean_net.ts";
import { concat } from "../nn/ops/shape.ts";
import { getRuntime, Tensor, tidy } from "../nn/tensor.ts";
import type { UNet } from "../nn/unet.ts";
import { unetDenoiser } from "./denoisers.ts";
import type { Formulation } from "./formulation.ts";
import { itemNoise, sampleSeed } from "./tile_noise.ts";
import { type Denoiser, sample, type SampleOptions, type SamplerName } from "./samplers/mod.ts";
import type { ScheduleTables } from "./schedule.ts";

/** What inference needs of a model. */
export interface ModelParts {
  /** The denoising UNet. */
  unet: UNet;
  /** The mean predictor (residual models), else null. */
  meanNet: MeanNet | null;
  /** The training schedule the samplers sub-sample. */
  schedule: ScheduleTables;
  /** What the UNet diffuses and predicts. */
  formulation: Formulation;
}

/**
 * How to sample: arcgis's `sampling_type`, the network calls (arcgis's sampling `n_timestep`; here
 * `samplingSteps`, since `nTimestep` is the schedule's length T), plus sr3's start, averaging and seed.
 */
export interface SamplingSettings {
  /** "ddim" (default), "ddpm", "dpmpp", or "mean" (the mean predictor alone; residual models). */
  samplingType?: SamplerName | "mean";
  /** Network calls for ddim (default 200) and dpmpp (default 20); ddpm always uses every step. */
  samplingSteps?: number;
  /** Seed of the sampler's noise (default 0). */
  seed?: number;
  /** DDIM η (default 0). */
  eta?: number;
  /**
   * Truncated start at this noise level γ = √ᾱ, from the noised mean (residual models) or the noised
   * bicubic image (plain SR3); default: pure noise.
   */
  startNoiseLevel?: number;
  /** Samples averaged per chip (default 1); with K > 1 their standard deviation is the uncertainty. */
  samples?: number;
  /** Called with (network calls done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Whole-raster inference: tile side in LR pixels (default: the training chip's). */
  tileSize?: number;
  /** Whole-raster inference: tile overlap in LR pixels (default: model.json's ModelPadding). */
  padding?: number;
}

/** One batch super-resolved, NCHW in [−1, 1]. */
export interface ResolvedBatch {
  /** The output: the sample, or the mean of K samples. */
  sr: Float32Array;
  /** Per-pixel standard deviation over the K samples (K > 1), in [−1, 1] units; else null. */
  std: Float32Array | null;
  /** The mean predictor's estimate (residual models), else null. */
  mean: Float32Array | null;
}

/** Per-pixel mean and standard deviation over K samples stored as K consecutive batches of `size`. */
export function sampleStatistics(
  samples: Float32Array,
  k: number,
): { mean: Float32Array; std: Float32Array } {
  const size = samples.length / k;
  const mean = new Float32Array(size);
  const std = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += samples[j * size + i]!;
    const m = sum / k;
    let squares = 0;
    for (let j = 0; j < k; j++) squares += (samples[j * size + i]! - m) ** 2;
    mean[i] = m;
    std[i] = Math.sqrt(squares / k);
  }
  return { mean, std };
}

/** Residual samples back to images, in place: x = m + r/s (`mean` is one batch; samples may hold K). */
export function residualToImage(samples: Float32Array, mean: Float32Array, scale: number): Float32Array {
  const inverse = 1 / scale;
  for (let i = 0; i < samples.length; i++) samples[i] = mean[i % mean.length]! + samples[i]! * inverse;
  return samples;
}

/**
 * K samples per item of `condition` in one sampler run: the batch is replicated K times along N (item n
 * of sample k at k·N + n), so every copy draws its own noise. Returns the samples on the host.
 */
export async function sampleRepeated(
  type: SamplerName,
  denoise: Denoiser,
  condition: Tensor,
  k: number,
  options: SampleOptions,
): Promise<Float32Array> {
  const result = await sampleRepeatedOnDevice(type, denoise, condition, k, options);
  try {
    return await result.read();
  } finally {
    result.dispose();
  }
}

/** {@link sampleRepeated} leaving the samples on the device (the caller disposes them). */
async function sampleRepeatedOnDevice(
  type: SamplerName,
  denoise: Denoiser,
  condition: Tensor,
  k: number,
  options: SampleOptions,
): Promise<Tensor> {
  const owned: Tensor[] = [];
  try {
    const repeated = k === 1 ? condition : noGrad(() => concat(Array(k).fill(condition), 0));
    if (k > 1) owned.push(repeated);
    const start = options.startFrom;
    const startRepeated = start && k > 1 ? noGrad(() => concat(Array(k).fill(start), 0)) : start;
    if (startRepeated && startRepeated !== start) owned.push(startRepeated);
    return await sample(type, denoise, repeated, { ...options, startFrom: startRepeated });
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * HR pixels (chips × samples × height × width) one sampler run takes: 32 chips of 32×32 on CPU adapters,
 * whose throughput per pixel no longer grows past that (lavapipe with the bundled model: ~80 ms per chip
 * at 32, and larger runs only hold more memory), and 256 on GPUs, which need wide batches to fill.
 */
function samplerPixelBudget(): number {
  return (getRuntime().adapter.isSoftware ? 32 : 256) * 32 * 32;
}

/**
 * Whole-raster inference: tiles of `side` × `side` HR pixels per sampler run when the caller names no
 * batch size, so that `samples` copies of each fill the run's pixel budget (at least one tile).
 */
export function tilesPerSamplerRun(side: number, samples: number): number {
  return Math.max(1, Math.floor(samplerPixelBudget() / (Math.max(1, samples) * side * side)));
}

/**
 * Super-resolves `lr` [N, C, h, w] with its bicubic upsampling `lrUp` [N, C, H, W] (both in [−1, 1], sizes in `shape`)
 * in eval mode, with the EMA weights swapped in when given. With `itemSeeds` (one per item, e.g.
 * {@link tileSeed}s) each item's noise comes from its own seed, so an item's output does not depend on
 * its batch; without them the batch shares `settings.seed`.
 * @throws {DataError} when "mean" is asked of a model without a mean predictor
 */
export async function resolveBatch(
  parts: ModelParts,
  lr: Float32Array,
  lrUp: Float32Array,
  shape: BatchShape,
  settings: SamplingSettings = {},
  ema: EMA | null = null,
  itemSeeds: readonly number[] | null = null,
): Promise<ResolvedBatch> {
  const { unet, meanNet, formulation } = parts;
  if (itemSeeds && itemSeeds.length !== shape.batch) {
    throw new RangeError(`${itemSeeds.length} item seeds for a batch of ${shape.batch}`);
  }
  const type = settings.samplingType ?? "ddim";
  if ((formulation.kind === "residual" || type === "mean") && !meanNet) {
    throw new DataError(`sampling "${type}" needs a mean predictor; this model has none (formulation sr3)`);
  }
  const k = Math.max(1, Math.floor(settings.samples ?? 1));
  const chunk = tilesPerSamplerRun(Math.sqrt(shape.height * shape.width), k);
  const states = [unet.training, meanNet?.training ?? false];
  unet.setTraining(false);
  meanNet?.setTraining(false);
  ema?.swap();
  try {
    // The parameters stay as they are for the whole run: each convolution packs its weights once.
    return await withFrozenWeights(getRuntime(), async () => {
      if (shape.batch <= chunk) return await resolveChunk(parts, lr, lrUp, shape, settings, k, itemSeeds);
      // Chunks in order; each chunk's seed is offset so that no two chunks share noise.
      const hrSize = shape.channels * shape.height * shape.width;
      const lrSize = shape.channels * shape.lrHeight * shape.lrWidth;
      const pieces: ResolvedBatch[] = [];
      for (let start = 0, index = 0; start < shape.batch; start += chunk, index++) {
        const n = Math.min(chunk, shape.batch - start);
        pieces.push(
          await resolveChunk(
            parts,
            lr.subarray(start * lrSize, (start + n) * lrSize),
            lrUp.subarray(start * hrSize, (start + n) * hrSize),
            { ...shape, batch: n },
            { ...settings, seed: (settings.seed ?? 0) + 104729 * index },
            k,
            itemSeeds?.slice(start, start + n) ?? null,
          ),
        );
      }
      const join = (pick: (r: ResolvedBatch) => Float32Array | null): Float32Array | null => {
        if (pieces.some((r) => pick(r) === null)) return null;
        const out = new Float32Array(shape.batch * hrSize);
        let at = 0;
        for (const r of pieces) {
          out.set(pick(r)!, at);
          at += pick(r)!.length;
        }
        return out;
      };
      return { sr: join((r) => r.sr)!, std: join((r) => r.std), mean: join((r) => r.mean) };
    });
  } finally {
    ema?.swap();
    unet.setTraining(states[0]!);
    meanNet?.setTraining(states[1]!);
  }
}

/** {@link resolveBatch} for a batch the sampler takes in one run (networks already in eval mode). */
async function resolveChunk(
  parts: ModelParts,
  lr: Float32Array,
  lrUp: Float32Array,
  shape: BatchShape,
  settings: SamplingSettings,
  k: number,
  itemSeeds: readonly number[] | null,
): Promise<ResolvedBatch> {
  const { unet, meanNet, formulation } = parts;
  const { batch: n, channels: c, height: h, width: w, lrHeight, lrWidth } = shape;
  const residual = formulation.kind === "residual";
  const type = settings.samplingType ?? "ddim";
  const owned: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (owned.push(t), t);
  try {
    const up = keep(Tensor.fromArray(lrUp, [n, c, h, w]));
    let mean: Tensor | null = null;
    if (meanNet && (residual || type === "mean")) {
      const low = keep(Tensor.fromArray(lr, [n, c, lrHeight, lrWidth]));
      // tidy: the mean predictor's intermediate activations are freed here (they leaked ~3 MB per tile).
      mean = keep(noGrad(() => tidy(() => meanNet.forward(low, up))));
    }
    if (type === "mean") {
      const meanHost = await mean!.read();
      return { sr: meanHost, std: null, mean: meanHost };
    }
    const condition = residual ? mean! : up;
    const result = keep(
      await sampleRepeatedOnDevice(type, unetDenoiser(unet, formulation.target), condition, k, {
        schedule: parts.schedule,
        steps: settings.samplingSteps,
        seed: settings.seed ?? 0,
        // Copy k of item n sits at k·N + n (sampleRepeated).
        noise: itemSeeds
          ? itemNoise(
            Array.from({ length: k * n }, (_, i) => sampleSeed(itemSeeds[i % n]!, Math.floor(i / n))),
          )
          : undefined,
        eta: settings.eta,
        startNoiseLevel: settings.startNoiseLevel,
        // Residual diffusion starts from r = 0, i.e. from the mean; its x̂0 lives in s·[−2, 2], not [−1, 1].
        startFrom: residual ? keep(Tensor.zeros(condition.shape)) : undefined,
        clip: !residual,
        onProgress: settings.onProgress,
      }),
    );
    // One readback for the samples and the mean together (each costs a ~11 ms round trip in Deno).
    const both = mean ? await keep(noGrad(() => concat([result, mean!], 0))).read() : await result.read();
    const samples = both.slice(0, result.size);
    const meanHost = mean ? both.slice(result.size) : null;
    if (residual) residualToImage(samples, meanHost!, formulation.scale);
    if (k === 1) return { sr: samples, std: null, mean: meanHost };
    const stats = sampleStatistics(samples, k);
    return { sr: stats.mean, std: stats.std, mean: meanHost };
  } finally {
    for (const t of owned) t.dispose();
  }
}
