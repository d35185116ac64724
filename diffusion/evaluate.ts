/**
 * Super-resolving batches of chips with a trained UNet, and judging the result as arcgis.learn's
 * `compute_metrics()` and `show_results()` do: PSNR/SSIM of SR3 and of plain bicubic against the
 * high-resolution chips, and a PNG grid LR | bicubic | SR3 | HR.
 * @module
 */
import type { Batch, ChipDataset } from "../data/dataset.ts";
import { imageMetrics } from "../data/metrics.ts";
import { imageGrid } from "../data/plot.ts";
import { encodePng } from "../data/png.ts";
import { previewImage } from "../data/preview.ts";
import { Tensor } from "../nn/tensor.ts";
import type { UNet } from "../nn/unet.ts";
import type { EMA } from "../nn/ema.ts";
import { unetDenoiser } from "./denoisers.ts";
import { DDIM_DEFAULT_STEPS, DPMPP_DEFAULT_STEPS, sample, type SamplerName } from "./samplers/mod.ts";
import type { ScheduleTables } from "./schedule.ts";

/** How to sample: arcgis's `sampling_type` and `n_timestep`, plus a seed. */
export interface SamplingSettings {
  /** "ddim" (default), "ddpm" or "dpmpp". */
  samplingType?: SamplerName;
  /** Network calls for ddim (default 200) and dpmpp (default 20); ddpm always uses every step. */
  nTimestep?: number;
  /** Seed of the sampler's noise (default 0). */
  seed?: number;
  /** DDIM η (default 0). */
  eta?: number;
  /** Truncated start from the noised condition at this noise level (see SampleOptions). */
  startNoiseLevel?: number;
  /** Called with (network calls done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Options of `showResults()`: sampling plus the number of rows and an optional PNG path. */
export interface ResultsOptions extends SamplingSettings {
  /** Chips (rows) to show (default 4). */
  rows?: number;
  /** Also write the PNG here. */
  path?: string;
}

/** Steps a sampler will take under `settings` (for labels and reports). */
export function samplingLabel(settings: SamplingSettings): string {
  const type = settings.samplingType ?? "ddim";
  const steps = type === "ddpm"
    ? "all"
    : settings.nTimestep ?? (type === "dpmpp" ? DPMPP_DEFAULT_STEPS : DDIM_DEFAULT_STEPS);
  return `${type} ${steps}`;
}

/**
 * Super-resolves conditions `lrUp` (NCHW in [−1, 1]) with `model` in eval mode, using the EMA weights
 * when given (swapped in for the call and back after). Returns the samples in [−1, 1].
 */
export async function superResolve(
  model: UNet,
  schedule: ScheduleTables,
  lrUp: Float32Array,
  shape: readonly number[],
  settings: SamplingSettings = {},
  ema: EMA | null = null,
): Promise<Float32Array> {
  const wasTraining = model.training;
  model.setTraining(false);
  ema?.swap();
  const condition = Tensor.fromArray(lrUp, shape);
  try {
    const result = await sample(settings.samplingType ?? "ddim", unetDenoiser(model), condition, {
      schedule,
      steps: settings.nTimestep,
      seed: settings.seed ?? 0,
      eta: settings.eta,
      startNoiseLevel: settings.startNoiseLevel,
      onProgress: settings.onProgress,
    });
    const values = await result.read();
    result.dispose();
    return values;
  } finally {
    condition.dispose();
    ema?.swap();
    model.setTraining(wasTraining);
  }
}

/** PSNR (dB) and SSIM, arcgis's `compute_metrics()` keys. */
export interface MetricPair {
  /** Peak signal-to-noise ratio in dB. */
  PSNR: number;
  /** Structural similarity. */
  SSIM: number;
}

/** SR3 and bicubic scores over the same chips. */
export interface EvaluationReport {
  /** The SR3 samples against HR. */
  sr3: MetricPair;
  /** Plain bicubic upsampling against HR. */
  bicubic: MetricPair;
  /** Chips scored. */
  chips: number;
  /** Sampler and steps used. */
  sampling: string;
}

/** One evaluated batch: its data and the SR3 samples. */
export interface EvaluatedBatch {
  /** The batch (HR, condition, LR, mask). */
  batch: Batch;
  /** SR3 output in [−1, 1], NCHW like `batch.hr`. */
  sr: Float32Array;
}

/**
 * Samples SR3 for up to `maxChips` validation chips (in the dataset's fixed validation order) and
 * returns the batches with their samples.
 */
export async function sampleValidation(
  model: UNet,
  schedule: ScheduleTables,
  dataset: ChipDataset,
  options: SamplingSettings & { maxChips?: number; batchSize?: number; ema?: EMA | null } = {},
): Promise<EvaluatedBatch[]> {
  const out: EvaluatedBatch[] = [];
  let remaining = options.maxChips ?? Infinity;
  for (const whole of dataset.validationBatches(options.batchSize ?? 4)) {
    if (remaining <= 0) break;
    const batch = whole.shape.batch > remaining ? firstChips(whole, remaining) : whole;
    const { batch: n, channels, height, width } = batch.shape;
    const sr = await superResolve(
      model,
      schedule,
      batch.lrUp,
      [n, channels, height, width],
      options,
      options.ema,
    );
    out.push({ batch, sr });
    remaining -= n;
  }
  return out;
}

/** The first `count` chips of a batch. */
function firstChips(batch: Batch, count: number): Batch {
  const { channels, height, width, lrHeight, lrWidth } = batch.shape;
  const hrSize = channels * height * width;
  return {
    hr: batch.hr.subarray(0, count * hrSize),
    lrUp: batch.lrUp.subarray(0, count * hrSize),
    lr: batch.lr.subarray(0, count * channels * lrHeight * lrWidth),
    mask: batch.mask.subarray(0, count * height * width),
    shape: { ...batch.shape, batch: count },
    names: batch.names.slice(0, count),
  };
}

/** Mean PSNR/SSIM of SR3 and bicubic over evaluated batches (per chip, then averaged, as the reference reports). */
export function scoreBatches(batches: readonly EvaluatedBatch[], sampling: string): EvaluationReport {
  const totals = { srP: 0, srS: 0, biP: 0, biS: 0, n: 0 };
  for (const { batch, sr } of batches) {
    const { batch: n, channels, height, width } = batch.shape;
    const size = channels * height * width;
    for (let i = 0; i < n; i++) {
      const hr = batch.hr.subarray(i * size, (i + 1) * size);
      const s = imageMetrics(sr.subarray(i * size, (i + 1) * size), hr, width, height);
      const b = imageMetrics(batch.lrUp.subarray(i * size, (i + 1) * size), hr, width, height);
      totals.srP += s.psnr;
      totals.srS += s.ssim;
      totals.biP += b.psnr;
      totals.biS += b.ssim;
      totals.n++;
    }
  }
  const n = Math.max(1, totals.n);
  return {
    sr3: { PSNR: totals.srP / n, SSIM: totals.srS / n },
    bicubic: { PSNR: totals.biP / n, SSIM: totals.biS / n },
    chips: totals.n,
    sampling,
  };
}

/** A PNG grid with one row per chip: LR | bicubic | SR3 | HR (the first three bands as RGB). */
export function resultsGrid(
  batches: readonly EvaluatedBatch[],
  rows: number,
  sampling: string,
  title?: string,
): Uint8Array {
  const grid = [];
  for (const { batch, sr } of batches) {
    const { batch: n, channels, height, width, lrHeight, lrWidth } = batch.shape;
    const size = channels * height * width;
    const lrSize = channels * lrHeight * lrWidth;
    for (let i = 0; i < n && grid.length < rows; i++) {
      const show = (data: Float32Array, w: number, h: number) =>
        previewImage(data, w, h, { stretch: "signedUnit" });
      grid.push([
        show(batch.lr.subarray(i * lrSize, (i + 1) * lrSize), lrWidth, lrHeight),
        show(batch.lrUp.subarray(i * size, (i + 1) * size), width, height),
        show(sr.subarray(i * size, (i + 1) * size), width, height),
        show(batch.hr.subarray(i * size, (i + 1) * size), width, height),
      ]);
    }
  }
  const cell = Math.max(128, batches[0]?.batch.shape.height ?? 128);
  return encodePng(imageGrid(grid, {
    columnLabels: ["LR", "bicubic", `SR3 (${sampling})`, "HR"],
    cellSize: cell,
    title,
  }));
}
