/**
 * Super-resolving batches of chips with a trained UNet, and judging the result as arcgis.learn's
 * `compute_metrics()` and `show_results()` do: PSNR/SSIM of SR3 and of plain bicubic against the
 * high-resolution chips, and a PNG grid LR | bicubic | SR3 | HR.
 * @module
 */
import type { Batch, ChipDataset } from "../data/dataset.ts";
import { type ImageMetrics, imageMetrics } from "../data/metrics.ts";
import { imageGrid } from "../report/plot.ts";
import { encodePng } from "../report/png.ts";
import { previewImage } from "../report/preview.ts";
import type { EMA } from "../nn/ema.ts";
import { type ModelParts, resolveBatch, type SamplingSettings } from "./pipeline.ts";
import { SAMPLERS } from "./samplers/mod.ts";

export type { SamplingSettings } from "./pipeline.ts";

/** Options of `showResults()`: sampling plus the number of rows and an optional PNG path. */
export interface ResultsOptions extends SamplingSettings {
  /** Chips (rows) to show (default 4). */
  rows?: number;
  /** Also write the PNG here. */
  path?: string;
}

/** What a sampler run under `settings` is (for labels and reports), e.g. "ddim 10 from 0.5 ×4". */
export function samplingLabel(settings: SamplingSettings): string {
  const type = settings.samplingType ?? "ddim";
  if (type === "mean") return "mean predictor";
  const fixed = SAMPLERS[type].defaultSteps;
  const steps = fixed === null ? "all" : settings.samplingSteps ?? fixed;
  const start = settings.startNoiseLevel === undefined ? "" : ` from ${settings.startNoiseLevel}`;
  const k = (settings.samples ?? 1) > 1 ? ` x${settings.samples}` : "";
  return `${type} ${steps}${start}${k}`;
}

/** PSNR (dB) and SSIM (arcgis's `compute_metrics()` keys) with the remote-sensing metrics. */
export interface MetricPair {
  /** Peak signal-to-noise ratio in dB. */
  PSNR: number;
  /** Structural similarity. */
  SSIM: number;
  /** Spectral angle in degrees (lower is better). */
  SAM?: number;
  /** ERGAS (lower is better). */
  ERGAS?: number;
  /** Energy above the LR Nyquist frequency relative to HR's (~0 blur, ~1 realistic texture). */
  HF?: number;
}

/** One image's {@link ImageMetrics} under the report's keys (ERGAS and HF only when computed). */
export function metricPair(m: ImageMetrics): MetricPair {
  return {
    PSNR: m.psnr,
    SSIM: m.ssim,
    SAM: m.sam,
    ...(m.ergas === undefined ? {} : { ERGAS: m.ergas }),
    ...(m.highFrequencyRatio === undefined ? {} : { HF: m.highFrequencyRatio }),
  };
}

/** Running sums of per-chip metrics. */
class Totals {
  count = 0;
  private readonly sums = { PSNR: 0, SSIM: 0, SAM: 0, ERGAS: 0, HF: 0 };

  add(m: ImageMetrics): void {
    this.count++;
    const pair = metricPair(m);
    for (const key of Object.keys(this.sums) as (keyof MetricPair)[]) this.sums[key] += pair[key] ?? NaN;
  }

  average(): MetricPair {
    const n = Math.max(1, this.count);
    const out: MetricPair = { PSNR: this.sums.PSNR / n, SSIM: this.sums.SSIM / n };
    for (const key of ["SAM", "ERGAS", "HF"] as const) {
      if (Number.isFinite(this.sums[key])) out[key] = this.sums[key] / n;
    }
    return out;
  }
}

/** SR3, bicubic and (residual models) mean-predictor scores over the same chips. */
export interface EvaluationReport {
  /** The SR3 output against HR. */
  sr3: MetricPair;
  /** Plain bicubic upsampling against HR. */
  bicubic: MetricPair;
  /** The mean predictor alone against HR (residual models). */
  mean?: MetricPair;
  /** Chips scored. */
  chips: number;
  /** Sampler and steps used. */
  sampling: string;
}

