/**
 * The scripting API in the shape of arcgis.learn's SR3 (camel-cased): `prepareData()` →
 * `SuperResolution.create(data, knobs)` → `fit()` → `showResults()` / `computeMetrics()` / `predict()`
 * → `save()`, and `SuperResolution.fromModel(dir)` (or `loadModel(dir)`) to come back later.
 * @module
 */
import { type ChipDatasetOptions, loadChipDataset } from "../data/dataset.ts";
import type { ChipDataset } from "../data/dataset.ts";
import { DataError } from "../data/errors.ts";
import { upscaleRaster, type UpscaleSummary } from "../data/upscale.ts";
import { getRuntime, initRuntime, Tensor } from "../nn/tensor.ts";
import { tuneGemmFamily } from "../kernels/tuning.ts";
import { noGrad } from "../nn/autodiff.ts";
import { MEAN_NET_DEFAULTS, type MeanNet, type MeanNetConfig } from "../nn/mean_net.ts";
import { type PresetName, type UNet, type UNetConfig, unetConfig } from "../nn/unet.ts";
import {
  type EvaluationReport,
  resultsGrid,
  type ResultsOptions,
  sampleValidation,
  samplingLabel,
  scoreBatches,
} from "./evaluate.ts";
import type { FitResult } from "./fit.ts";
import {
  type Formulation,
  type FormulationKind,
  type PredictionTarget,
  SR3_FORMULATION,
} from "./formulation.ts";
import { defaultInference, type InferencePreset, resolveSampling } from "./inference.ts";
import {
  type ModelDefinition,
  newModelDefinition,
  readCheckpoint,
  readInferenceWeights,
  readModelDefinition,
  writeModelDefinition,
} from "./model_dir.ts";
import { MEAN_PREFIX, Networks } from "./networks.ts";
import { type ModelParts, resolveBatch, type SamplingSettings } from "./pipeline.ts";
import { buildSchedule, type ScheduleConfig, type ScheduleName, type ScheduleTables } from "./schedule.ts";
import { type RunOptions, type SavedState, TrainingRun } from "./training_run.ts";

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
   * Tile side in low-resolution pixels (default: the preset's `tileSize`, else the training chip's LR
   * side). The networks are fully convolutional; larger tiles mean fewer tile borders, where they see
   * zero padding instead of context. Must keep the UNet's levels whole (a multiple of 2^(levels−1)/factor).
   */
  tileSize?: number;
  /** Overlap between tiles in low-resolution pixels (default: model.json's ModelPadding, else tile/8). */
  padding?: number;
  /** Tiles per sampler call (default 1). */
  batchSize?: number;
  /** Match each tile's low frequencies to the input (counters SR3's colour drift); default off. */
  colorCorrection?: boolean;
  /** 0-based input bands (default: all). */
  bands?: readonly number[];
  /** Replace an existing output. */
  overwrite?: boolean;
  /** Called with (tiles done, tiles total). */
  onTiles?: (done: number, total: number) => void;
}

/** What {@link SuperResolution.predict} wrote, and how it sampled. */
export interface PredictSummary extends UpscaleSummary {
  /** The sampler, steps, start and sample count used. */
  sampling: string;
}

/** An SR3 super-resolution model with its data, training state and sampling. */
export class SuperResolution {
  /** The training run, once `fit()` has run or a checkpoint was resumed. */
  private run: TrainingRun | null = null;

  private constructor(
    /** The networks. */
    readonly networks: Networks,
    /** model.json contents (updated by training and saving). */
    public definition: ModelDefinition,
    /** Training schedule tables. */
    readonly schedule: ScheduleTables,
    /** The dataset, when training or evaluating. */
    public data: SuperResolutionData | null,
  ) {}

  /** The UNet. */
  get model(): UNet {
    return this.networks.unet;
  }

  /** The mean predictor (residual models), else null. */
  get meanNet(): MeanNet | null {
    return this.networks.meanNet;
  }

  /** What the UNet diffuses and predicts. */
  get formulation(): Formulation {
    return this.definition.formulation ?? SR3_FORMULATION;
  }

