/**
 * Denoisers for the samplers: the UNet (condition and noisy image concatenated, as SR3 trains it) and
 * the closed-form optimum for data that is a single known image, which the tests use to check that
 * every sampler integrates the diffusion correctly.
 * @module
 */
import { affine, div, mul, sqrt, square, sub } from "../nn/ops/elementwise.ts";
import { reshape } from "../nn/ops/reshape.ts";
import { concat } from "../nn/ops/shape.ts";
import type { Tensor } from "../nn/tensor.ts";
import type { UNet } from "../nn/unet.ts";
import { epsilonFromPrediction, type PredictionTarget } from "./formulation.ts";
import type { Denoiser } from "./samplers/plan.ts";

/**
 * ε̂ from UNet(concat([condition, x]), γ): the output itself for an ε-predicting UNet, converted for one
 * that predicts x0 or v ({@link epsilonFromPrediction}).
 */
export function unetDenoiser(model: UNet, target: PredictionTarget = "eps"): Denoiser {
  return (x, condition, noiseLevels) =>
    epsilonFromPrediction(target, model.forward(concat([condition, x], 1), noiseLevels), x, noiseLevels);
}

/**
 * The exact ε for data that is always `target`: x = γ·x* + √(1−γ²)·ε, so ε̂ = (x − γ·x*)/√(1−γ²).
 * Any correct sampler driven by it returns x* from any seed.
 */
export function closedFormDenoiser(target: Tensor): Denoiser {
  return (x: Tensor, _condition: Tensor, noiseLevels: Tensor) => {
    const gamma = reshape(noiseLevels, [noiseLevels.size, 1, 1, 1]);
    const sigma = sqrt(affine(square(gamma), -1, 1));
    return div(sub(x, mul(gamma, target)), sigma);
  };
}
