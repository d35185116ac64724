/**
 * The data and options of the arcgis-style API (`prepareData()`, `SuperResolution.create/fit/predict`):
 * what a script passes in and gets back, apart from the class that does the work.
 * @module
 */
import { type ChipDatasetOptions, loadChipDataset } from "../data/dataset.ts";
import type { ChipDataset } from "../data/dataset.ts";
import type { ShardSpec } from "../data/shard.ts";
import type { UpscaleSummary } from "../data/upscale.ts";
import type { MeanNetConfig } from "../nn/mean_net.ts";
import type { PresetName, UNetConfig } from "../nn/unet.ts";
import type { FormulationKind, PredictionTarget } from "./formulation.ts";
import type { InferencePreset } from "./inference.ts";
import type { SamplingSettings } from "./pipeline.ts";
import type { ScheduleName } from "./schedule.ts";
import type { RunOptions } from "./training_run.ts";

/** Options of {@link prepareData} (arcgis `prepare_data`). */
export interface PrepareDataOptions extends ChipDatasetOptions {
  /** Chips per training batch (default 4). */
  batchSize?: number;
}

/** A prepared dataset: chips, split and batch size. */
export interface SuperResolutionData {
  /** The folder the chips came from. */
  path: string;
  /** Chips, split, normalisation and batching. */
  dataset: ChipDataset;
  /** Chips per batch. */
  batchSize: number;
}

/** Loads an Export Tiles folder (or any folder of images) for training and evaluation. */
export async function prepareData(
  path: string,
  options: PrepareDataOptions = {},
): Promise<SuperResolutionData> {
  const dataset = await loadChipDataset(path, options);
  return { path, dataset, batchSize: options.batchSize ?? 4 };
}

/** Model knobs (arcgis `SuperResolution(data, model_type="SR3", **kwargs)`, camel-cased). */
export interface SuperResolutionOptions extends Partial<Omit<UNetConfig, "bands" | "imageSize">> {
  /** Only "SR3". */
  modelType?: "SR3";
  /** Start from a preset's knobs (default "arcgis"); explicit knobs override it. */
  preset?: PresetName;
  /** Noise schedule (default "linear"). */
  schedule?: ScheduleName;
  /** Training noise levels T (default 2000). */
  nTimestep?: number;
  /** β_1 of linear-family schedules (default 1e-6). */
  linearStart?: number;
  /** β_T of linear-family schedules (default 1e-2). */
  linearEnd?: number;
  /** Weight initialisation seed (default 0). */
  seed?: number;
  /** "sr3" (the paper's, default) or "residual" (mean predictor + diffusion of the residual). */
  formulation?: FormulationKind;
  /** What the UNet predicts (default "eps" for sr3, "v" for residual). */
  predictionTarget?: PredictionTarget;
  /** Min-SNR-γ loss weighting (default none for sr3, 5 for residual). */
  minSnrGamma?: number | null;
  /** Mean-predictor knobs of residual models (default 32 features, 4 blocks). */
  meanNet?: Partial<Pick<MeanNetConfig, "features" | "blocks">>;
  /**
   * Start the UNet from another model directory's inference weights instead of a random init (fine-tuning;
   * the UNet knobs must match). Recorded in model.json as `initializedFrom`.
   */
  initFrom?: string;
}

/** Options of {@link SuperResolution.fit}: the loop's and the optimizer's. */
export interface FitCallOptions extends RunOptions {
  /** Model directory (default `<data path>/models/sr3`). */
  outDir?: string;
  /**
   * A new run into a directory that holds another run's model.json or checkpoints replaces them (only
   * those) instead of refusing. Default false.
   */
  overwrite?: boolean;
}

/** Options of {@link SuperResolution.predict}. */
export interface PredictOptions extends SamplingSettings {
  /** Output GeoTIFF path. */
  outPath: string;
  /** Inference preset (default: model.json's); sampler fields given here override it. */
  preset?: InferencePreset;
  /** Also write the per-pixel standard deviation over the samples here (float32 GeoTIFF, native units). */
  uncertaintyPath?: string;
  /**
   * Tile side in low-resolution pixels (default: the preset's `tileSize`, else the side between the
   * training chip's LR side and 4× it that processes the fewest pixels for this raster). The networks are
   * fully convolutional; larger tiles mean fewer tile borders, where they see zero padding instead of
   * context. Must keep the UNet's levels whole (a multiple of 2^(levels−1)/factor).
   */
  tileSize?: number;
  /** Overlap between tiles in low-resolution pixels (default: model.json's ModelPadding, else tile/8). */
  padding?: number;
  /**
   * Tiles per sampler call (default: as many as fill one sampler run, counting each tile's samples:
   * 8 tiles of 32×32 HR with 4 samples on a CPU adapter).
   */
  batchSize?: number;
  /** Match each tile's low frequencies to the input (counters SR3's colour drift); default off. */
  colorCorrection?: boolean;
  /** 0-based input bands (default: all). */
  bands?: readonly number[];
  /** Replace an existing output. */
  overwrite?: boolean;
  /** Write a Cloud-Optimized GeoTIFF (tiled, overviews); not with `shard` (`sr3 mosaic` makes that COG). */
  cog?: boolean;
  /**
   * Do only shard `index` of `count` (data/shard.ts): write `outPath.parts/part-K-of-N.tif` and its
   * manifest for `sr3 mosaic`, instead of `outPath`. A rerun replaces only that shard's files.
   */
  shard?: ShardSpec;
  /** Called with (tiles done, tiles total). */
  onTiles?: (done: number, total: number) => void;
  /** Called with a one-line warning when the input differs from the training data (type, value range). */
  onWarning?: (message: string) => void;
  /**
   * Map the input's own per-band range (0.1th–99.9th percentiles) to the model's instead of the model's
   * normalisation, and write the output in the input's units and data type: for 16-bit or float imagery
   * and a model trained on uint8 (default false).
   */
  stretch?: boolean;
}

/** What {@link SuperResolution.predict} wrote, and how it sampled. */
export interface PredictSummary extends UpscaleSummary {
  /** The sampler, steps, start and sample count used. */
  sampling: string;
  /** Tile side in low-resolution pixels. */
  tileSize: number;
  /** Tiles per sampler call. */
  batchSize: number;
  /** With `shard`: the part's manifest (`outputPath` is then the part). */
  manifestPath?: string;
}