  /** Networks, schedule and formulation for the sampling pipeline. */
  get parts(): ModelParts {
    return {
      unet: this.networks.unet,
      meanNet: this.networks.meanNet,
      schedule: this.schedule,
      formulation: this.formulation,
    };
  }

  /**
   * A new model for `data` (arcgis `SuperResolution(data, model_type="SR3", …)`). Initialises the WebGPU
   * runtime if none is active.
   */
  static async create(
    data: SuperResolutionData,
    options: SuperResolutionOptions = {},
  ): Promise<SuperResolution> {
    await ensureRuntime();
    const { dataset } = data;
    const {
      preset,
      schedule,
      nTimestep,
      linearStart,
      linearEnd,
      seed,
      modelType: _type,
      formulation: kind,
      predictionTarget,
      minSnrGamma,
      meanNet,
      initFrom,
      ...knobs
    } = options;
    const unet = unetConfig(preset ?? "arcgis", {
      ...stripUndefined(knobs),
      bands: dataset.bandCount,
      imageSize: dataset.chipSize,
    });
    const scheduleConfig: ScheduleConfig = {
      schedule: schedule ?? "linear",
      nTimestep: nTimestep ?? 2000,
      linearStart: linearStart ?? 1e-6,
      linearEnd: linearEnd ?? 1e-2,
    };
    const residual = kind === "residual";
    const definition = newModelDefinition({
      unet,
      schedule: scheduleConfig,
      downsampleFactor: dataset.factor,
      normalization: dataset.normalization,
      batchSize: data.batchSize,
    });
    if (residual || predictionTarget || minSnrGamma) {
      definition.formulation = {
        kind: kind ?? "sr3",
        target: predictionTarget ?? (residual ? "v" : "eps"),
        minSnrGamma: minSnrGamma === undefined ? (residual ? 5 : null) : minSnrGamma,
        scale: 1,
      };
    }
    if (residual) {
      definition.meanNet = {
        ...MEAN_NET_DEFAULTS,
        ...stripUndefined(meanNet ?? {}),
        bands: unet.bands,
        factor: dataset.factor,
      };
    }
    definition.inference = defaultInference(kind ?? "sr3");
    const networks = Networks.create(definition, seed ?? 0);
    if (initFrom) {
      const source = await readModelDefinition(initFrom);
      const weights = await readInferenceWeights(initFrom, source);
      const unetWeights = new Map([...weights].filter(([name]) => !name.startsWith(MEAN_PREFIX)));
      networks.unet.loadParameters(unetWeights, `${initFrom}/${source.ModelFile}`);
      definition.initializedFrom = { model: initFrom, checkpoint: source.ModelFile };
    }
    return new SuperResolution(networks, definition, buildSchedule(scheduleConfig), data);
  }

  /**
   * Loads a model directory. Without `data`, or with `resume: false`, the model is ready for inference
   * and evaluation (EMA weights when the model has them). With `data` (and a checkpoint that has
   * optimizer state) the whole run is restored (weights, optimizer, EMA, data order, random state) so
   * `fit()` continues it exactly.
   */
  static async fromModel(
    dir: string,
    data?: SuperResolutionData,
    options: { resume?: boolean } = {},
  ): Promise<SuperResolution> {
    await ensureRuntime();
    const definition = await readModelDefinition(dir);
    const networks = Networks.uninitialized(definition);
    const sr = new SuperResolution(networks, definition, buildSchedule(definition.schedule), data ?? null);
    const checkpoint = data && options.resume !== false ? await readCheckpoint(dir, definition) : null;
    const state = checkpoint?.state as SavedState | null | undefined;
    if (!data || !checkpoint || !state || !checkpoint.optimizer) {
      if (data && options.resume) {
        throw new DataError(
          `${dir}/${definition.checkpoint}: has no optimizer state to resume training from`,
        );
      }
      networks.load(await readInferenceWeights(dir, definition), `${dir}/${definition.ModelFile}`);
      return sr;
    }
    const where = `${dir}/${definition.checkpoint}`;
    networks.load(checkpoint.weights, `${where}/weights.safetensors`);
    sr.run = TrainingRun.resume(sr, state, checkpoint, where, data);
    return sr;
  }

