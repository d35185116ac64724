/**
 * The scripting API in the shape of arcgis.learn's SR3 (camel-cased): `prepareData()` →
 * `SuperResolution.create(data, knobs)` → `fit()` → `showResults()` / `computeMetrics()` / `predict()`
 * → `save()`, and `SuperResolution.fromModel(dir)` (or `loadModel(dir)`) to come back later.
 * @module
 */
import { type ChipDatasetOptions, type DatasetState, loadChipDataset } from "../data/dataset.ts";
import type { ChipDataset } from "../data/dataset.ts";
import { DataError } from "../data/errors.ts";
import { upscaleRaster, type UpscaleSummary } from "../data/upscale.ts";
import { getRuntime, initRuntime, Tensor } from "../nn/tensor.ts";
import { tuneGemmFamily } from "../kernels/tuning.ts";
import { noGrad } from "../nn/autodiff.ts";
import { type PresetName, UNet, type UNetConfig, unetConfig } from "../nn/unet.ts";
import type { NamedArray } from "../nn/safetensors.ts";
import {
  type EvaluationReport,
  resultsGrid,
  type ResultsOptions,
  sampleValidation,
  samplingLabel,
  type SamplingSettings,
  scoreBatches,
  superResolve,
} from "./evaluate.ts";
import { fitLoop, type FitOptions, type FitResult } from "./fit.ts";
import {
  type ModelDefinition,
  newModelDefinition,
  readCheckpoint,
  readInferenceWeights,
  readModelDefinition,
  readParameters,
  saveCheckpoint,
} from "./model_dir.ts";
import { buildSchedule, type ScheduleConfig, type ScheduleName, type ScheduleTables } from "./schedule.ts";
import { Trainer, type TrainerOptions, type TrainerState } from "./trainer.ts";

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
}

/** Options of {@link SuperResolution.fit}: the loop's and the optimizer's. */
export interface FitCallOptions extends Omit<FitOptions, "outDir" | "epochs">, TrainerOptions {
  /** Model directory (default `<data path>/models/sr3`). */
  outDir?: string;
}

/** Options of {@link SuperResolution.predict}. */
export interface PredictOptions extends SamplingSettings {
  /** Output GeoTIFF path. */
  outPath: string;
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

/** Trainer state plus what the loop needs to resume exactly. */
interface SavedState {
  trainer: TrainerState;
  dataset: DatasetState;
  options: Required<TrainerOptions>;
}

/** An SR3 super-resolution model with its data, training state and sampling. */
export class SuperResolution {
  /** The trainer, once `fit()` has run or a checkpoint was resumed. */
  private trainerInstance: Trainer | null = null;

