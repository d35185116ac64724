/**
 * The sr3 model directory: `model.json` (every knob, the schedule, bands, normalisation, chip size,
 * downsample factor, training progress, and Esri-model-definition fields) plus versioned checkpoints:
 *
 * ```
 * model.json
 * checkpoints/step-00001200/weights.safetensors    the trained weights (f32)
 * checkpoints/step-00001200/ema.safetensors        EMA weights, when training keeps an EMA
 * checkpoints/step-00001200/optimizer.safetensors  Adam moments (m.<param>, v.<param>)
 * checkpoints/step-00001200/state.json             trainer state for --resume
 * ```
 *
 * A checkpoint is written into a temporary folder and renamed into place, then model.json is replaced
 * atomically to point at it, and only then are older checkpoints pruned: a crash at any moment leaves
 * model.json naming a complete checkpoint.
 * @module
 */
import { DataError, describeError, describeFileSystemError, fileSystemError } from "../base/errors.ts";
import {
  ensureParentDir,
  moveIntoPlace,
  pathExists,
  removeQuietly,
  temporarySibling,
} from "../data/files.ts";
import type { Normalization } from "../data/normalize.ts";
import type { Tensor } from "../nn/tensor.ts";
import { decodeSafetensors, encodeSafetensors, type NamedArray } from "../nn/safetensors.ts";
import type { Module } from "../nn/module.ts";
import { MEAN_NET_DEFAULTS, type MeanNetConfig, validateMeanNetConfig } from "../nn/mean_net.ts";
import { type UNetConfig, validateConfig } from "../nn/unet.ts";
import type { TrainingStage } from "./fit.ts";
import {
  type Formulation,
  type FormulationKind,
  formulationProblem,
  type PredictionTarget,
} from "./formulation.ts";
import { defaultInference, type InferenceDefaults, inferenceProblem } from "./inference.ts";
import type { ScheduleConfig } from "./schedule.ts";
import { SCHEDULE_NAMES } from "./schedule.ts";

/** The format tag of model.json files this version writes and reads. */
export const MODEL_FORMAT = "sr3-model/1";

import { SR3_VERSION } from "../kernels/version.ts";
export { SR3_VERSION };

/** Training progress recorded in model.json. */
export interface TrainingProgress {
  /** Optimizer steps taken. */
  step: number;
  /** Completed epochs. */
  epoch: number;
  /** Batch size used. */
  batchSize: number;
  /** Learning rate. */
  lr: number;
  /** Loss on ε: "l1" (SR3) or "l2". */
  loss: "l1" | "l2";
  /** EMA decay, or null without EMA. */
  emaDecay: number | null;
  /** Smoothed training loss at the last checkpoint. */
  lastLoss: number | null;
  /** Training seed. */
  seed: number;
  /** Dataset the model was trained on. */
  dataset: string;
  /** Network being trained at the last checkpoint (residual models train the mean predictor first). */
  stage?: TrainingStage;
  /** Mean-predictor steps taken (residual models). */
  meanStep?: number;
}

/** model.json. Fields in PascalCase are those of Esri's model definition (.emd). */
export interface ModelDefinition {
  /** Esri: the framework. */
  Framework: "sr3";
  /** Esri: model kind. */
  ModelType: "SuperResolution";
  /** Esri: model name. */
  ModelName: "SR3";
  /** Esri: the weights inference uses (EMA when available), relative to the model directory. */
  ModelFile: string;
  /** Esri: high-resolution chip height. */
  ImageHeight: number;
  /** Esri: high-resolution chip width. */
  ImageWidth: number;
  /** Esri: 1-based band indices of the source imagery the model uses. */
  ExtractBands: number[];
  /** Esri: native value range [low, high] of the first band's normalisation. */
  DataRange: [number, number];
  /** Esri: batch size for inference. */
  BatchSize: number;
  /** Esri: overlap in low-resolution pixels for tiled inference. */
  ModelPadding: number;
  /** Esri: version of the producing software. */
  Version: string;
  /** sr3 format tag. */
  format: typeof MODEL_FORMAT;
  /** The UNet's knobs. */
  unet: UNetConfig;
  /** The training noise schedule. */
  schedule: ScheduleConfig;
  /** HR/LR resolution ratio. */
  downsampleFactor: number;
  /** Native ↔ [−1, 1] mapping of the training data. */
  normalization: Normalization;
  /** Nodata value of the training imagery, if any. */
  nodata: number | null;
  /** Ground size of a training high-resolution pixel (CRS units), when the chips recorded it. */
  pixelSize?: number;
  /** Training progress, null for imported models. */
  training: TrainingProgress | null;
  /** Latest checkpoint folder, relative to the model directory, or null. */
  checkpoint: string | null;
  /** What the UNet diffuses and predicts; absent means plain SR3 (ε, no weighting). */
  formulation?: Formulation;
  /** The mean predictor's knobs (residual models; its weights are the `mean.*` tensors). */
  meanNet?: MeanNetConfig;
  /** Recommended inference settings: what `sr3 upscale` and `predict()` use without sampler flags. */
  inference?: InferenceDefaults;
  /** Where the UNet's initial weights came from, when training started from another model. */
  initializedFrom?: { model: string; checkpoint: string };
}

