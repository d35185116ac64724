/**
 * The networks of one model and how they meet checkpoints: the UNet (tensors named as the PyTorch
 * reference names them) and, for residual models, the mean predictor (tensors `mean.*`), in one
 * weights file. Training runs one stage at a time; the optimizer and EMA cover only that stage's
 * network, and a checkpoint's EMA file holds the averaged tensors of the trained network beside the
 * current tensors of the other, so that it is always a complete set of inference weights.
 * @module
 */
import { DataError } from "../base/errors.ts";
import { MeanNet } from "../nn/mean_net.ts";
import type { HostParameter, Module } from "../nn/module.ts";
import type { NamedArray } from "../nn/safetensors.ts";
import type { Tensor } from "../nn/tensor.ts";
import { UNet } from "../nn/unet.ts";
import type { TrainingStage } from "./fit.ts";
import type { ModelDefinition } from "./model_dir.ts";
import { readModelDefinition } from "./model_dir.ts";
import { readInferenceWeights, readParameters } from "./checkpoints.ts";
import type { Trainer } from "./trainer.ts";

/** Name prefix of the mean predictor's tensors. */
export const MEAN_PREFIX = "mean.";

/** The UNet and the optional mean predictor of a model. */
export class Networks {
  private constructor(readonly unet: UNet, readonly meanNet: MeanNet | null) {}

  /** Freshly initialised networks for `definition` (the mean predictor from seed + 1). */
  static create(definition: ModelDefinition, seed: number): Networks {
    const meanNet = definition.meanNet ? MeanNet.create(definition.meanNet, seed + 1) : null;
    return new Networks(UNet.create(definition.unet, seed), meanNet);
  }

  /** Allocated, uninitialised networks, about to be loaded. */
  static uninitialized(definition: ModelDefinition): Networks {
    const meanNet = definition.meanNet ? MeanNet.createUninitialized(definition.meanNet) : null;
    return new Networks(UNet.createUninitialized(definition.unet), meanNet);
  }

  /** The network a stage trains, and its tensors' name prefix. */
  stageModule(stage: TrainingStage): { module: Module; prefix: string } {
    if (stage === "diffusion") return { module: this.unet, prefix: "" };
    if (!this.meanNet) throw new RangeError("this model has no mean predictor to train");
    return { module: this.meanNet, prefix: MEAN_PREFIX };
  }

  /** Every tensor by its checkpoint name. */
  namedParameters(): Map<string, Tensor> {
    const out = new Map(this.unet.namedParameters());
    if (this.meanNet) { for (const [k, t] of this.meanNet.namedParameters(MEAN_PREFIX)) out.set(k, t); }
    return out;
  }

  /** Loads a complete set of weights. @throws {ShapeError} naming what does not fit */
  load(values: ReadonlyMap<string, HostParameter>, source: string): void {
    const unet = new Map<string, HostParameter>();
    const mean = new Map<string, HostParameter>();
    for (const [key, value] of values) {
      if (key.startsWith(MEAN_PREFIX)) mean.set(key.slice(MEAN_PREFIX.length), value);
      else unet.set(key, value);
    }
    this.unet.loadParameters(unet, source);
    if (this.meanNet) this.meanNet.loadParameters(mean, source);
    else if (mean.size > 0) {
      throw new DataError(`${source}: holds mean-predictor tensors the model does not define`);
    }
  }

  /**
   * Overwrites the UNet with another model directory's inference weights (fine-tuning from it).
   * @returns where they came from, for model.json's `initializedFrom`
   * @throws {DataError}/{ShapeError} when the directory is no model or its UNet does not fit
   */
  async initUnetFrom(dir: string): Promise<{ model: string; checkpoint: string }> {
    const source = await readModelDefinition(dir);
    const weights = await readInferenceWeights(dir, source);
    const unetWeights = new Map([...weights].filter(([name]) => !name.startsWith(MEAN_PREFIX)));
    this.unet.loadParameters(unetWeights, `${dir}/${source.ModelFile}`);
    return { model: dir, checkpoint: source.ModelFile };
  }

  /** Frees every tensor. */
  dispose(): void {
    this.unet.dispose();
    this.meanNet?.dispose();
  }
}

/** Weights, EMA and optimizer tensors of a checkpoint taken while `stage` trains with `trainer`. */
export async function stageTensors(
  networks: Networks,
  stage: TrainingStage,
  trainer: Trainer | null,
): Promise<
  {
    weights: Map<string, NamedArray>;
    ema: Map<string, NamedArray> | null;
    optimizer: Map<string, NamedArray> | null;
  }
> {
  const weights = await readParameters(networks.namedParameters());
  if (!trainer) return { weights, ema: null, optimizer: null };
  const { module, prefix } = networks.stageModule(stage);
  const names = [...module.namedParameters(prefix).keys()];
  const shapes = names.map((name) => weights.get(name)!.shape);
  let ema: Map<string, NamedArray> | null = null;
  if (trainer.ema) {
    const values = await trainer.ema.exportState();
    ema = new Map(weights);
    names.forEach((name, i) => ema!.set(name, { data: values[i]!, shape: shapes[i]! }));
  }
  const adam = await trainer.optimizer.exportState();
  const optimizer = new Map([
    ...names.map((name, i) => [`m.${name}`, { data: adam.m[i]!, shape: shapes[i]! }] as const),
    ...names.map((name, i) => [`v.${name}`, { data: adam.v[i]!, shape: shapes[i]! }] as const),
  ]);
  return { weights, ema, optimizer };
}

/**
 * Restores the optimizer moments and EMA of `stage` from a checkpoint's tensors (after the weights).
 * @throws {DataError} naming the file and the missing tensor
 */
export function restoreStageTensors(
  networks: Networks,
  stage: TrainingStage,
  trainer: Trainer,
  step: number,
  optimizer: Map<string, NamedArray>,
  ema: Map<string, NamedArray> | null,
  where: string,
): void {
  const { module, prefix } = networks.stageModule(stage);
  const names = [...module.namedParameters(prefix).keys()];
  const tensorsOf = (tensors: Map<string, NamedArray>, file: string, key: string): Float32Array[] =>
    names.map((name) => {
      const tensor = tensors.get(`${key}${name}`);
      if (!tensor) throw new DataError(`${where}/${file}: no tensor ${key}${name}`);
      return tensor.data;
    });
  trainer.optimizer.importState({
    step,
    m: tensorsOf(optimizer, "optimizer.safetensors", "m."),
    v: tensorsOf(optimizer, "optimizer.safetensors", "v."),
  });
  if (trainer.ema) {
    if (!ema) throw new DataError(`${where}: the run keeps an EMA but ema.safetensors is missing`);
    trainer.ema.importState(tensorsOf(ema, "ema.safetensors", ""));
  }
}
