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
  readModelDefinition,
  writeModelDefinition,
} from "./model_dir.ts";
import { prepareNewRunDirectory, readCheckpoint, readInferenceWeights } from "./checkpoints.ts";
import { Networks } from "./networks.ts";
import type { ModelParts, SamplingSettings } from "./pipeline.ts";
import { predictRaster } from "./predict.ts";
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
  /** The weights file the model was loaded from (it identifies the model in shard manifests), if any. */
  private weightsFile: string | null = null;

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
      sr.weightsFile = `${dir}/${definition.ModelFile}`;
      networks.load(await readInferenceWeights(dir, definition), sr.weightsFile);
      return sr;
    }
    const where = `${dir}/${definition.checkpoint}`;
    sr.weightsFile = `${where}/weights.safetensors`;
    networks.load(checkpoint.weights, sr.weightsFile);
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
    const { samplingType, samplingSteps, seed, eta, startNoiseLevel, samples, onProgress } = overrides;
    const flags = { samplingType, samplingSteps, seed, eta, startNoiseLevel, samples };
    const T = this.definition.schedule.nTimestep;
    // Samplers sub-sample the T training levels: more steps than T cannot be taken (never cap silently).
    if (samplingSteps !== undefined && samplingSteps > T) {
      throw new UsageError(
        `--sampling-steps ${samplingSteps}: this model has ${T} noise levels; use 1 to ${T}`,
      );
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
    return await predictRaster(
      {
        parts: this.parts,
        definition: this.definition,
        settings: this.sampling(options.preset, options),
        ema: this.run?.trainer?.ema ?? null,
        weightsFile: this.weightsFile,
      },
      imagePath,
      options,
    );
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