  /**
   * Trains for `epochs` (or `options.steps`) more, checkpointing into `options.outDir`. Residual models
   * first train their mean predictor for `meanSteps`, then the UNet. Returns how it stopped: a signal
   * means a checkpoint was written and the caller should exit 130 (SIGINT) or 143 (SIGTERM).
   */
  async fit(epochs?: number, options: FitCallOptions = {}): Promise<FitResult> {
    const data = this.requireData("fit()");
    this.run ??= new TrainingRun(this);
    const result = await this.run.fit(data, options.outDir ?? `${data.path}/models/sr3`, epochs, options);
    return result;
  }

  /** Saves the model (and, after training, the optimizer, EMA and data order) into `dir`. */
  async save(dir: string): Promise<void> {
    await this.checkpoint(dir, this.definition.training?.lastLoss ?? null);
  }

  /**
   * A PNG grid LR | bicubic | (mean) | SR3 | HR over validation chips (arcgis `show_results()`); also
   * written to `options.path` when given.
   */
  async showResults(options: ResultsOptions & { preset?: InferencePreset } = {}): Promise<Uint8Array> {
    const data = this.requireData("showResults()");
    const rows = options.rows ?? 4;
    const settings = this.sampling(options.preset, options);
    const batches = await sampleValidation(this.parts, data.dataset, {
      ...settings,
      maxChips: rows,
      batchSize: data.batchSize,
      ema: this.run?.trainer?.ema ?? null,
    });
    if (batches.length === 0) {
      throw new DataError(`${data.path}: the validation split is empty (raise valSplitPct)`);
    }
    const png = resultsGrid(batches, rows, samplingLabel(settings));
    if (options.path) await Deno.writeFile(options.path, png);
    return png;
  }

  /**
   * Mean PSNR/SSIM/SAM/ERGAS/HF of SR3, of bicubic and (residual models) of the mean predictor on the
   * validation chips (arcgis `compute_metrics()`).
   */
  async computeMetrics(
    options: SamplingSettings & { maxChips?: number; preset?: InferencePreset } = {},
  ): Promise<EvaluationReport> {
    const data = this.requireData("computeMetrics()");
    const settings = this.sampling(options.preset, options);
    const batches = await sampleValidation(this.parts, data.dataset, {
      ...settings,
      maxChips: options.maxChips,
      batchSize: data.batchSize,
      ema: this.run?.trainer?.ema ?? null,
    });
    if (batches.length === 0) {
      throw new DataError(`${data.path}: the validation split is empty (raise valSplitPct)`);
    }
    return scoreBatches(batches, samplingLabel(settings));
  }

  /** The sampling settings of `preset` (default: the model's) with `overrides` on top. */
  sampling(preset: InferencePreset | undefined, overrides: SamplingSettings): SamplingSettings {
    const { samplingType, nTimestep, seed, eta, startNoiseLevel, samples, onProgress } = overrides;
    const flags = { samplingType, nTimestep, seed, eta, startNoiseLevel, samples };
    return {
      ...resolveSampling(this.definition.inference, this.formulation.kind, preset, flags),
      onProgress,
    };
  }

  /**
   * Records `settings` (measured, e.g. with {@link computeMetrics}) as the model's `preset` in
   * `dir`/model.json, so `predict()` and `sr3 upscale` use them by default. Seeds and callbacks are not
   * part of a preset.
   */
  async recordPreset(dir: string, preset: InferencePreset, settings: SamplingSettings): Promise<void> {
    const { onProgress: _progress, seed: _seed, ...kept } = settings;
    const current = this.definition.inference ?? defaultInference(this.formulation.kind);
    this.definition = {
      ...this.definition,
      inference: { ...current, presets: { ...current.presets, [preset]: kept } },
    };
    await writeModelDefinition(dir, this.definition);
  }