/** What a new model's definition is made from. */
export interface NewModelDefinition {
  /** The UNet's knobs. */
  unet: UNetConfig;
  /** The training schedule. */
  schedule: ScheduleConfig;
  /** HR/LR ratio. */
  downsampleFactor: number;
  /** Native ↔ [−1, 1] mapping. */
  normalization: Normalization;
  /** Inference batch size (Esri BatchSize). */
  batchSize: number;
  /** Tile overlap in low-resolution pixels (Esri ModelPadding); default one eighth of a tile. */
  padding?: number;
  /** The formulation asked for (default: plain SR3, ε, no weighting). */
  formulation?: FormulationChoice;
  /** Ground size of a training high-resolution pixel, when known. */
  pixelSize?: number | null;
}

/** What a new model's formulation is made from; unset fields take the formulation's defaults. */
export interface FormulationChoice {
  /** "sr3" (default) or "residual". */
  kind?: FormulationKind;
  /** Prediction target (default "eps" for sr3, "v" for residual). */
  target?: PredictionTarget;
  /** Min-SNR-γ (default none for sr3, 5 for residual). */
  minSnrGamma?: number | null;
  /** Mean-predictor knobs of residual models (default {@link MEAN_NET_DEFAULTS}). */
  meanNet?: Partial<Pick<MeanNetConfig, "features" | "blocks">>;
}

/** The formulation, mean-predictor knobs and inference presets of a new model. */
function formulationFields(
  choice: FormulationChoice,
  bands: number,
  factor: number,
): Pick<ModelDefinition, "formulation" | "meanNet" | "inference"> {
  const kind = choice.kind ?? "sr3";
  const residual = kind === "residual";
  const fields: Pick<ModelDefinition, "formulation" | "meanNet" | "inference"> = {
    inference: defaultInference(kind),
  };
  // Plain SR3 with the paper's ε and no weighting writes no formulation: model.json stays as it was.
  if (residual || choice.target || choice.minSnrGamma) {
    fields.formulation = {
      kind,
      target: choice.target ?? (residual ? "v" : "eps"),
      minSnrGamma: choice.minSnrGamma === undefined ? (residual ? 5 : null) : choice.minSnrGamma,
      scale: 1,
    };
  }
  if (residual) {
    const { features, blocks } = choice.meanNet ?? {};
    fields.meanNet = {
      features: features ?? MEAN_NET_DEFAULTS.features,
      blocks: blocks ?? MEAN_NET_DEFAULTS.blocks,
      bands,
      factor,
    };
  }
  return fields;
}

