/**
 * The samplers behind one interface: pick by name, pass any {@link Denoiser}.
 * @module
 */
import type { Tensor } from "../../nn/tensor.ts";
import { DDIM_DEFAULT_STEPS, sampleDdim } from "./ddim.ts";
import { sampleDdpm } from "./ddpm.ts";
import { DPMPP_DEFAULT_STEPS, sampleDpmpp } from "./dpmpp.ts";
import type { Denoiser, SampleOptions } from "./plan.ts";

export { DDIM_DEFAULT_STEPS, ddimPlan, sampleDdim } from "./ddim.ts";
export { ddpmPlan, sampleDdpm } from "./ddpm.ts";
export { DPMPP_DEFAULT_STEPS, dpmppPlan, sampleDpmpp } from "./dpmpp.ts";
export type { Denoiser, NoiseSource, PlanStep, SampleOptions, SamplingPlan } from "./plan.ts";

/** Sampler names as the CLI and `sampling_type` spell them. */
export type SamplerName = "ddpm" | "ddim" | "dpmpp";

/** One entry of the sampler registry. */
export interface SamplerEntry {
  /** Runs the sampler. */
  run: (denoise: Denoiser, condition: Tensor, options: SampleOptions) => Promise<Tensor>;
  /** Network calls when none are asked for, or null when the sampler takes every training step. */
  defaultSteps: number | null;
  /** What it is, for help texts. */
  description: string;
}

/** The samplers: the one table the CLI's choices and help, labels and the bench read. */
export const SAMPLERS: Readonly<Record<SamplerName, SamplerEntry>> = {
  ddim: {
    run: sampleDdim,
    defaultSteps: DDIM_DEFAULT_STEPS,
    description: "DDIM on a sub-sampled schedule (arcgis's default, 200 steps)",
  },
  ddpm: { run: sampleDdpm, defaultSteps: null, description: "ancestral DDPM, every training step (slow)" },
  dpmpp: {
    run: sampleDpmpp,
    defaultSteps: DPMPP_DEFAULT_STEPS,
    description: "DPM-Solver++(2M), DDIM-200 quality in 10–25 steps",
  },
};

/** Every {@link SamplerName}. */
export const SAMPLER_NAMES: readonly SamplerName[] = Object.keys(SAMPLERS) as SamplerName[];

/** Runs the named sampler. @throws {RangeError} for an unknown name */
export function sample(
  name: SamplerName,
  denoise: Denoiser,
  condition: Tensor,
  options: SampleOptions,
): Promise<Tensor> {
  const entry = SAMPLERS[name];
  if (!entry) throw new RangeError(`unknown sampler "${name}"; expected one of ${SAMPLER_NAMES.join(", ")}`);
  return entry.run(denoise, condition, options);
}
