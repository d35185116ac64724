/**
 * One training step on the GPU for any {@link Objective} (SR3 §2.4's noise prediction, residual
 * diffusion, or the mean predictor's regression): the objective records the forward pass, then the
 * masked L1 (or L2) loss and its gradient fused, backward, optional global-norm clipping, Adam and the
 * EMA of weights. A step reads nothing back:
 * losses collect in a GPU ring buffer read at logging intervals, and a non-finite loss makes the
 * optimizer and EMA skip that step on the GPU (the step is counted, the weights stay).
 * @module
 */
import { finiteGuard } from "../kernels/adam.ts";
import { noiseLoss } from "../kernels/diffusion.ts";
import { reduceSum } from "../kernels/reduce.ts";
import { backward } from "../nn/autodiff.ts";
import { EMA } from "../nn/ema.ts";
import { Adam, gradNorm } from "../nn/optim.ts";
import { getRuntime, Tensor, tidy } from "../nn/tensor.ts";
import type { Batch } from "../data/dataset.ts";
import { mixSeed, SeededRandom } from "../data/random.ts";
import type { Objective } from "./objectives.ts";

/** Training hyper-parameters. */
export interface TrainerOptions {
  /** Adam learning rate (default 1e-4, the reference's). */
  lr?: number;
  /** Loss on the objective's target (default "l1", as SR3). */
  loss?: "l1" | "l2";
  /** EMA decay of the weights, or null for none (default 0.999). */
  emaDecay?: number | null;
  /** Clip the global gradient norm to this, or null (default 1). */
  gradClip?: number | null;
  /** Decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Seed of noise, noise levels, dropout and augmentation (default 0). */
  seed?: number;
  /** Losses kept on the GPU between reads (default 1000). */
  lossRingSize?: number;
}

/** What {@link Trainer.readLosses} returns. */
export interface LossReport {
  /** Losses of the steps since the last read (oldest first; at most the ring size). */
  losses: { step: number; loss: number }[];
  /** Non-finite steps skipped in a row, up to the latest step. */
  consecutiveSkipped: number;
  /** Non-finite steps skipped since training started. */
  totalSkipped: number;
}

/** Trainer state saved with a checkpoint (JSON). */
export interface TrainerState {
  /** Optimizer steps taken. */
  step: number;
  /** Host random state (noise levels, augmentation). */
  random: number;
  /** Skipped-step counters. */
  totalSkipped: number;
}

/** Owns the optimizer, the EMA and the per-step GPU buffers of one training run. */
export class Trainer {
  /** The optimizer (its state goes into checkpoints). */
  readonly optimizer: Adam;
  /** The weight average, when enabled. */
  readonly ema: EMA | null;
  /** Resolved options. */
  readonly options: Required<TrainerOptions>;
  private stepCount = 0;
  private lastRead = 0;
  private readonly random: SeededRandom;
  private readonly ring: Tensor;
  /** [apply (1) or skip (0), consecutive skipped, total skipped]. */
  private readonly guard: Tensor;

  /** Prepares a run training `objective.module`. */
  constructor(readonly objective: Objective, options: TrainerOptions = {}) {
    this.options = {
      lr: options.lr ?? 1e-4,
      loss: options.loss ?? "l1",
      emaDecay: options.emaDecay === undefined ? 0.999 : options.emaDecay,
      gradClip: options.gradClip === undefined ? 1 : options.gradClip,
      weightDecay: options.weightDecay ?? 0,
      seed: options.seed ?? 0,
      lossRingSize: options.lossRingSize ?? 1000,
    };
    const params = objective.module.parameters();
    this.optimizer = new Adam(params, { lr: this.options.lr, weightDecay: this.options.weightDecay });
    this.ema = this.options.emaDecay === null ? null : new EMA(params, this.options.emaDecay);
    this.random = new SeededRandom(mixSeed(this.options.seed, 0x5e3));
    this.ring = Tensor.zeros([this.options.lossRingSize], { persistent: true, name: "loss-ring" });
    this.guard = Tensor.zeros([3], { persistent: true, name: "nonfinite-guard" });
  }

