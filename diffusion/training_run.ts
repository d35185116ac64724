/**
 * The state machine of one training run behind `SuperResolution.fit()`: which network trains (a
 * residual model's mean predictor first, then its UNet; a plain model's UNet only), the trainer of that
 * stage, the switch between stages (the mean's EMA frozen in, the residual scale measured), checkpoints
 * of everything a resumed run needs, and restoring them.
 * @module
 */
import type { DatasetState } from "../data/dataset.ts";
import type { ChipDataset } from "../data/dataset.ts";
import { fitLoop, type FitOptions, type FitResult, type TrainingStage } from "./fit.ts";
import type { Formulation } from "./formulation.ts";
import { type ModelDefinition, readModelDefinition } from "./model_dir.ts";
import { type CheckpointContents, rollBackCheckpoints, saveCheckpoint } from "./checkpoints.ts";
import { type Networks, restoreStageTensors, stageTensors } from "./networks.ts";
import { meanObjective, type Objective, residualObjective, sr3Objective } from "./objectives.ts";
import type { ModelParts, SamplingSettings } from "./pipeline.ts";
import { measureResidualScale } from "./residual_scale.ts";
import type { ScheduleTables } from "./schedule.ts";
import { Trainer, type TrainerOptions, type TrainerState } from "./trainer.ts";

/** Options of a fit() call: the loop's and the optimizer's. */
export interface RunOptions extends Omit<FitOptions, "outDir" | "epochs">, TrainerOptions {
  /**
   * Residual models: mean-predictor steps before the diffusion stage starts (default 2000; a resumed
   * run keeps the value it started with).
   */
  meanSteps?: number;
  /** Residual models: the mean predictor's learning rate (default 1e-3). */
  meanLr?: number;
}

/** Trainer state plus what the loop needs to resume exactly (a checkpoint's state.json). */
export interface SavedState {
  trainer: TrainerState;
  dataset: DatasetState;
  options: Required<TrainerOptions>;
  /** The network being trained (absent in older checkpoints: the UNet). */
  stage?: TrainingStage;
  /** Residual models: the mean-stage length the run was started with. */
  meanSteps?: number;
  /** Residual models in the mean stage: the trainer options the diffusion stage will start with. */
  diffusionOptions?: TrainerOptions;
}

/** What a run needs of its model. */
export interface RunModel {
  /** The networks. */
  readonly networks: Networks;
  /** The training schedule. */
  readonly schedule: ScheduleTables;
  /** model.json contents; the run updates its formulation and training progress. */
  definition: ModelDefinition;
  /** The formulation (model.json's, or plain SR3). */
  readonly formulation: Formulation;
  /** Networks, schedule and formulation for validation sampling. */
  readonly parts: ModelParts;
  /** The model's sampling settings for a preset (undefined: its default) with overrides. */
  sampling(preset: undefined, overrides: SamplingSettings): SamplingSettings;
}

/** The data a run trains on. */
export interface RunData {
  /** The folder the chips came from. */
  path: string;
  /** Chips, split and batching. */
  dataset: ChipDataset;
  /** Chips per batch. */
  batchSize: number;
}

/** Default mean-stage length of residual models. */
const DEFAULT_MEAN_STEPS = 2000;
/** Default learning rate of the mean predictor (stable for its 89 k parameters at batch 8). */
const DEFAULT_MEAN_LR = 1e-3;

/** One training run of a model: its stage, trainer and checkpoints. */
export class TrainingRun {
  /** The trainer of the current stage. */
  trainer: Trainer | null = null;
  /** The network being trained. */
  private stage: TrainingStage;
  /** Residual models: the mean-stage length of this run. */
  private meanSteps: number | null = null;
  /** Residual models in the mean stage: what the diffusion stage's trainer will get. */
  private diffusionOptions: TrainerOptions | null = null;
  /** Residual models: mean-predictor steps taken, once the diffusion stage has started in this run. */
  private meanStepsDone: number | null = null;

  /** A run of `model`, in the stage its model.json records (a new residual model starts with its mean). */
  constructor(private readonly model: RunModel) {
    const { definition } = model;
    const residual = definition.formulation?.kind === "residual";
    this.stage = residual && (definition.training?.stage ?? "mean") === "mean" ? "mean" : "diffusion";
  }

  /** Restores a checkpoint's optimizer, EMA, trainer and data state (after its weights are loaded). */
  static resume(
    model: RunModel,
    state: SavedState,
    checkpoint: CheckpointContents,
    where: string,
    data: RunData,
  ): TrainingRun {
    const run = new TrainingRun(model);
    run.stage = state.stage ?? "diffusion";
    run.meanSteps = state.meanSteps ?? null;
    run.diffusionOptions = state.diffusionOptions ?? null;
    const trainer = new Trainer(run.objective(run.stage), state.options);
    restoreStageTensors(
      model.networks,
      run.stage,
      trainer,
      state.trainer.step,
      checkpoint.optimizer!,
      checkpoint.ema,
      where,
    );
    trainer.restoreState(state.trainer);
    data.dataset.restore(state.dataset);
    run.trainer = trainer;
    return run;
  }

  /** The objective of a stage. */
  private objective(stage: TrainingStage): Objective {
    const { networks: { unet, meanNet }, schedule, formulation } = this.model;
    if (stage === "mean") return meanObjective(meanNet!);
    if (formulation.kind === "residual") return residualObjective(unet, meanNet!, schedule, formulation);
    return sr3Objective(unet, schedule, formulation);
  }

