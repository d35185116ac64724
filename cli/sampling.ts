/**
 * The sampling flags `sr3 upscale` and `sr3 eval` share, from the sampler and preset registries: no
 * flag means the model's recommended preset (model.json `inference`); each flag overrides one field.
 * @module
 */
import { Option } from "../deps.ts";
import { INFERENCE_PRESETS, type InferencePreset } from "../diffusion/inference.ts";
import type { SamplingSettings } from "../diffusion/pipeline.ts";
import { SAMPLER_NAMES, type SamplerName, SAMPLERS } from "../diffusion/samplers/mod.ts";
import { parseNonNegativeInt, parseNumberIn, parsePositiveInt } from "./common.ts";

/** `--preset`: fidelity or perceptual (default: the model's). */
export function presetOption() {
  const names = Object.keys(INFERENCE_PRESETS) as InferencePreset[];
  return new Option(
    "--preset <name>",
    `inference preset (default: the model's): ${
      names.map((n) => `${n}: ${INFERENCE_PRESETS[n]}`).join("; ")
    }`,
  ).choices(names);
}

/** `--sampling-type`: a sampler, or the mean predictor alone. */
export function samplerOption() {
  const samplers = SAMPLER_NAMES.map((name) => `${name}: ${SAMPLERS[name].description}`);
  return new Option(
    "--sampling-type <name>",
    `${samplers.join("; ")}; mean: the mean predictor alone (residual models)`,
  ).choices([...SAMPLER_NAMES, "mean"] as (SamplerName | "mean")[]);
}

/** `--sampling-steps`: network calls (`--n-timestep` is the training schedule's length T). */
export function stepsOption() {
  return new Option("--sampling-steps <n>", "sampler steps, i.e. network calls (default: the preset's)")
    .argParser(parsePositiveInt);
}

/** `--start-noise-level`. */
export function startOption() {
  return new Option(
    "--start-noise-level <gamma>",
    "start from the mean (residual models) or bicubic image noised to signal level γ = √ᾱ in (0, 1); higher = less noise",
  ).argParser(parseNumberIn({ min: 0, max: 1, minExclusive: true, maxExclusive: true }));
}

/** `--samples`. */
export function samplesOption() {
  return new Option("--samples <k>", "samples averaged per tile; their spread is the uncertainty")
    .argParser(parsePositiveInt);
}

/** `--seed`. */
export function seedOption() {
  return new Option("--seed <n>", "sampler seed").argParser(parseNonNegativeInt).default(0);
}

/** The settings the shared flags name (undefined fields fall back to the preset). */
export function samplingFlags(options: {
  samplingType?: SamplerName | "mean";
  samplingSteps?: number;
  startNoiseLevel?: number;
  samples?: number;
  seed?: number;
  eta?: number;
}): SamplingSettings {
  return {
    samplingType: options.samplingType,
    samplingSteps: options.samplingSteps,
    startNoiseLevel: options.startNoiseLevel,
    samples: options.samples,
    seed: options.seed,
    eta: options.eta,
  };
}
