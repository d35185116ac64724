import assert from "node:assert/strict";
import { residualToImage, sampleRepeated, sampleStatistics } from "../../diffusion/pipeline.ts";
import type { Denoiser } from "../../diffusion/samplers/mod.ts";
import { makeBetaSchedule, scheduleTables } from "../../diffusion/schedule.ts";
import { add, affine, div, mul, square, sub } from "../../nn/ops/elementwise.ts";
import { reshape } from "../../nn/ops/reshape.ts";
import { sqrt } from "../../nn/ops/elementwise.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

const shape = [2, 1, 8, 8];
const schedule = scheduleTables(makeBetaSchedule("linear", 1000, 1e-4, 2e-2));

/**
 * The exact ε̂ for data x0 ~ N(μ, s²) per pixel: E[x0 | x_t] = μ + α·s²/(α²s² + σ²)·(x_t − α·μ), and
 * ε̂ = (x_t − α·E[x0 | x_t])/σ, with μ passed as the condition (so it is replicated with the batch). A
 * correct sampler draws x0 from N(μ, s²) with it.
 */
function gaussianDenoiser(s: number): Denoiser {
  return (x, mu, levels) => {
    const alpha = reshape(levels, [levels.size, 1, 1, 1]);
    const sigma2 = affine(square(alpha), -1, 1);
    const gain = div(affine(alpha, s * s), add(affine(square(alpha), s * s), sigma2));
    const x0 = add(mu, mul(gain, sub(x, mul(alpha, mu))));
    return div(sub(x, mul(alpha, x0)), sqrt(sigma2));
  };
}

Deno.test("sampleStatistics: mean and standard deviation over K on a hand case", () => {
  // K = 2 batches of 2 values: (1, 4) and (3, 8) → means (2, 6), population std (1, 2).
  const { mean, std } = sampleStatistics(new Float32Array([1, 4, 3, 8]), 2);
  assert.deepEqual([...mean], [2, 6]);
  assert.deepEqual([...std], [1, 2]);
});

Deno.test(
  "K samples of a Gaussian posterior: their mean is the posterior mean, their spread its std",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      const mu = Tensor.fromArray(randomArray(128, 4, -0.3, 0.3), shape);
      const muHost = await mu.read();
      const s = 0.2;
      const k = 32;
      for (const sampler of ["ddpm", "ddim"] as const) {
        const samples = await sampleRepeated(sampler, gaussianDenoiser(s), mu, k, {
          schedule,
          steps: 100,
          seed: 3,
          clip: false,
        });
        assert.equal(samples.length, 128 * k);
        const { mean, std } = sampleStatistics(samples, k);
        const errors = Array.from(mean, (m, i) => m - muHost[i]!);
        const bias = errors.reduce((a, b) => a + b, 0) / errors.length;
        const rms = Math.sqrt(errors.reduce((a, b) => a + b * b, 0) / errors.length);
        const spread = std.reduce((a, b) => a + b, 0) / std.length;
        // Expected: bias ~ s/√(128·32) ≈ 0.003, rms ≈ s/√32 ≈ 0.035, spread ≈ s·√(31/32) ≈ 0.197.
        assert.ok(Math.abs(bias) < 0.015, `${sampler}: bias ${bias}`);
        assert.ok(rms < 0.06, `${sampler}: rms ${rms}`);
        assert.ok(spread > 0.17 && spread < 0.23, `${sampler}: spread ${spread}`);
      }
    });
  },
);

Deno.test(
  "residual round trip: the exact residual sampled from r = 0 at γ = 0.5 gives back HR = m + r/s",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      const hr = randomArray(128, 8, -0.9, 0.9);
      const mean = randomArray(128, 9, -0.9, 0.9);
      const scale = 7.5;
      const residual = Float32Array.from(hr, (v, i) => (v - mean[i]!) * scale);
      // The exact ε̂ for data that is always the condition (here the residual, replicated with the batch).
      const exact: Denoiser = (x, target, levels) => {
        const gamma = reshape(levels, [levels.size, 1, 1, 1]);
        return div(sub(x, mul(gamma, target)), sqrt(affine(square(gamma), -1, 1)));
      };
      const samples = await sampleRepeated(
        "dpmpp",
        exact,
        Tensor.fromArray(residual, shape),
        2,
        { schedule, steps: 10, seed: 1, clip: false, startNoiseLevel: 0.5, startFrom: Tensor.zeros(shape) },
      );
      const images = residualToImage(samples, mean, scale);
      assertClose(images.subarray(0, 128), hr, 1e-4, "first copy");
      assertClose(images.subarray(128), hr, 1e-4, "second copy");
    });
  },
);