  /** The trainer of the current stage (created on first use with `options`). */
  private trainerFor(options: TrainerOptions): Trainer {
    this.trainer ??= new Trainer(this.objective(this.stage), options);
    return this.trainer;
  }

  /**
   * Trains for `epochs` (or `options.steps`) more, checkpointing into `outDir`. Residual models first
   * train their mean predictor up to `meanSteps`, then the UNet; a time limit covers both.
   */
  async fit(
    data: RunData,
    outDir: string,
    epochs: number | undefined,
    options: RunOptions,
  ): Promise<FitResult> {
    const started = performance.now();
    if (this.stage === "mean") {
      this.meanSteps ??= options.meanSteps ?? DEFAULT_MEAN_STEPS;
      this.diffusionOptions ??= trainerOptions(options);
      const trainer = this.trainerFor({ ...trainerOptions(options), lr: options.meanLr ?? DEFAULT_MEAN_LR });
      const remaining = this.meanSteps - trainer.step;
      if (remaining > 0) {
        const result = await fitLoop(this.host(data, trainer), { ...options, outDir, steps: remaining });
        if (result.stopped !== "finished") return result;
      }
      await this.startDiffusionStage(data, this.diffusionOptions);
      await this.checkpoint(outDir, data, null, options.keepCheckpoints ?? 2);
    }
    const trainer = this.trainerFor(options);
    const spent = (performance.now() - started) / 1000;
    return await fitLoop(this.host(data, trainer), {
      ...options,
      outDir,
      epochs,
      maxSeconds: options.maxSeconds === undefined ? undefined : Math.max(0, options.maxSeconds - spent),
    });
  }

  /** The loop's view of this run. */
  private host(data: RunData, trainer: Trainer) {
    return {
      parts: this.model.parts,
      stage: this.stage,
      sampling: this.model.sampling(undefined, {}),
      dataset: data.dataset,
      batchSize: data.batchSize,
      trainer,
      checkpoint: (dir: string, lastLoss: number | null, keep: number) =>
        this.checkpoint(dir, data, lastLoss, keep),
      rollBack: async (dir: string, step: number) => {
        const kept = await rollBackCheckpoints(dir, step, this.stage);
        this.model.definition = await readModelDefinition(dir);
        return kept;
      },
    };
  }

  /**
   * Ends the mean stage: its EMA becomes the frozen mean predictor, the residual scale is measured on
   * training chips, and a fresh trainer takes over the UNet.
   */
  private async startDiffusionStage(data: RunData, options: TrainerOptions): Promise<void> {
    const meanTrainer = this.trainer!;
    meanTrainer.ema?.copyTo();
    const meanStep = meanTrainer.step;
    meanTrainer.dispose();
    this.trainer = null;
    const scale = await measureResidualScale(this.model.networks.meanNet!, data.dataset, data.batchSize);
    const { definition } = this.model;
    this.model.definition = {
      ...definition,
      formulation: { ...this.model.formulation, scale },
      training: definition.training ? { ...definition.training, meanStep, stage: "diffusion" } : null,
    };
    this.stage = "diffusion";
    this.meanStepsDone = meanStep;
    this.trainerFor(options);
  }

  /** Writes weights, EMA, optimizer, trainer and data state, and model.json, keeping `keep` checkpoints. */
  async checkpoint(dir: string, data: RunData | null, lastLoss: number | null, keep = 2): Promise<void> {
    const { model } = this;
    const trainer = data ? this.trainer : null;
    const tensors = await stageTensors(model.networks, this.stage, trainer);
    let state: SavedState | null = null;
    const residual = model.formulation.kind === "residual";
    if (trainer && data) {
      state = {
        trainer: await trainer.exportState(),
        dataset: data.dataset.state,
        options: trainer.options,
        ...(residual
          ? {
            stage: this.stage,
            meanSteps: this.meanSteps ?? undefined,
            diffusionOptions: this.stage === "mean" ? this.diffusionOptions ?? undefined : undefined,
          }
          : {}),
      };
      const meanStep = this.stage === "mean"
        ? trainer.step
        : this.meanStepsDone ?? model.definition.training?.meanStep;
      model.definition = {
        ...model.definition,
        training: {
          step: this.stage === "mean" ? 0 : trainer.step,
          epoch: data.dataset.state.epoch,
          batchSize: data.batchSize,
          lr: trainer.options.lr,
          loss: trainer.options.loss,
          emaDecay: trainer.options.emaDecay,
          lastLoss,
          seed: trainer.options.seed,
          dataset: data.path,
          ...(residual ? { stage: this.stage, meanStep } : {}),
        },
      };
    }
    const step = trainer?.step ?? (this.stage === "mean" ? 0 : model.definition.training?.step ?? 0);
    await saveCheckpoint(
      dir,
      model.definition,
      step,
      { ...tensors, state: state as unknown as Record<string, unknown> | null },
      keep,
      this.stage,
    );
    model.definition = await readModelDefinition(dir);
  }

  /** Frees the trainer. */
  dispose(): void {
    this.trainer?.dispose();
  }
}

/** The trainer's options out of fit()'s (unset fields stay unset: the Trainer and state.json skip them). */
function trainerOptions(options: RunOptions): TrainerOptions {
  const { lr, loss, emaDecay, gradClip, weightDecay, seed, lossRingSize } = options;
  return { lr, loss, emaDecay, gradClip, weightDecay, seed, lossRingSize };
}