  /** Optimizer steps taken. */
  get step(): number {
    return this.stepCount;
  }

  /** The host random source the dataset's augmentation should draw from (saved with the state). */
  get randomSource(): SeededRandom {
    return this.random;
  }

  /**
   * Records one training step on `batch` (uploads it, then GPU work only). Dropout masks, noise and
   * noise levels are functions of (seed, step), so a resumed run continues the same sequence.
   */
  trainStep(batch: Batch): void {
    const rt = getRuntime();
    const { batch: n, channels, height, width } = batch.shape;
    const shape = [n, channels, height, width];
    const step = this.stepCount + 1;
    let validPixels = 0;
    for (const m of batch.mask) validPixels += m;
    const scale = 1 / Math.max(1, validPixels * channels);
    this.objective.module.setTraining(true);
    tidy(() => {
      const { predicted, target, weights } = this.objective.terms(
        batch,
        step,
        this.options.seed,
        this.random,
      );
      const mask = Tensor.fromArray(weights, [n, 1, height, width]);
      const perElement = Tensor.empty(shape);
      const grad = Tensor.empty(shape);
      noiseLoss(rt, this.options.loss, perElement, grad, predicted, target, mask, scale);
      const loss = Tensor.empty([1]);
      reduceSum(rt, loss, perElement, [0, 1, 2, 3], scale);
      backward(predicted, grad);
      finiteGuard(rt, this.guard, loss);
      const clip = this.options.gradClip === null
        ? null
        : gradNorm(this.optimizer.params, this.options.gradClip);
      // Clipping, the non-finite guard and the EMA all ride in Adam's single pass over the weights.
      this.optimizer.step({ guard: this.guard, gradScale: clip?.factor, ema: this.ema });
      this.optimizer.zeroGrad();
      const slot = (step - 1) % this.options.lossRingSize;
      rt.copyBuffer(loss.buffer, 0, this.ring.buffer, slot * 4, 4);
    });
    this.stepCount = step;
  }

  /** Reads the losses recorded since the last call (one GPU round trip: call at logging intervals). */
  async readLosses(): Promise<LossReport> {
    const rt = getRuntime();
    const [ring, guard] = await Promise.all([
      rt.read(this.ring.buffer, 0, this.options.lossRingSize * 4),
      rt.read(this.guard.buffer, 0, 12),
    ]);
    const values = new Float32Array(ring);
    const first = Math.max(this.lastRead + 1, this.stepCount - this.options.lossRingSize + 1);
    const losses: { step: number; loss: number }[] = [];
    for (let step = first; step <= this.stepCount; step++) {
      losses.push({ step, loss: values[(step - 1) % this.options.lossRingSize]! });
    }
    this.lastRead = this.stepCount;
    const counters = new Float32Array(guard);
    return { losses, consecutiveSkipped: counters[1]!, totalSkipped: counters[2]! };
  }

  /** State to save with a checkpoint (optimizer moments and EMA are saved separately). */
  async exportState(): Promise<TrainerState> {
    const guard = new Float32Array(await getRuntime().read(this.guard.buffer, 0, 12));
    return { step: this.stepCount, random: this.random.state, totalSkipped: guard[2]! };
  }

  /** Restores {@link exportState}'s result (after the optimizer and EMA states). */
  restoreState(state: TrainerState): void {
    this.stepCount = state.step;
    this.lastRead = state.step;
    this.random.state = state.random;
    if (this.ema) this.ema.updates = state.step;
    getRuntime().write(this.guard.buffer, new Float32Array([1, 0, state.totalSkipped]));
  }

  /** Frees the optimizer, EMA and ring buffers (not the model). */
  dispose(): void {
    this.optimizer.dispose();
    this.ema?.dispose();
    this.ring.dispose();
    this.guard.dispose();
  }
}
