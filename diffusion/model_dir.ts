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
 * model.json naming a complete checkpoint (`checkpoints.ts`; this file holds model.json itself).
 * @module
 */
import { DataError, describeError } from "../base/errors.ts";
import { ensureParentDir, moveIntoPlace, removeQuietly, temporarySibling } from "../data/files.ts";
import type { Normalization } from "../data/normalize.ts";
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

/** Writes `bytes` to `path` through a temporary sibling renamed into place. */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
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
/** Throws the one-line DataError `path: problem`. */
export function fail(path: string, problem: string): never {
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
