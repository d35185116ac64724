/**
 * The shared sampling loop. Every sampler turns the training schedule into a plan: per network
 * call, the conditioning noise level γ = √ᾱ_t and the coefficients of one fused update
 * (kernels/diffusion.wgsl.ts):
 *   x̂0 = (x − √(1−ᾱ_t)·ε̂)/√ᾱ_t (clipped), ε' from the clipped x̂0,
 *   x_next = a·x̂0 + b·ε' + c·z + d·x̂0_prev + e·x.
 * The loop records everything on the GPU; nothing is read back until the caller reads the result.
 * @module
 */
import { samplerUpdate, type UpdateCoefficients } from "../../kernels/diffusion.ts";
import { formatShape, ShapeError } from "../../base/errors.ts";
import { noGrad } from "../../nn/autodiff.ts";
import { randomNormal } from "../../nn/ops/random.ts";
import { getRuntime, Tensor, tidy } from "../../nn/tensor.ts";
import { add, affine } from "../../nn/ops/elementwise.ts";
import type { ScheduleTables } from "../schedule.ts";

/**
 * Predicts the noise ε̂ in `x` [N, C, H, W] given the `condition` (the bicubic-upsampled low-res
 * image, same shape) and the noise level γ = √ᾱ per sample ([N]). The UNet is one; a closed-form or
 * a researcher's own function is another.
 */
export type Denoiser = (x: Tensor, condition: Tensor, noiseLevels: Tensor) => Tensor;

/**
 * Where a sampler's Gaussian noise comes from: a tensor of `shape` for `stream` (0 for the start, i + 1
 * for the update after network call i). Default: `randomNormal(shape, seed, stream)`.
 */
export type NoiseSource = (shape: readonly number[], stream: number) => Tensor;

/** Options every sampler takes. */
export interface SampleOptions {
  /** The training schedule (samplers sub-sample it; they never rebuild β for fewer steps). */
  schedule: ScheduleTables;
  /** Network calls for DDIM and DPM-Solver++ (DDPM always takes every step of the schedule). */
  steps?: number;
  /** Seed of the initial noise and of every stochastic step; a fixed seed reproduces the sample. */
  seed?: number;
  /** Draws the noise instead of `seed` (e.g. one Philox key per batch item, see diffusion/tile_noise.ts). */
  noise?: NoiseSource;
  /** DDIM stochasticity: 0 is deterministic, 1 matches DDPM's posterior variance. */
  eta?: number;
  /** Clip x̂0 to [−1, 1] at every step (default true). */
  clip?: boolean;
  /**
   * Truncated start (CCDF, Chung et al. 2022): begin at the schedule step whose noise level γ = √ᾱ_t
   * first falls to this value, from x = γ·start + √(1−γ²)·z, skipping the noisiest part of the trajectory.
   */
  startNoiseLevel?: number;
  /**
   * The estimate a truncated start noises (same shape as the condition; default the condition itself,
   * i.e. the bicubic image for plain SR3; zeros for residual diffusion, whose start is the mean).
   */
  startFrom?: Tensor;
  /** Called after each network call is recorded, with (calls done, calls total). */
  onProgress?: (done: number, total: number) => void;
  /** Called every `intermediateEvery` calls with the current x̂0 estimate (read it only if you need it). */
  onIntermediate?: (done: number, x0: Tensor) => void;
  /** How often `onIntermediate` fires (default: never). */
  intermediateEvery?: number;
  /**
   * Wait for the GPU every this many calls so progress reflects finished work and the queue stays
   * short (a fence, not a readback; default: only when `onProgress` is given, every 10% of calls).
   */
  syncEvery?: number;
}

/** One network call and the update that follows it. */
export interface PlanStep extends UpdateCoefficients {
  /** Conditioning noise level γ = √ᾱ_t of this call. */
  level: number;
}

/** A sampling plan: where to start and one step per network call. */
export interface SamplingPlan {
  /** Noise level of the starting point (1 = pure noise). */
  startLevel: number;
  /** The steps in order. */
  steps: PlanStep[];
}

