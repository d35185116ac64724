/**
 * DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) over every step of the training schedule,
 * with the "fixed small" posterior variance β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t) and x̂0 clipped to [−1, 1],
 * as the SR3 reference's `p_sample` does: x_{t−1} = c1_t·x̂0 + c2_t·x_t + σ_t·z.
 * @module
 */
import type { Tensor } from "../../nn/tensor.ts";
import {
  type Denoiser,
  type PlanStep,
  runPlan,
  type SampleOptions,
  type SamplingPlan,
  startLevelOf,
  startStep,
} from "./plan.ts";

/** The DDPM plan: one call per training step from the start step down to 1. */
export function ddpmPlan(options: SampleOptions): SamplingPlan {
  const schedule = options.schedule;
  const from = startStep(schedule, options.startNoiseLevel);
  const steps: PlanStep[] = [];
  for (let t = from; t >= 1; t--) {
    const alphaBar = schedule.alphasCumprod[t - 1]!;
    steps.push({
      level: Math.sqrt(alphaBar),
      s0: Math.sqrt(alphaBar),
      s1: Math.sqrt(1 - alphaBar),
      a: schedule.posteriorMeanCoef1[t - 1]!,
      b: 0,
      c: t > 1 ? Math.sqrt(schedule.posteriorVariance[t - 1]!) : 0,
      d: 0,
      e: schedule.posteriorMeanCoef2[t - 1]!,
    });
  }
  return {
    startLevel: startLevelOf(schedule, from),
    steps,
  };
}

/** Samples with DDPM: T network calls (slow; the reference quality). */
export function sampleDdpm(denoise: Denoiser, condition: Tensor, options: SampleOptions): Promise<Tensor> {
  return runPlan(denoise, condition, ddpmPlan(options), options);
}
