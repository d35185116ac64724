/**
 * sr3: SR3 diffusion super-resolution (Saharia et al., "Image Super-Resolution via Iterative
 * Refinement") for satellite and aerial imagery, with every tensor op a WGSL compute shader on WebGPU.
 *
 * The arcgis.learn-shaped workflow:
 *
 * ```ts
 * import { exportTiles, prepareData, SuperResolution } from "./mod.ts";
 *
 * await exportTiles({ hrPath: "naip.tif", outDir: "chips", chipSize: 64 });
 * const data = await prepareData("chips", { downsampleFactor: 4, batchSize: 4 });
 * const sr = await SuperResolution.create(data, { preset: "tiny" });
 * await sr.fit(10, { outDir: "models/naip", lr: 1e-4 });
 * console.log(await sr.computeMetrics({ samplingType: "dpmpp", samplingSteps: 20 }));
 * await sr.predict("landsat.tif", { outPath: "landsat_sr.tif" });
 * ```
 *
 * Lower layers are exported too: the WebGPU {@link Runtime}, {@link Tensor}s with autodiff and ops,
 * the {@link UNet}, schedules and samplers (any {@link Denoiser}), and the geodata tools.
 * @module
 */

// High-level API (arcgis.learn shape)
export {
  type FitCallOptions,
  loadModel,
  type PredictOptions,
  type PredictSummary,
  prepareData,
  type PrepareDataOptions,
  SuperResolution,
  type SuperResolutionData,
  type SuperResolutionOptions,
} from "./diffusion/super_resolution.ts";
export type { FitOptions, FitResult, TrainingStage } from "./diffusion/fit.ts";
export type { EvaluatedBatch, EvaluationReport, MetricPair, ResultsOptions } from "./diffusion/evaluate.ts";
export { type LossReport, Trainer, type TrainerOptions, type TrainerState } from "./diffusion/trainer.ts";
export type { RunOptions } from "./diffusion/training_run.ts";
export {
  meanObjective,
  type Objective,
  type ObjectiveTerms,
  residualObjective,
  sr3Objective,
} from "./diffusion/objectives.ts";
export {
  epsilonFromPrediction,
  epsilonFromValue,
  type Formulation,
  type FormulationKind,
  FORMULATIONS,
  minSnrWeight,
  PREDICTION_TARGETS,
  type PredictionTarget,
  SR3_FORMULATION,
  targetValue,
} from "./diffusion/formulation.ts";
export {
  defaultInference,
  INFERENCE_PRESETS,
  type InferenceDefaults,
  type InferencePreset,
  type PresetSettings,
  resolveSampling,
} from "./diffusion/inference.ts";
export {
  type ModelParts,
  residualToImage,
  resolveBatch,
  type ResolvedBatch,
  sampleRepeated,
  sampleStatistics,
  type SamplingSettings,
} from "./diffusion/pipeline.ts";
export { MEAN_PREFIX, Networks } from "./diffusion/networks.ts";
export {
  MODEL_FORMAT,
  type ModelDefinition,
  readModelDefinition,
  type TrainingProgress,
} from "./diffusion/model_dir.ts";
export type { CheckpointContents } from "./diffusion/checkpoints.ts";
export { type ImportReport, importTorchCheckpoint, referenceConfig } from "./diffusion/import_torch.ts";

// Diffusion: schedules, samplers, denoisers
export {
  buildSchedule,
  makeBetaSchedule,
  sampleNoiseLevels,
  SCHEDULE_NAMES,
  type ScheduleConfig,
  type ScheduleName,
  type ScheduleTables,
  scheduleTables,
} from "./diffusion/schedule.ts";
export {
  DDIM_DEFAULT_STEPS,
  ddimPlan,
  ddpmPlan,
  type Denoiser,
  DPMPP_DEFAULT_STEPS,
  dpmppPlan,
  type NoiseSource,
  type PlanStep,
  sample,
  sampleDdim,
  sampleDdpm,
  sampleDpmpp,
  type SampleOptions,
  SAMPLER_NAMES,
  type SamplerEntry,
  type SamplerName,
  SAMPLERS,
  type SamplingPlan,
} from "./diffusion/samplers/mod.ts";
export type { UpdateCoefficients } from "./kernels/diffusion.ts";
export { closedFormDenoiser, unetDenoiser } from "./diffusion/denoisers.ts";
export { itemNoise, sampleSeed, tileSeed } from "./diffusion/tile_noise.ts";

// Model
export {
  type BlockStyle,
  configWarnings,
  type LayerSummary,
  levelSizes,
  PRESET_NAMES,
  type PresetName,
  PRESETS,
  UNet,
  type UNetConfig,
  unetConfig,
  validateConfig,
} from "./nn/unet.ts";
export { MEAN_NET_DEFAULTS, MeanNet, type MeanNetConfig, validateMeanNetConfig } from "./nn/mean_net.ts";
export { type HostParameter, Module } from "./nn/module.ts";
export type { ForwardOptions } from "./nn/layers.ts";

// Tensors, autodiff, ops, optimizers
export { getRuntime, initRuntime, setRuntime, Tensor, type TensorOptions, tidy } from "./nn/tensor.ts";
export { backward, isGradEnabled, noGrad, record, type TapeNode } from "./nn/autodiff.ts";
export * as ops from "./nn/ops/mod.ts";
export { Adam, type AdamOptions, type AdamState, clipGradNorm } from "./nn/optim.ts";
export { EMA } from "./nn/ema.ts";
export { decodeSafetensors, encodeSafetensors, type NamedArray, readSafetensors } from "./nn/safetensors.ts";

// WebGPU runtime
export {
  type AdapterSummary,
  type Binding,
  type Dispatch,
  type MemoryStats,
  Runtime,
  type RuntimeCounters,
  type RuntimeOptions,
  Uniforms,
} from "./kernels/runtime.ts";
export { DataError, DeviceError, ShapeError, Sr3Error, UsageError } from "./base/errors.ts";
export type { TensorRef } from "./kernels/shape_math.ts";
export type { KernelTime } from "./kernels/profiler.ts";
export { SR3_VERSION } from "./kernels/version.ts";

// Geodata and metrics; reports (plots, previews, PNG, TensorBoard, progress)
export * from "./data/mod.ts";
export * from "./report/mod.ts";