  private constructor(
    /** The UNet. */
    readonly model: UNet,
    /** model.json contents (updated by training and saving). */
    public definition: ModelDefinition,
    /** Training schedule tables. */
    readonly schedule: ScheduleTables,
    /** The dataset, when training or evaluating. */
    public data: SuperResolutionData | null,
  ) {}

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
    const { preset, schedule, nTimestep, linearStart, linearEnd, seed, modelType: _type, ...knobs } = options;
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
    const model = UNet.create(unet, seed ?? 0);
    const definition = newModelDefinition({
      unet,
      schedule: scheduleConfig,
      downsampleFactor: dataset.factor,
      normalization: dataset.normalization,
      batchSize: data.batchSize,
    });
    return new SuperResolution(model, definition, buildSchedule(scheduleConfig), data);
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
    const model = UNet.createUninitialized(definition.unet);
    const sr = new SuperResolution(model, definition, buildSchedule(definition.schedule), data ?? null);
    const checkpoint = data && options.resume !== false ? await readCheckpoint(dir, definition) : null;
    const state = checkpoint?.state as SavedState | null | undefined;
    if (!data || !checkpoint || !state || !checkpoint.optimizer) {
      if (data && options.resume) {
        throw new DataError(
          `${dir}/${definition.checkpoint}: has no optimizer state to resume training from`,
        );
      }
      model.loadParameters(await readInferenceWeights(dir, definition), `${dir}/${definition.ModelFile}`);
      return sr;
    }
    const where = `${dir}/${definition.checkpoint}`;
    model.loadParameters(checkpoint.weights, `${where}/weights.safetensors`);
    const trainer = new Trainer(model, sr.schedule, state.options);
    const names = [...model.namedParameters().keys()];
    const tensorsOf = (tensors: Map<string, NamedArray>, file: string, prefix: string): Float32Array[] =>
      names.map((name) => {
        const tensor = tensors.get(`${prefix}${name}`);
        if (!tensor) throw new DataError(`${where}/${file}: no tensor ${prefix}${name}`);
        return tensor.data;
      });
    const optimizer = checkpoint.optimizer;
    trainer.optimizer.importState({
      step: state.trainer.step,
      m: tensorsOf(optimizer, "optimizer.safetensors", "m."),
      v: tensorsOf(optimizer, "optimizer.safetensors", "v."),
    });
    if (trainer.ema) {
      if (!checkpoint.ema) {
        throw new DataError(`${where}: the run keeps an EMA but ema.safetensors is missing`);
      }
      trainer.ema.importState(tensorsOf(checkpoint.ema, "ema.safetensors", ""));
    }
    trainer.restoreState(state.trainer);
    data.dataset.restore(state.dataset);
    sr.trainerInstance = trainer;
    return sr;
  }

  /** The trainer of this run (created on first use with `options`). */
  private trainer(options: TrainerOptions): Trainer {
    this.trainerInstance ??= new Trainer(this.model, this.schedule, options);
    return this.trainerInstance;
  }

  /**
   * Trains for `epochs` (or `options.steps`) more, checkpointing into `options.outDir`. Returns how
   * it stopped: a signal means a checkpoint was written and the caller should exit 130 (SIGINT) or
   * 143 (SIGTERM).
   */
  async fit(epochs?: number, options: FitCallOptions = {}): Promise<FitResult> {
    const data = this.requireData("fit()");
    const trainer = this.trainer(options);
    const outDir = options.outDir ?? `${data.path}/models/sr3`;
    return await fitLoop({
      model: this.model,
      schedule: this.schedule,
      dataset: data.dataset,
      batchSize: data.batchSize,
      trainer,
      checkpoint: (dir, lastLoss, keep) => this.checkpoint(dir, lastLoss, keep),
    }, { ...options, outDir, epochs });
  }

  /** Saves the model (and, after training, the optimizer, EMA and data order) into `dir`. */
  async save(dir: string): Promise<void> {
    await this.checkpoint(dir, this.definition.training?.lastLoss ?? null);
  }

  /**
   * A PNG grid LR | bicubic | SR3 | HR over validation chips (arcgis `show_results()`); also written to
   * `options.path` when given.
   */
  async showResults(options: ResultsOptions = {}): Promise<Uint8Array> {
    const data = this.requireData("showResults()");
    const rows = options.rows ?? 4;
    const batches = await sampleValidation(this.model, this.schedule, data.dataset, {
      ...options,
      maxChips: rows,
      batchSize: data.batchSize,
      ema: this.trainerInstance?.ema ?? null,
    });
    if (batches.length === 0) {
      throw new DataError(`${data.path}: the validation split is empty (raise valSplitPct)`);
    }
    const png = resultsGrid(batches, rows, samplingLabel(options));
    if (options.path) await Deno.writeFile(options.path, png);
    return png;
  }

  /** Mean PSNR/SSIM of SR3 and of bicubic on the validation chips (arcgis `compute_metrics()`). */
  async computeMetrics(options: SamplingSettings & { maxChips?: number } = {}): Promise<EvaluationReport> {
    const data = this.requireData("computeMetrics()");
    const batches = await sampleValidation(this.model, this.schedule, data.dataset, {
      ...options,
      batchSize: data.batchSize,
      ema: this.trainerInstance?.ema ?? null,
    });
    if (batches.length === 0) {
      throw new DataError(`${data.path}: the validation split is empty (raise valSplitPct)`);
    }
    return scoreBatches(batches, samplingLabel(options));
  }

