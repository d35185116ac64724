/**
 * The training loop behind `SuperResolution.fit()` and `sr3 train`: steps on the GPU with no readback
 * between logging intervals; a progress line (step, epoch, smoothed loss, it/s, ETA); `train_log.jsonl`,
 * a loss-curve PNG and optional TensorBoard events in the model directory; validation PSNR/SSIM and
 * LR | bicubic | SR3 | HR grids; checkpoints every N steps, at the end, and on Ctrl-C / SIGTERM (the
 * current step finishes, a checkpoint is written, and the caller exits 130 / 143); non-finite losses
 * are skipped on the GPU, never checkpointed, and stop training after too many in a row with model.json
 * rolled back to the last checkpoint from before the divergence.
 * @module
 */
import type { ChipDataset } from "../data/dataset.ts";
import { plotLossCurve, smoothLoss } from "../report/plot.ts";
import { encodePng } from "../report/png.ts";
import { ProgressLine } from "../report/progress.ts";
import { TensorBoardWriter } from "../report/tensorboard.ts";
import {
  resultsGrid,
  sampleValidation,
  samplingLabel,
  type SamplingSettings,
  scoreBatches,
} from "./evaluate.ts";
import type { ModelParts } from "./pipeline.ts";
import type { Trainer } from "./trainer.ts";

/** Which network a loop trains: the diffusion UNet, or a residual model's mean predictor (first stage). */
export type TrainingStage = "diffusion" | "mean";

/** How a stage names its files, curves, TensorBoard tags and progress lines. */
interface StageNames {
  /** Training log, loss curve and validation grid in the model directory. */
  log: string;
  curve: string;
  grid: string;
  /** Loss-curve title. */
  title: string;
  /** Progress-line label. */
  label: string;
  /** TensorBoard tag prefixes of training and validation scalars. */
  trainTag: string;
  validationTag: string;
  /** What validation scores. */
  scored: string;
}

const STAGE_NAMES: Readonly<Record<TrainingStage, StageNames>> = {
  diffusion: {
    log: "train_log.jsonl",
    curve: "loss.png",
    grid: "validation.png",
    title: "SR3 training loss",
    label: "train",
    trainTag: "train",
    validationTag: "val",
    scored: "SR3",
  },
  mean: {
    log: "mean_train_log.jsonl",
    curve: "mean_loss.png",
    grid: "mean_validation.png",
    title: "Mean predictor training loss (L1)",
    label: "train mean",
    trainTag: "mean",
    validationTag: "mean_val",
    scored: "mean",
  },
};

