/**
 * Inference presets — the one registry of them. A model.json records the settings recommended for its
 * model under each preset and which preset is the default; `sr3 upscale`, `sr3 eval` and `predict()`
 * use them when no sampler flag is given, and flags override them field by field.
 *
 * - `fidelity`: the best PSNR/SSIM a diffusion setting reaches — a truncated start from the mean
 *   (residual models) or the bicubic image, few steps, and the average of K samples (their spread is the
 *   uncertainty map).
 * - `perceptual`: the sharpest detail — one sample from pure noise with DPM-Solver++.
 * @module
 */
import { SAMPLER_NAMES } from "./samplers/mod.ts";
import type { FormulationKind } from "./formulation.ts";
import type { SamplingSettings } from "./pipeline.ts";

/** Preset names. */
export type InferencePreset = "fidelity" | "perceptual";

/** Every preset, with what it is for (help texts). */
export const INFERENCE_PRESETS: Readonly<Record<InferencePreset, string>> = {
  fidelity: "best PSNR/SSIM of diffusion: start from the noised mean (or bicubic), average several samples",
  perceptual: "sharpest detail: one sample from pure noise",
};

/** Settings a preset fixes (everything of {@link SamplingSettings} but callbacks). */
export type PresetSettings = Omit<SamplingSettings, "onProgress">;

/** model.json `inference`: the default preset and the settings of each. */
export interface InferenceDefaults {
  /** The preset used when none is named. */
  preset: InferencePreset;
  /** Settings per preset. */
  presets: Record<InferencePreset, PresetSettings>;
}

/** What a model gets before anyone measures better settings for it. */
export function defaultInference(kind: FormulationKind): InferenceDefaults {
  // Plain SR3 starts from the noised bicubic image, which needs more steps to move away from it.
  const fidelity: PresetSettings = kind === "residual"
    ? { samplingType: "ddim", samplingSteps: 10, startNoiseLevel: 0.5, samples: 4 }
    : { samplingType: "dpmpp", samplingSteps: 20, startNoiseLevel: 0.5, samples: 4 };
  return {
    preset: "fidelity",
    presets: { fidelity, perceptual: { samplingType: "dpmpp", samplingSteps: 20, samples: 1 } },
  };
}

/** Checks model.json's `inference`. @returns a problem, or null */
export function inferenceProblem(inference: InferenceDefaults): string | null {
  if (!(inference.preset in INFERENCE_PRESETS)) {
    return `unknown inference preset ${JSON.stringify(inference.preset)}`;
  }
  for (const name of Object.keys(INFERENCE_PRESETS) as InferencePreset[]) {
    const settings = inference.presets?.[name];
    if (!settings) return `inference.presets has no "${name}"`;
    const type = settings.samplingType;
    if (type !== undefined && type !== "mean" && !SAMPLER_NAMES.includes(type)) {
      return `inference.presets.${name}: unknown sampler ${JSON.stringify(type)}`;
    }
  }
  return null;
}

/** What a model.json without an `inference` block (sr3 before 0.2) runs with no preset named: arcgis's DDIM-200. */
export const UNRECORDED_DEFAULT: PresetSettings = { samplingType: "ddim", samplingSteps: 200 };

/**
 * The settings to run: the named preset's (default: the model's default preset; for a model.json that
 * records no `inference`, {@link UNRECORDED_DEFAULT}) with every defined field of `overrides` on top.
 */
export function resolveSampling(
  recorded: InferenceDefaults | undefined,
  kind: FormulationKind,
  preset: InferencePreset | undefined,
  overrides: SamplingSettings,
): SamplingSettings {
  const base = recorded
    ? recordedPreset(recorded.presets[preset ?? recorded.preset])
    : preset
    ? defaultInference(kind).presets[preset]
    : UNRECORDED_DEFAULT;
  return { ...base, ...definedFields(overrides) };
}

/** A preset as model.json holds it: sr3 0.1 wrote the network calls as `nTimestep`. */
function recordedPreset(settings: PresetSettings & { nTimestep?: number }): PresetSettings {
  const { nTimestep, ...rest } = settings;
  return nTimestep === undefined || rest.samplingSteps !== undefined
    ? rest
    : { ...rest, samplingSteps: nTimestep };
}

/** The fields of `value` that are set: spread over defaults, an unset option must not erase one. */
export function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