  /**
   * Super-resolves a whole raster tile by tile into a georeferenced GeoTIFF (ArcGIS Pro's
   * "Classify Pixels Using Deep Learning" for SR3): defaults DDIM with 200 steps.
   */
  async predict(imagePath: string, options: PredictOptions): Promise<UpscaleSummary> {
    const d = this.definition;
    const tileSize = d.unet.imageSize / d.downsampleFactor;
    const ema = this.trainerInstance?.ema ?? null;
    let calls = 0;
    return await upscaleRaster({
      inputPath: imagePath,
      outputPath: options.outPath,
      factor: d.downsampleFactor,
      tileSize,
      padding: options.padding ?? (d.ModelPadding || Math.max(1, Math.floor(tileSize / 8))),
      batchSize: options.batchSize ?? 1,
      normalization: d.normalization,
      bands: options.bands,
      colorCorrection: options.colorCorrection,
      overwrite: options.overwrite,
      onProgress: options.onTiles,
    }, (batch) => {
      const { batch: n, channels, height, width } = batch.shape;
      // A different seed per batch keeps neighbouring tiles' noise independent.
      const settings = { ...options, seed: (options.seed ?? 0) + 7919 * calls++ };
      return superResolve(this.model, this.schedule, batch.lrUp, [n, channels, height, width], settings, ema);
    });
  }

  /**
   * The UNet's noise prediction ε̂ for host input `input` (NCHW, 2·bands channels: condition then
   * noisy image) at noise levels γ = √ᾱ (one per sample). For scripting and testing.
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

  /** Frees the model's and trainer's GPU memory. */
  dispose(): void {
    this.trainerInstance?.dispose();
    this.model.dispose();
  }

  /** The data, or a DataError naming the call that needs it. */
  private requireData(what: string): SuperResolutionData {
    if (!this.data) {
      throw new DataError(`${what} needs data: pass prepareData(...) to SuperResolution.fromModel()`);
    }
    return this.data;
  }

  /** Writes weights, EMA, optimizer, trainer and data state, and model.json, keeping `keep` checkpoints. */
  private async checkpoint(dir: string, lastLoss: number | null, keep = 2): Promise<void> {
    const trainer = this.trainerInstance;
    const weights = await readParameters(this.model);
    let ema: Map<string, NamedArray> | null = null;
    let optimizer: Map<string, NamedArray> | null = null;
    let state: SavedState | null = null;
    if (trainer && this.data) {
      const names = [...weights.keys()];
      const shapes = [...weights.values()].map((w) => w.shape);
      if (trainer.ema) {
        const values = await trainer.ema.exportState();
        ema = new Map(names.map((name, i) => [name, { data: values[i]!, shape: shapes[i]! }]));
      }
      const adam = await trainer.optimizer.exportState();
      optimizer = new Map([
        ...names.map((name, i) => [`m.${name}`, { data: adam.m[i]!, shape: shapes[i]! }] as const),
        ...names.map((name, i) => [`v.${name}`, { data: adam.v[i]!, shape: shapes[i]! }] as const),
      ]);
      state = {
        trainer: await trainer.exportState(),
        dataset: this.data.dataset.state,
        options: trainer.options,
      };
      this.definition = {
        ...this.definition,
        training: {
          step: trainer.step,
          epoch: this.data.dataset.state.epoch,
          batchSize: this.data.batchSize,
          lr: trainer.options.lr,
          loss: trainer.options.loss,
          emaDecay: trainer.options.emaDecay,
          lastLoss,
          seed: trainer.options.seed,
          dataset: this.data.path,
        },
      };
    }
    const step = trainer?.step ?? this.definition.training?.step ?? 0;
    await saveCheckpoint(dir, this.definition, step, {
      weights,
      ema,
      optimizer,
      state: state as unknown as Record<string, unknown> | null,
    }, keep);
    this.definition = await readModelDefinition(dir);
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