/** Options of the training loop (arcgis `fit()` plus sr3's monitoring knobs). */
export interface FitOptions {
  /** Model directory: checkpoints, model.json, train_log.jsonl, loss.png, validation grids. */
  outDir: string;
  /** Optimizer steps to take in this call (overrides epochs). */
  steps?: number;
  /** Epochs to train in this call (default 1 when `steps` is not given). */
  epochs?: number;
  /** Write TensorBoard event files here (the arcgis `tensorboard=True` experience). */
  tensorboard?: string;
  /** Read losses and report every this many steps (default 10). */
  logEvery?: number;
  /** Checkpoint every this many steps (default 500; always at the end). */
  checkpointEvery?: number;
  /** Checkpoints kept on disk, newest first (default 2; 1 is safe too: the new one is complete first). */
  keepCheckpoints?: number;
  /** Validate every this many steps (default 1000; 0 = never). */
  validateEvery?: number;
  /** Validation chips sampled per validation (default 4). */
  validationChips?: number;
  /**
   * Sampler settings of validation (default: the model's default preset; the mean predictor alone in the
   * mean stage).
   */
  validationSampling?: SamplingSettings;
  /** Stop (with a checkpoint) once training has run this long, in seconds. */
  maxSeconds?: number;
  /** Stop after this many non-finite losses in a row (default 20). */
  maxNonFinite?: number;
  /** Print progress (default true). */
  progress?: boolean;
  /** Checkpoint and stop cleanly on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
}

/** How a fit() call ended. */
export interface FitResult {
  /** Steps taken in total (including earlier runs). */
  step: number;
  /**
   * Why it stopped: the step budget was spent, the time limit was reached, a signal arrived (exit 130
   * for SIGINT, 143 for SIGTERM), or too many non-finite losses in a row.
   */
  stopped: "finished" | "time-limit" | "SIGINT" | "SIGTERM" | "non-finite";
  /** Smoothed loss at the end. */
  loss: number | null;
}

/** What the loop needs from its owner (the SuperResolution object). */
export interface FitHost {
  /** The networks, schedule and formulation (for validation). */
  parts: ModelParts;
  /** Which network is trained. */
  stage: TrainingStage;
  /** Validation sampling when the options name none: the model's default preset. */
  sampling: SamplingSettings;
  /** The dataset. */
  dataset: ChipDataset;
  /** Batch size. */
  batchSize: number;
  /** The trainer (optimizer, EMA). */
  trainer: Trainer;
  /** Writes a checkpoint of everything at the trainer's current step, keeping the newest `keep`. */
  checkpoint(outDir: string, lastLoss: number | null, keep: number): Promise<void>;
  /**
   * Drops this stage's checkpoints from `step` on and points model.json at the newest older one;
   * returns the checkpoint it now names (null: none).
   */
  rollBack(outDir: string, step: number): Promise<string | null>;
}

/** One line of train_log.jsonl. */
interface LogLine {
  /** Last step of the logging interval. */
  step: number;
  epoch: number;
  /** Mean loss over the interval's steps. */
  loss: number;
  /** Exponential moving average (0.9) of the interval means. */
  smoothedLoss: number;
  lr: number;
  itPerSecond: number | null;
  time: string;
  psnr?: number;
  ssim?: number;
  bicubicPsnr?: number;
  bicubicSsim?: number;
}

/**
 * Reads the losses logged so far (for the curve) from train_log.jsonl, dropping lines past `upToStep`:
 * a run killed after logging but before its next checkpoint resumes from that checkpoint, and the steps
 * it repeats must not appear twice.
 */
async function readLog(path: string, upToStep: number): Promise<{ step: number; loss: number }[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const lines = text.split("\n").filter((l) => l.trim());
  const kept = lines.filter((l) => (JSON.parse(l) as LogLine).step <= upToStep);
  if (kept.length < lines.length) await Deno.writeTextFile(path, kept.map((l) => l + "\n").join(""));
  return kept.map((l) => JSON.parse(l) as LogLine).filter((l) => typeof l.loss === "number")
    .map((l) => ({ step: l.step, loss: l.loss }));
}

/** Trains until the step budget is spent or a signal arrives. */
export async function fitLoop(host: FitHost, options: FitOptions): Promise<FitResult> {
  const { trainer, dataset, batchSize } = host;
  const stepsPerEpoch = Math.max(1, Math.ceil(dataset.trainNames.length / batchSize));
  const budget = options.steps ?? (options.epochs ?? 1) * stepsPerEpoch;
  const target = trainer.step + budget;
  const logEvery = options.logEvery ?? 10;
  const checkpointEvery = options.checkpointEvery ?? 500;
  const validateEvery = options.validateEvery ?? 1000;
  const maxNonFinite = options.maxNonFinite ?? 20;
  const names = STAGE_NAMES[host.stage];
  const logPath = `${options.outDir}/${names.log}`;
  await Deno.mkdir(options.outDir, { recursive: true });
  const history = await readLog(logPath, trainer.step);
  const tensorboard = options.tensorboard ? TensorBoardWriter.open(options.tensorboard) : null;
  if (tensorboard && trainer.step > 0) tensorboard.addSessionStart(trainer.step);
  const progress = options.progress === false ? null : new ProgressLine({
    label: names.label,
    unit: "step",
    total: target,
  });
  let stopped: FitResult["stopped"] = "finished";
  let signal: "SIGINT" | "SIGTERM" | null = null;
  const onSignal = (name: "SIGINT" | "SIGTERM") => () => {
    signal ??= name;
    progress?.log(`${name}: finishing this step, writing a checkpoint, then stopping`);
  };
  const handlers = options.handleSignals === false
    ? []
    : (["SIGINT", "SIGTERM"] as const).map((name) => ({ name, handler: onSignal(name) }));
  for (const { name, handler } of handlers) Deno.addSignalListener(name, handler);
  let smoothed: number | null = history.length ? smoothLoss(history.map((h) => h.loss), 0.9).at(-1)! : null;
  let lastCheckpointStep = trainer.step;
  let consecutiveSkipped = 0;
  let rateStart = { time: performance.now(), step: trainer.step };
  const deadline = options.maxSeconds === undefined
    ? Infinity
    : performance.now() + 1000 * options.maxSeconds;

  const writeCurve = async (): Promise<void> => {
    if (history.length < 2) return;
    const png = encodePng(plotLossCurve(history, { title: names.title, logScale: true }));
    await Deno.writeFile(`${options.outDir}/${names.curve}`, png);
  };

  try {
    while (trainer.step < target) {
      const batch = dataset.nextBatch(batchSize, trainer.randomSource);
      trainer.trainStep(batch);
      const step = trainer.step;
      const outOfTime = performance.now() >= deadline;
      const checkpointDue = signal || outOfTime || step % checkpointEvery === 0 || step === target;
      if (step % logEvery === 0 || checkpointDue) {
        const report = await trainer.readLosses();
        consecutiveSkipped = report.consecutiveSkipped;
        const now = performance.now();
        const itPerSecond = (step - rateStart.step) / ((now - rateStart.time) / 1000);
        rateStart = { time: now, step };
        // One line per logging interval: the mean loss of its finite steps (per-step lines would make
        // logs of long runs needlessly large; the GPU ring keeps every step's loss until this read).
        const finite = report.losses.filter((l) => Number.isFinite(l.loss));
        if (finite.length > 0) {
          const loss = finite.reduce((sum, l) => sum + l.loss, 0) / finite.length;
          smoothed = smoothed === null ? loss : 0.9 * smoothed + 0.1 * loss;
          history.push({ step, loss });
          const line: LogLine = {
            step,
            epoch: dataset.state.epoch,
            loss,
            smoothedLoss: smoothed,
            lr: trainer.optimizer.lr,
            itPerSecond,
            time: new Date().toISOString(),
          };
          await Deno.writeTextFile(logPath, JSON.stringify(line) + "\n", { append: true });
        }
        const tag = names.trainTag;
        tensorboard?.addScalars(
          { [`${tag}/loss`]: smoothed ?? NaN, [`${tag}/lr`]: trainer.optimizer.lr },
          step,
        );
        progress?.update(step, { epoch: dataset.state.epoch, loss: smoothed ?? NaN });
        if (report.consecutiveSkipped > 0) {
          progress?.log(
            `warning: step ${step}: non-finite loss, update skipped (${report.consecutiveSkipped} in a row, ` +
              `${report.totalSkipped} in total)`,
          );
          if (report.consecutiveSkipped >= maxNonFinite) {
            // Skipped steps leave the weights alone: those after update `diverged` gave the first
            // non-finite loss, so a checkpoint of that step (or later) holds broken weights.
            const diverged = step - report.consecutiveSkipped;
            const kept = lastCheckpointStep >= diverged
              ? await host.rollBack(options.outDir, diverged)
              : `step ${lastCheckpointStep}`;
            progress?.log(
              `stopping: ${report.consecutiveSkipped} non-finite losses in a row after step ${diverged}; ` +
                `model.json names ${
                  kept ? `the last good checkpoint (${kept})` : "no checkpoint (none was good)"
                }` +
                `. Try a lower --lr or --grad-clip.`,
            );
            stopped = "non-finite";
            break;
          }
        }
      }
      if (validateEvery > 0 && step % validateEvery === 0) {
        await validate(host, options, step, tensorboard, progress);
      }
      // Never checkpoint weights whose latest loss was non-finite: they are the diverged ones.
      if (checkpointDue && consecutiveSkipped === 0) {
        await host.checkpoint(options.outDir, smoothed, options.keepCheckpoints ?? 2);
        lastCheckpointStep = step;
        await writeCurve();
      }
      if (signal || outOfTime) {
        stopped = signal ?? "time-limit";
        break;
      }
      // Let signal handlers run between steps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    for (const { name, handler } of handlers) Deno.removeSignalListener(name, handler);
    progress?.finish({ loss: smoothed ?? NaN });
    tensorboard?.close();
  }
  return { step: trainer.step, stopped, loss: smoothed };
}

async function validate(
  host: FitHost,
  options: FitOptions,
  step: number,
  tensorboard: TensorBoardWriter | null,
  progress: ProgressLine | null,
): Promise<void> {
  const sampling: SamplingSettings = host.stage === "mean"
    ? { samplingType: "mean" }
    : options.validationSampling ?? host.sampling;
  const batches = await sampleValidation(host.parts, host.dataset, {
    ...sampling,
    maxChips: options.validationChips ?? 4,
    batchSize: host.batchSize,
    ema: host.trainer.ema,
  });
  if (batches.length === 0) return;
  const label = samplingLabel(sampling);
  const scores = scoreBatches(batches, label);
  const names = STAGE_NAMES[host.stage];
  const png = resultsGrid(batches, options.validationChips ?? 4, label, `step ${step}`);
  await Deno.writeFile(`${options.outDir}/${names.grid}`, png);
  const tag = names.validationTag;
  tensorboard?.addScalars({
    [`${tag}/psnr`]: scores.sr3.PSNR,
    [`${tag}/ssim`]: scores.sr3.SSIM,
    [`${tag}/bicubic_psnr`]: scores.bicubic.PSNR,
    [`${tag}/bicubic_ssim`]: scores.bicubic.SSIM,
  }, step);
  tensorboard?.addImage(`${tag}/LR_bicubic_SR3_HR`, png, step);
  await Deno.writeTextFile(
    `${options.outDir}/${names.log}`,
    JSON.stringify({
      step,
      validation: true,
      psnr: scores.sr3.PSNR,
      ssim: scores.sr3.SSIM,
      bicubicPsnr: scores.bicubic.PSNR,
      bicubicSsim: scores.bicubic.SSIM,
      sampling: label,
      time: new Date().toISOString(),
    }) + "\n",
    { append: true },
  );
  progress?.log(
    `validation @ step ${step} (${label}, ${scores.chips} chips): ${names.scored} PSNR ${
      scores.sr3.PSNR.toFixed(2)
    } dB ` +
      `SSIM ${scores.sr3.SSIM.toFixed(3)} | bicubic PSNR ${scores.bicubic.PSNR.toFixed(2)} dB ` +
      `SSIM ${scores.bicubic.SSIM.toFixed(3)}`,
  );
}
