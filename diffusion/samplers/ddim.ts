/**
 * DDIM (Song et al. 2021, eq. 12) on a sub-sampled training schedule: `steps` evenly spaced levels of
 * the T training levels (never a schedule rebuilt for fewer steps: linear 1e-5→1e-2 rebuilt at 200
 * steps ends at √ᾱ ≈ 0.6, far from pure noise). x̂0 is clipped and ε re-derived from it; η = 0 is
 * deterministic. From level t to t' (ᾱ' = 1 after the last):
 *   σ = η·√((1−ᾱ')/(1−ᾱ))·√(1−ᾱ/ᾱ'),  x' = √ᾱ'·x̂0 + √(1−ᾱ'−σ²)·ε' + σ·z.
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
  subsampleSteps,
} from "./plan.ts";

/** Default number of DDIM steps (ArcGIS Pro's default). */
export const DDIM_DEFAULT_STEPS = 200;

/** The DDIM plan over `options.steps` sub-sampled training levels. */
export function ddimPlan(options: SampleOptions): SamplingPlan {
  const schedule = options.schedule;
  const from = startStep(schedule, options.startNoiseLevel);
  const ts = subsampleSteps(from, options.steps ?? DDIM_DEFAULT_STEPS);
  const eta = options.eta ?? 0;
  const steps: PlanStep[] = ts.map((t, i) => {
    const alphaBar = schedule.alphasCumprod[t - 1]!;
    const next = ts[i + 1];
    const alphaBarNext = next === undefined ? 1 : schedule.alphasCumprod[next - 1]!;
    const sigma = alphaBar > 0 && alphaBarNext > 0
      ? eta * Math.sqrt((1 - alphaBarNext) / (1 - alphaBar)) * Math.sqrt(1 - alphaBar / alphaBarNext)
      : 0;
    return {
      level: Math.sqrt(alphaBar),
      s0: Math.sqrt(alphaBar),
      s1: Math.sqrt(1 - alphaBar),
      a: Math.sqrt(alphaBarNext),
      b: Math.sqrt(Math.max(0, 1 - alphaBarNext - sigma * sigma)),
      c: sigma,
      d: 0,
      e: 0,
    };
  });
  return {
    startLevel: startLevelOf(schedule, from),
    steps,
  };
}

/** Samples with DDIM in `options.steps` network calls (default 200). */
export function sampleDdim(denoise: Denoiser, condition: Tensor, options: SampleOptions): Promise<Tensor> {
  return runPlan(denoise, condition, ddimPlan(options), options);
}