/** model.json for a model that has not been trained or saved yet (no checkpoint, no progress). */
export function newModelDefinition(source: NewModelDefinition): ModelDefinition {
  const { unet, normalization } = source;
  const lrTile = unet.imageSize / source.downsampleFactor;
  return {
    Framework: "sr3",
    ModelType: "SuperResolution",
    ModelName: "SR3",
    ModelFile: "",
    ImageHeight: unet.imageSize,
    ImageWidth: unet.imageSize,
    ExtractBands: Array.from({ length: unet.bands }, (_, i) => i + 1),
    DataRange: [normalization.low[0]!, normalization.high[0]!],
    BatchSize: source.batchSize,
    ModelPadding: source.padding ?? Math.max(1, Math.floor(lrTile / 8)),
    Version: SR3_VERSION,
    format: MODEL_FORMAT,
    unet,
    schedule: source.schedule,
    downsampleFactor: source.downsampleFactor,
    normalization,
    nodata: null,
    ...(source.pixelSize ? { pixelSize: source.pixelSize } : {}),
    training: null,
    checkpoint: null,
    ...formulationFields(source.formulation ?? {}, unet.bands, source.downsampleFactor),
  };
}

/** What a checkpoint holds. */
export interface CheckpointContents {
  /** Model weights by parameter name. */
  weights: Map<string, NamedArray>;
  /** EMA weights by parameter name, if kept. */
  ema: Map<string, NamedArray> | null;
  /** Optimizer tensors (`m.<param>`, `v.<param>`), if saved. */
  optimizer: Map<string, NamedArray> | null;
  /** Trainer state (JSON), if saved. */
  state: Record<string, unknown> | null;
}

/** The folder name of the checkpoint at `step` (mean-predictor checkpoints of residual models: `mean-step-…`). */
export function checkpointName(step: number, stage: TrainingStage = "diffusion"): string {
  return `checkpoints/${stage === "mean" ? "mean-" : ""}step-${String(step).padStart(8, "0")}`;
}

/** Checkpoint folders in training order: a residual model's mean stage comes before its diffusion stage. */
function checkpointOrder(name: string): number {
  const match = /^(mean-)?step-(\d{8})$/.exec(name);
  return match ? (match[1] ? 0 : 1e9) + Number(match[2]) : -1;
}

/** Host copies of a module's parameters (or of a name → tensor map), by name (one readback for all). */
export async function readParameters(
  model: Module | ReadonlyMap<string, Tensor>,
): Promise<Map<string, NamedArray>> {
  const named = [...("namedParameters" in model ? model.namedParameters() : model)];
  const values = await Promise.all(named.map(([, t]) => t.read()));
  return new Map(named.map(([name, t], i) => [name, { data: values[i]!, shape: [...t.shape] }]));
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await ensureParentDir(path);
  const temporary = temporarySibling(path);
  try {
    await Deno.writeFile(temporary, bytes);
    await moveIntoPlace(temporary, path);
  } catch (error) {
    await removeQuietly(temporary);
    throw error;
  }
}

/** Writes model.json atomically. */
export async function writeModelDefinition(dir: string, definition: ModelDefinition): Promise<void> {
  await writeAtomic(
    `${dir}/model.json`,
    new TextEncoder().encode(JSON.stringify(definition, null, 2) + "\n"),
  );
}

/**
 * Writes a checkpoint folder atomically, points model.json at it, then prunes all but the newest
 * `keep` checkpoints. Returns the checkpoint's relative path.
 */
