/**
 * What the UNet diffuses and predicts — the one registry of formulations (stored in model.json):
 *
 * - `sr3` (the paper, the default): diffuse the HR image x0, condition on its bicubic upsampling.
 * - `residual` (SRDiff, Li et al. 2022; SR3's regression baseline as the mean): a mean predictor m
 *   (nn/mean_net.ts) estimates the HR image; the UNet diffuses r = (HR − m)·s conditioned on m, and the
 *   output is m + r̂/s. The scale s makes r roughly unit-variance (s = 1/RMS(HR − m) over training
 *   chips, measured when the diffusion stage starts: residual_scale.ts), which is what a
 *   variance-preserving diffusion assumes of its data: unscaled, the bundled model's residuals would be
 *   ~19× smaller than the noise (s = 18.7) and drowned in it.
 *
 * Either can predict ε, x0 or v (Salimans & Ho 2022), with optional Min-SNR-γ loss weights (Hang et al.
 * 2023). With x_t = α·x0 + σ·ε, α = γ = √ᾱ, σ = √(1 − α²): v = α·ε − σ·x0, x0 = α·x_t − σ·v,
 * ε = σ·x_t + α·v. Samplers always receive ε̂ ({@link epsilonFromPrediction}).
 * @module
 */
import { add, affine, div, mul, sqrt, square, sub } from "../nn/ops/elementwise.ts";
import { reshape } from "../nn/ops/reshape.ts";
import type { Tensor } from "../nn/tensor.ts";

/** What the network predicts. */
export type PredictionTarget = "eps" | "x0" | "v";

/** Every {@link PredictionTarget}. */
export const PREDICTION_TARGETS: readonly PredictionTarget[] = ["eps", "x0", "v"];

/** Formulation names. */
export type FormulationKind = "sr3" | "residual";

/** Every formulation, with what it is (for help texts). */
export const FORMULATIONS: Readonly<Record<FormulationKind, string>> = {
  sr3: "the paper's: diffuse the HR image, conditioned on bicubic (default)",
  residual: "train a mean predictor, then diffuse HR − mean conditioned on the mean (beats bicubic sooner)",
};

/** The formulation of a model (model.json `formulation`). */
export interface Formulation {
  /** What is diffused. */
  kind: FormulationKind;
  /** What the UNet predicts. */
  target: PredictionTarget;
  /** Min-SNR-γ loss weighting, or null for none. */
  minSnrGamma: number | null;
  /** Residual scale s (residual only; 1 until the diffusion stage measures it). */
  scale: number;
}

/** The paper's formulation: what a model.json without `formulation` means. */
export const SR3_FORMULATION: Formulation = { kind: "sr3", target: "eps", minSnrGamma: null, scale: 1 };

/** Checks a formulation read from a file. @returns a problem, or null */
export function formulationProblem(f: Formulation): string | null {
  if (!(f.kind in FORMULATIONS)) return `unknown formulation ${JSON.stringify(f.kind)}`;
  if (!PREDICTION_TARGETS.includes(f.target)) return `unknown prediction target ${JSON.stringify(f.target)}`;
  if (f.minSnrGamma !== null && !(f.minSnrGamma > 0)) return `minSnrGamma must be > 0, got ${f.minSnrGamma}`;
  if (!(f.scale > 0) || !Number.isFinite(f.scale)) {
    return `residual scale must be finite and > 0, got ${f.scale}`;
  }
  return null;
}

/** σ = √(1 − α²) for a noise level α = √ᾱ. */
export function sigmaOf(alpha: number): number {
  return Math.sqrt(Math.max(0, 1 - alpha * alpha));
}

/** The training target for one value: ε, x0 or v = α·ε − σ·x0. */
export function targetValue(target: PredictionTarget, x0: number, eps: number, alpha: number): number {
  if (target === "eps") return eps;
  if (target === "x0") return x0;
  return alpha * eps - sigmaOf(alpha) * x0;
}

/** ε from a prediction of `target` at x_t, level α (the scalar form of {@link epsilonFromPrediction}). */
export function epsilonFromValue(
  target: PredictionTarget,
  prediction: number,
  xt: number,
  alpha: number,
): number {
  const sigma = sigmaOf(alpha);
  if (target === "eps") return prediction;
  if (target === "x0") return (xt - alpha * prediction) / sigma;
  return sigma * xt + alpha * prediction;
}

/**
 * Min-SNR-γ weight of a sample's loss at level α (SNR = α²/σ²): ε-target min(SNR, γ)/SNR, x0-target
 * min(SNR, γ), v-target min(SNR, γ)/(SNR + 1); 1 without weighting.
 */
export function minSnrWeight(target: PredictionTarget, alpha: number, gamma: number | null): number {
  if (gamma === null) return 1;
  const sigma2 = Math.max(1 - alpha * alpha, 1e-12);
  const snr = (alpha * alpha) / sigma2;
  const clipped = Math.min(snr, gamma);
  if (target === "eps") return clipped / snr;
  if (target === "x0") return clipped;
  return clipped / (snr + 1);
}

/**
 * ε̂ from the network's prediction at `xt` [N, C, H, W] with per-sample levels α [N] (a tape-free
 * composition of elementwise ops; ε passes through untouched).
 */
export function epsilonFromPrediction(
  target: PredictionTarget,
  prediction: Tensor,
  xt: Tensor,
  levels: Tensor,
): Tensor {
  if (target === "eps") return prediction;
  const alpha = reshape(levels, [levels.size, 1, 1, 1]);
  const sigma = sqrt(affine(square(alpha), -1, 1));
  if (target === "x0") return div(sub(xt, mul(alpha, prediction)), sigma);
  return add(mul(sigma, xt), mul(alpha, prediction));
}
