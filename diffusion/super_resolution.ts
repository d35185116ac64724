/**
 * The scripting API in the shape of arcgis.learn's SR3 (camel-cased): `prepareData()` →
 * `SuperResolution.create(data, knobs)` → `fit()` → `showResults()` / `computeMetrics()` / `predict()`
 * → `save()`, and `SuperResolution.fromModel(dir)` (or `loadModel(dir)`) to come back later.
 * @module
 */
import type {
  FitCallOptions,
  PredictOptions,
  PredictSummary,
  SuperResolutionData,
  SuperResolutionOptions,
} from "./api.ts";
import { DataError, UsageError } from "../base/errors.ts";
import { DirectoryLock } from "../data/lock.ts";
import { upscaleRaster } from "../data/upscale.ts";
import { getRuntime, initRuntime, Tensor } from "../nn/tensor.ts";
import { tuneGemmFamily } from "../kernels/tuning.ts";
import { noGrad } from "../nn/autodiff.ts";
import type { MeanNet } from "../nn/mean_net.ts";
import { type UNet, unetConfig } from "../nn/unet.ts";
import {
  type EvaluationReport,
  resultsGrid,
  type ResultsOptions,
  sampleValidation,
  samplingLabel,
  scoreBatches,
} from "./evaluate.ts";
import type { FitResult } from "./fit.ts";
import { type Formulation, SR3_FORMULATION } from "./formulation.ts";
import { defaultInference, definedFields, type InferencePreset, resolveSampling } from "./inference.ts";
import {
  type ModelDefinition,
  newModelDefinition,
  prepareNewRunDirectory,
  readCheckpoint,
  readInferenceWeights,
  readModelDefinition,
  writeModelDefinition,
} from "./model_dir.ts";
import { inputMismatch } from "./input_check.ts";
import { Networks } from "./networks.ts";
import { type ModelParts, resolveBatch, type SamplingSettings } from "./pipeline.ts";
import { buildSchedule, type ScheduleConfig, type ScheduleTables } from "./schedule.ts";
import { type SavedState, TrainingRun } from "./training_run.ts";

export {
  type FitCallOptions,
  type PredictOptions,
  type PredictSummary,
  prepareData,
  type PrepareDataOptions,
  type SuperResolutionData,
  type SuperResolutionOptions,
} from "./api.ts";

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
      ...definedFields(knobs),
      bands: dataset.bandCount,
      imageSize: dataset.chipSize,
    });
    const scheduleConfig: ScheduleConfig = {
      schedule: schedule ?? "linear",
      nTimestep: nTimestep ?? 2000,
      linearStart: linearStart ?? 1e-6,
      linearEnd: linearEnd ?? 1e-2,
    };
    const definition = newModelDefinition({
      unet,
      schedule: scheduleConfig,
      downsampleFactor: dataset.factor,
      normalization: dataset.normalization,
      batchSize: data.batchSize,
      formulation: { kind, target: predictionTarget, minSnrGamma, meanNet },
      pixelSize: dataset.pixelSize,
    });
    const networks = Networks.create(definition, seed ?? 0);
    if (initFrom) definition.initializedFrom = await networks.initUnetFrom(initFrom);
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
    const outDir = options.outDir ?? `${data.path}/models/sr3`;
    // One run per model directory at a time (released on every exit path; the OS frees it on a crash).
    const lock = await DirectoryLock.acquire(outDir, "sr3 train");
    try {
      if (!this.run) await prepareNewRunDirectory(outDir, options.overwrite);
      this.run ??= new TrainingRun(this);
      return await this.run.fit(data, outDir, epochs, options);
    } finally {
      lock.release();
    }
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
    const T = this.definition.schedule.nTimestep;
    // Samplers sub-sample the T training levels: more steps than T cannot be taken (never cap silently).
    if (nTimestep !== undefined && nTimestep > T) {
      throw new UsageError(`--n-timestep ${nTimestep}: this model has ${T} noise levels; use 1 to ${T}`);
    }
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
    checkBatchFitsDevice(d, tileSize, options.batchSize ?? 1, settings.samples ?? 1);
    const mismatch = options.onWarning ? await inputMismatch(imagePath, d, options.bands) : null;
    if (mismatch) options.onWarning!(mismatch);
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

/**
 * Refuses, before any work, a batch whose first full-resolution feature map alone (batch × samples ×
 * innerChannel × side², f32: a lower bound of what a sampler call holds) exceeds the adapter's largest
 * storage binding, instead of failing later inside a kernel.
 * @throws {UsageError} naming the batch size, the size needed, the limit and the largest batch that fits
 */
export function checkBatchFitsDevice(
  definition: ModelDefinition,
  tileSize: number,
  batchSize: number,
  samples: number,
): void {
  const limit = getRuntime().device.limits.maxStorageBufferBindingSize;
  const side = tileSize * definition.downsampleFactor;
  const perTile = samples * definition.unet.innerChannel * side * side * 4;
  if (batchSize * perTile <= limit) return;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (perTile > limit) {
    throw new UsageError(
      `one tile of ${tileSize} px with ${samples} samples needs more than ${mib(perTile)} in one buffer, ` +
        `above this adapter's ${mib(limit)} limit; use a smaller --tile-size or fewer --samples`,
    );
  }
  throw new UsageError(
    `--batch-size ${batchSize}: one sampler call needs more than ${
      mib(batchSize * perTile)
    } in one buffer, ` +
      `above this adapter's ${mib(limit)} limit; use --batch-size 1 to ${
        Math.max(1, Math.floor(limit / perTile))
      }`,
  );
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
