/**
 * The samplers behind one interface: pick by name, pass any {@link Denoiser}.
 * @module
 */
import type { Tensor } from "../../nn/tensor.ts";
import { sampleDdim } from "./ddim.ts";
import { sampleDdpm } from "./ddpm.ts";
import { sampleDpmpp } from "./dpmpp.ts";
import type { Denoiser, SampleOptions } from "./plan.ts";

export { DDIM_DEFAULT_STEPS, ddimPlan, sampleDdim } from "./ddim.ts";
export { ddpmPlan, sampleDdpm } from "./ddpm.ts";
export { DPMPP_DEFAULT_STEPS, dpmppPlan, sampleDpmpp } from "./dpmpp.ts";
export type { Denoiser, PlanStep, SampleOptions, SamplingPlan } from "./plan.ts";

/** Sampler names as the CLI and `sampling_type` spell them. */
export type SamplerName = "ddpm" | "ddim" | "dpmpp";

/** Every {@link SamplerName}. */
export const SAMPLER_NAMES: readonly SamplerName[] = ["ddim", "ddpm", "dpmpp"];

/** Runs the named sampler. */
export function sample(
  name: SamplerName,
  denoise: Denoiser,
  condition: Tensor,
  options: SampleOptions,
): Promise<Tensor> {
  switch (name) {
    case "ddpm":
      return sampleDdpm(denoise, condition, options);
    case "ddim":
      return sampleDdim(denoise, condition, options);
    case "dpmpp":
      return sampleDpmpp(denoise, condition, options);
    default:
      throw new RangeError(`unknown sampler "${name}"; expected one of ${SAMPLER_NAMES.join(", ")}`);
  }
}