export async function saveCheckpoint(
  dir: string,
  definition: ModelDefinition,
  step: number,
  contents: CheckpointContents,
  keep = 2,
  stage: TrainingStage = "diffusion",
): Promise<string> {
  const name = checkpointName(step, stage);
  const target = `${dir}/${name}`;
  const broken = nonFiniteTensor(contents);
  if (broken) {
    throw new DataError(`${target}: not written: ${broken} holds non-finite values (training diverged)`);
  }
  const modelFile = `${name}/${contents.ema ? "ema" : "weights"}.safetensors`;
  const pointing = { ...definition, ModelFile: modelFile, checkpoint: name };
  await ensureParentDir(target);
  const temporary = temporarySibling(target);
  try {
    await Deno.mkdir(temporary, { recursive: true });
    // model.json as it will name this checkpoint, so a later roll-back can point at it again.
    await Deno.writeTextFile(`${temporary}/model.json`, JSON.stringify(pointing, null, 2) + "\n");
    await Deno.writeFile(`${temporary}/weights.safetensors`, encodeSafetensors(contents.weights));
    if (contents.ema) await Deno.writeFile(`${temporary}/ema.safetensors`, encodeSafetensors(contents.ema));
    if (contents.optimizer) {
      await Deno.writeFile(`${temporary}/optimizer.safetensors`, encodeSafetensors(contents.optimizer));
    }
    if (contents.state) {
      await Deno.writeTextFile(`${temporary}/state.json`, JSON.stringify(contents.state, null, 2) + "\n");
    }
    await moveIntoPlace(temporary, target);
    await writeModelDefinition(dir, pointing);
  } catch (error) {
    await removeQuietly(temporary);
    // model.json is replaced atomically and only after the new folder is complete: it still names the
    // previous checkpoint, which nothing here touched.
    const previous = definition.checkpoint
      ? `model.json still names the previous checkpoint (${definition.checkpoint}), which is intact`
      : "no earlier checkpoint exists";
    throw new DataError(
      `${target}: cannot write the checkpoint (${describeFileSystemError(error)}); ${previous}`,
      { cause: error },
    );
  }
  // Prune only this run's lineage: checkpoints before the new one. A folder with a later step is not
  // ours (an older run's), and the new one is what model.json now names.
  const newest = checkpointOrder(name.slice("checkpoints/".length));
  const lineage = (await listCheckpoints(dir)).filter((c) => checkpointOrder(c) <= newest);
  for (const old of lineage.slice(0, Math.max(0, lineage.length - keep))) {
    await removeQuietly(`${dir}/checkpoints/${old}`);
  }
  return name;
}

/** The first weight or EMA tensor with a NaN or ±Inf, as "weights.<name>", or null when all are finite. */
function nonFiniteTensor(contents: CheckpointContents): string | null {
  for (const [kind, tensors] of [["weights", contents.weights], ["ema", contents.ema]] as const) {
    for (const [name, { data }] of tensors ?? []) {
      if (!data.every(Number.isFinite)) return `${kind}.${name}`;
    }
  }
  return null;
}

/**
 * Drops the checkpoints of `stage` from `step` on (their weights gave non-finite losses) and points
 * model.json back at the newest older checkpoint of the lineage, or at none when there is none.
 * Returns the checkpoint model.json now names.
 */
export async function rollBackCheckpoints(
  dir: string,
  step: number,
  stage: TrainingStage = "diffusion",
): Promise<string | null> {
  if (!(await pathExists(`${dir}/model.json`))) return null;
  const from = checkpointOrder(checkpointName(step, stage).slice("checkpoints/".length));
  const all = await listCheckpoints(dir);
  const current = await readModelDefinition(dir);
  const named = current.checkpoint ? checkpointOrder(current.checkpoint.slice("checkpoints/".length)) : -1;
  const lineage = all.filter((c) => checkpointOrder(c) <= named);
  const good = lineage.filter((c) => checkpointOrder(c) < from);
  let fallback: string | null = null;
  for (const candidate of good.reverse()) {
    const snapshot = `${dir}/checkpoints/${candidate}/model.json`;
    if (await pathExists(snapshot)) {
      await writeAtomic(`${dir}/model.json`, await Deno.readFile(snapshot));
      fallback = `checkpoints/${candidate}`;
      break;
    }
  }
  if (!fallback) await writeModelDefinition(dir, { ...current, ModelFile: "", checkpoint: null });
  for (const bad of lineage.filter((c) => checkpointOrder(c) >= from)) {
    await removeQuietly(`${dir}/checkpoints/${bad}`);
  }
  return fallback;
}

/** The checkpoint folders in `dir`/checkpoints (sr3's names only), in training order. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${dir}/checkpoints`)) {
      if (entry.isDirectory && checkpointOrder(entry.name) >= 0) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw fileSystemError(`${dir}/checkpoints`, "list the checkpoints", error);
  }
  return names.sort((a, b) => checkpointOrder(a) - checkpointOrder(b));
}

/**
 * Makes `dir` ready for a new training run: a directory holding another run's model.json or checkpoints
 * is refused unless `overwrite`, which removes exactly those (sr3's own files), nothing else.
 * @throws {DataError} naming the directory and what it holds
 */