/** The smallest √ᾱ guarding x̂0 = (x − σε̂)/√ᾱ where a schedule (jsd) reaches ᾱ_T = 0. */
export const MIN_SIGNAL = 1e-6;

/**
 * The largest training step t (1-based) to start from: T, or for a truncated start the first t whose
 * γ = √ᾱ_t is at most `startNoiseLevel`.
 */
export function startStep(schedule: ScheduleTables, startNoiseLevel?: number): number {
  const T = schedule.betas.length;
  if (startNoiseLevel === undefined) return T;
  if (!(startNoiseLevel > 0 && startNoiseLevel < 1)) {
    throw new RangeError(`startNoiseLevel must be in (0, 1), got ${startNoiseLevel}`);
  }
  for (let t = 1; t <= T; t++) {
    if (Math.sqrt(schedule.alphasCumprod[t - 1]!) <= startNoiseLevel) return t;
  }
  return T;
}

/** The noise level a plan starting at training step `from` starts from: 1 (pure noise) at T. */
export function startLevelOf(schedule: ScheduleTables, from: number): number {
  return from === schedule.betas.length ? 1 : Math.sqrt(schedule.alphasCumprod[from - 1]!);
}

/** `count` training steps from `from` down to 1, evenly spaced (every from/count-th level). */
export function subsampleSteps(from: number, count: number): number[] {
  const n = Math.max(1, Math.min(count, from));
  return Array.from({ length: n }, (_, i) => Math.max(1, Math.round(from - (i * from) / n)));
}

/** Runs a plan from noise (or a noised condition) and returns the final sample. */
export async function runPlan(
  denoise: Denoiser,
  condition: Tensor,
  plan: SamplingPlan,
  options: SampleOptions,
): Promise<Tensor> {
  if (condition.shape.length !== 4) {
    throw new ShapeError(`sampler condition: expected NCHW, got ${formatShape(condition.shape)}`);
  }
  const rt = getRuntime();
  const seed = options.seed ?? 0;
  const noise = options.noise ??
    ((shape: readonly number[], stream: number) => randomNormal(shape, seed, stream));
  const clip = options.clip ?? true;
  const total = plan.steps.length;
  const syncEvery = options.syncEvery ?? (options.onProgress ? Math.max(1, Math.ceil(total / 10)) : 0);
  const batch = condition.shape[0]!;
  let x = noGrad(() =>
    tidy(() => {
      const z = noise(condition.shape, 0);
      if (plan.startLevel >= 1) return z;
      const gamma = plan.startLevel;
      const start = options.startFrom ?? condition;
      if (start.shape.join() !== condition.shape.join()) {
        throw new ShapeError(
          `sampler start ${formatShape(start.shape)} does not match the condition ${
            formatShape(condition.shape)
          }`,
        );
      }
      return add(affine(z, Math.sqrt(1 - gamma * gamma)), affine(start, gamma));
    })
  );
  let x0: Tensor | null = null;
  for (let i = 0; i < total; i++) {
    const step = plan.steps[i]!;
    const result = noGrad(() =>
      tidy(() => {
        const levels = Tensor.full([batch], step.level);
        const eps = denoise(x, condition, levels);
        const z = step.c !== 0 ? noise(x.shape, i + 1) : eps;
        const next = Tensor.empty(x.shape);
        const estimate = Tensor.empty(x.shape);
        const coefficients = { ...step, s0: Math.max(step.s0, MIN_SIGNAL) };
        samplerUpdate(rt, next, estimate, x, eps, z, x0 ?? x, coefficients, clip);
        return { next, estimate };
      })
    );
    x.dispose();
    x0?.dispose();
    x = result.next;
    x0 = result.estimate;
    options.onProgress?.(i + 1, total);
    if (options.onIntermediate && options.intermediateEvery && (i + 1) % options.intermediateEvery === 0) {
      options.onIntermediate(i + 1, x0);
    }
    if (syncEvery > 0 && (i + 1) % syncEvery === 0 && i + 1 < total) await rt.sync();
  }
  x0?.dispose();
  return x;
}