/** One evaluated batch: its data, the SR3 output and what came with it. */
export interface EvaluatedBatch {
  /** The batch (HR, condition, LR, mask). */
  batch: Batch;
  /** SR3 output in [−1, 1], NCHW like `batch.hr`. */
  sr: Float32Array;
  /** Standard deviation over K samples, when K > 1. */
  std: Float32Array | null;
  /** The mean predictor's estimate (residual models). */
  mean: Float32Array | null;
}

/**
 * Super-resolves up to `maxChips` validation chips (in the dataset's fixed validation order) and
 * returns the batches with their outputs.
 */
export async function sampleValidation(
  parts: ModelParts,
  dataset: ChipDataset,
  options: SamplingSettings & { maxChips?: number; batchSize?: number; ema?: EMA | null } = {},
): Promise<EvaluatedBatch[]> {
  const out: EvaluatedBatch[] = [];
  let remaining = options.maxChips ?? Infinity;
  for (const whole of dataset.validationBatches(options.batchSize ?? 4)) {
    if (remaining <= 0) break;
    const batch = whole.shape.batch > remaining ? firstChips(whole, remaining) : whole;
    const resolved = await resolveBatch(parts, batch.lr, batch.lrUp, batch.shape, options, options.ema);
    out.push({ batch, ...resolved });
    remaining -= batch.shape.batch;
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

/**
 * Mean metrics of SR3, of bicubic and (residual models) of the mean predictor alone over evaluated
 * batches: per chip, then averaged, as the reference reports.
 */
export function scoreBatches(batches: readonly EvaluatedBatch[], sampling: string): EvaluationReport {
  const sums = { sr3: new Totals(), bicubic: new Totals(), mean: new Totals() };
  for (const { batch, sr, mean } of batches) {
    const { batch: n, channels, height, width, lrWidth } = batch.shape;
    const size = channels * height * width;
    const factor = width / lrWidth;
    for (let i = 0; i < n; i++) {
      const chip = (data: Float32Array) => data.subarray(i * size, (i + 1) * size);
      const hr = chip(batch.hr);
      sums.sr3.add(imageMetrics(chip(sr), hr, width, height, { factor }));
      sums.bicubic.add(imageMetrics(chip(batch.lrUp), hr, width, height, { factor }));
      if (mean) sums.mean.add(imageMetrics(chip(mean), hr, width, height, { factor }));
    }
  }
  return {
    sr3: sums.sr3.average(),
    bicubic: sums.bicubic.average(),
    ...(sums.mean.count > 0 ? { mean: sums.mean.average() } : {}),
    chips: sums.sr3.count,
    sampling,
  };
}

/**
 * A PNG grid with one row per chip: LR | bicubic | (mean, for residual models) | SR3 | HR (the first
 * three bands as RGB).
 */
export function resultsGrid(
  batches: readonly EvaluatedBatch[],
  rows: number,
  sampling: string,
  title?: string,
): Uint8Array {
  const grid = [];
  const withMean = batches.some((b) => b.mean !== null);
  for (const { batch, sr, mean } of batches) {
    const { batch: n, channels, height, width, lrHeight, lrWidth } = batch.shape;
    const size = channels * height * width;
    const lrSize = channels * lrHeight * lrWidth;
    for (let i = 0; i < n && grid.length < rows; i++) {
      const show = (data: Float32Array, w: number, h: number) =>
        previewImage(data, w, h, { stretch: "signedUnit" });
      const chip = (data: Float32Array) => show(data.subarray(i * size, (i + 1) * size), width, height);
      grid.push([
        show(batch.lr.subarray(i * lrSize, (i + 1) * lrSize), lrWidth, lrHeight),
        chip(batch.lrUp),
        ...(withMean && mean ? [chip(mean)] : []),
        chip(sr),
        chip(batch.hr),
      ]);
    }
  }
  const cell = Math.max(128, batches[0]?.batch.shape.height ?? 128);
  return encodePng(imageGrid(grid, {
    columnLabels: ["LR", "bicubic", ...(withMean ? ["mean"] : []), `SR3 (${sampling})`, "HR"],
    cellSize: cell,
    title,
  }));
}