export async function prepareNewRunDirectory(dir: string, overwrite = false): Promise<void> {
  const checkpoints = await listCheckpoints(dir);
  const hasModel = await pathExists(`${dir}/model.json`);
  if (checkpoints.length === 0 && !hasModel) return;
  if (!overwrite) {
    const what = checkpoints.length > 0
      ? `${checkpoints.length} checkpoint(s) of another run (${checkpoints.at(-1)})`
      : "another model's model.json";
    throw new DataError(
      `${dir}: holds ${what}; pass --resume to continue it, --overwrite to replace it, or choose another --out`,
    );
  }
  await removeQuietly(`${dir}/model.json`);
  for (const name of checkpoints) await removeQuietly(`${dir}/checkpoints/${name}`);
}

function fail(path: string, problem: string): never {
  throw new DataError(`${path}: ${problem}`);
}

/** Reads and validates model.json. @throws {DataError} naming the file and the problem */
export async function readModelDefinition(dir: string): Promise<ModelDefinition> {
  const path = `${dir}/model.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    return fail(
      path,
      `cannot read the model definition (${describeError(error)}); is ${dir} an sr3 model directory?`,
    );
  }
  let json: ModelDefinition;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(path, `is not valid JSON (${describeError(error)})`);
  }
  if (json.format !== MODEL_FORMAT) {
    fail(path, `format is ${JSON.stringify(json.format)}, expected "${MODEL_FORMAT}"`);
  }
  try {
    validateConfig(json.unet);
  } catch (error) {
    fail(path, describeError(error));
  }
  if (!SCHEDULE_NAMES.includes(json.schedule?.schedule)) {
    fail(path, `unknown schedule ${JSON.stringify(json.schedule)}`);
  }
  if (!(json.downsampleFactor >= 1)) fail(path, `downsampleFactor must be ≥ 1, got ${json.downsampleFactor}`);
  const formulation = json.formulation ? formulationProblem(json.formulation) : null;
  if (formulation) fail(path, formulation);
  if (json.formulation?.kind === "residual" && !json.meanNet) {
    fail(path, "a residual model needs its mean predictor (meanNet)");
  }
  if (json.meanNet) {
    try {
      validateMeanNetConfig(json.meanNet);
    } catch (error) {
      fail(path, describeError(error));
    }
  }
  const inference = json.inference ? inferenceProblem(json.inference) : null;
  if (inference) fail(path, inference);
  if (json.normalization?.low?.length !== json.unet.bands) {
    fail(
      path,
      `normalization covers ${json.normalization?.low?.length} bands, the model has ${json.unet.bands}`,
    );
  }
  return json;
}

async function readTensors(path: string): Promise<Map<string, NamedArray>> {
  try {
    return decodeSafetensors(await Deno.readFile(path), path).tensors;
  } catch (error) {
    if (error instanceof DataError) throw error;
    return fail(path, `cannot read (${describeError(error)})`);
  }
}

/** Reads the weights inference should use (model.json's ModelFile). */
export async function readInferenceWeights(
  dir: string,
  definition: ModelDefinition,
): Promise<Map<string, NamedArray>> {
  if (!definition.ModelFile) {
    fail(`${dir}/model.json`, "names no weights (no good checkpoint was written); train the model first");
  }
  return await readTensors(`${dir}/${definition.ModelFile}`);
}

/** Reads everything in model.json's current checkpoint (for resuming). */
export async function readCheckpoint(dir: string, definition: ModelDefinition): Promise<CheckpointContents> {
  if (!definition.checkpoint) fail(`${dir}/model.json`, "names no checkpoint to resume from");
  const base = `${dir}/${definition.checkpoint}`;
  const optional = async <T>(path: string, read: (p: string) => Promise<T>): Promise<T | null> =>
    (await pathExists(path)) ? await read(path) : null;
  return {
    weights: await readTensors(`${base}/weights.safetensors`),
    ema: await optional(`${base}/ema.safetensors`, readTensors),
    optimizer: await optional(`${base}/optimizer.safetensors`, readTensors),
    state: await optional(`${base}/state.json`, async (p) => {
      try {
        return JSON.parse(await Deno.readTextFile(p)) as Record<string, unknown>;
      } catch (error) {
        return fail(p, `is not valid JSON (${describeError(error)})`);
      }
    }),
  };
}