  /**
   * Super-resolves a whole raster tile by tile into a georeferenced GeoTIFF (ArcGIS Pro's
   * "Classify Pixels Using Deep Learning" for SR3), with the model's recommended settings unless the
   * options name others; optionally writes the uncertainty map (standard deviation over the samples).
   */
  async predict(imagePath: string, options: PredictOptions): Promise<PredictSummary> {
    const d = this.definition;
    const ema = this.run?.trainer?.ema ?? null;
    const settings = this.sampling(options.preset, options);
    const tileSize = options.tileSize ?? settings.tileSize ?? d.unet.imageSize / d.downsampleFactor;
    const levels = 2 ** (d.unet.channelMults.length - 1);
    if (!Number.isInteger(tileSize) || (tileSize * d.downsampleFactor) % levels !== 0) {
      throw new DataError(
        `tile size ${tileSize}: ×${d.downsampleFactor} it must be a multiple of ${levels} (the UNet's levels)`,
      );
    }
    if (options.uncertaintyPath && ((settings.samples ?? 1) < 2 || settings.samplingType === "mean")) {
      throw new DataError(
        `${options.uncertaintyPath}: an uncertainty map needs at least 2 diffusion samples per tile ` +
          `(${samplingLabel(settings)} was asked); pass --samples 4`,
      );
    }
    let calls = 0;
    const summary = await upscaleRaster({
      inputPath: imagePath,
      outputPath: options.outPath,
      uncertaintyPath: options.uncertaintyPath,
      factor: d.downsampleFactor,
      tileSize,
      padding: options.padding ?? settings.padding ??
        (d.ModelPadding || Math.max(1, Math.floor(tileSize / 8))),
      batchSize: options.batchSize ?? 1,
      normalization: d.normalization,
      bands: options.bands,
      colorCorrection: options.colorCorrection,
      overwrite: options.overwrite,
      onProgress: options.onTiles,
    }, async (batch) => {
      // A different seed per batch keeps neighbouring tiles' noise independent.
      const seeded = { ...settings, seed: (settings.seed ?? 0) + 7919 * calls++ };
      const { sr, std } = await resolveBatch(this.parts, batch.lr, batch.lrUp, batch.shape, seeded, ema);
      return { hr: sr, std };
    });
    return { ...summary, sampling: samplingLabel(settings) };
  }

  /**
   * The UNet's raw output (ε̂, or x̂0 / v̂ for models that predict those) for host input `input` (NCHW,
   * 2·bands channels: condition then noisy image) at noise levels γ = √ᾱ (one per sample). For scripting
   * and testing.
   */
  async predictNoise(
    input: Float32Array,
    shape: readonly number[],
    noiseLevels: Float32Array,
  ): Promise<Float32Array> {
    const x = Tensor.fromArray(input, shape);
    const levels = Tensor.fromArray(noiseLevels, [noiseLevels.length]);
    const wasTraining = this.model.training;
    this.model.setTraining(false);
    try {
      const out = noGrad(() => this.model.forward(x, levels));
      const values = await out.read();
      out.dispose();
      return values;
    } finally {
      this.model.setTraining(wasTraining);
      x.dispose();
      levels.dispose();
    }
  }

  /** Frees the networks' and trainer's GPU memory. */
  dispose(): void {
    this.run?.dispose();
    this.networks.dispose();
  }

  /** The data, or a DataError naming the call that needs it. */
  private requireData(what: string): SuperResolutionData {
    if (!this.data) {
      throw new DataError(`${what} needs data: pass prepareData(...) to SuperResolution.fromModel()`);
    }
    return this.data;
  }

  /** Writes the weights (and, during training, everything a resumed run needs) and model.json. */
  private async checkpoint(dir: string, lastLoss: number | null, keep = 2): Promise<void> {
    await (this.run ?? new TrainingRun(this)).checkpoint(dir, this.run ? this.data : null, lastLoss, keep);
  }
}

/** Loads a model directory for inference (`SuperResolution.fromModel(dir)`). */
export function loadModel(dir: string): Promise<SuperResolution> {
  return SuperResolution.fromModel(dir);
}

/**
 * Makes sure a runtime is active; a new one gets its GEMM family chosen by a one-time measurement
 * per adapter (remembered in `~/.cache/sr3/kernel-variants.json`).
 */
async function ensureRuntime(): Promise<void> {
  try {
    getRuntime();
  } catch {
    await tuneGemmFamily(await initRuntime());
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
