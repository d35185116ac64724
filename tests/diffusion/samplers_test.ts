import assert from "node:assert/strict";
import { closedFormDenoiser } from "../../diffusion/denoisers.ts";
import { makeBetaSchedule, type ScheduleName, scheduleTables } from "../../diffusion/schedule.ts";
import { ddimPlan, sample, type SamplerName } from "../../diffusion/samplers/mod.ts";
import { Tensor } from "../../nn/tensor.ts";
import { affine, div, mul, sqrt, square, sub } from "../../nn/ops/elementwise.ts";
import { randomNormal } from "../../nn/ops/random.ts";
import { reshape } from "../../nn/ops/reshape.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

const shape = [2, 3, 5, 7];

Deno.test(
  "every sampler returns the one known image from any seed (closed-form denoiser)",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      const target = Tensor.fromArray(randomArray(210, 1, -0.9, 0.9), shape);
      const expected = await target.read();
      const condition = Tensor.zeros(shape);
      const cases: [ScheduleName, SamplerName, number | undefined][] = [
        ["linear", "ddpm", undefined],
        ["linear", "ddim", 50],
        ["linear", "dpmpp", 10],
        ["cosine", "ddim", 20],
        ["cosine", "dpmpp", 15],
        ["jsd", "ddim", 25],
      ];
      for (const [scheduleName, sampler, steps] of cases) {
        const schedule = scheduleTables(makeBetaSchedule(scheduleName, 200, 1e-4, 2e-2));
        for (const seed of [0, 17]) {
          const before = rt.counters().readbacks;
          const result = await sample(sampler, closedFormDenoiser(target), condition, {
            schedule,
            steps,
            seed,
          });
          assert.equal(rt.counters().readbacks, before, "the sampling loop reads nothing back");
          assertClose(await result.read(), expected, 2e-3, `${sampler} on ${scheduleName}, seed ${seed}`);
          result.dispose();
        }
      }
    });
  },
);

Deno.test("samplers are reproducible for a fixed seed and differ across seeds", gpuTest, async () => {
  await withRuntime(async () => {
    const schedule = scheduleTables(makeBetaSchedule("linear", 100, 1e-4, 2e-2));
    // A denoiser that is wrong on purpose (predicts zero noise) keeps the seed visible in the output.
    const zeroNoise = (x: Tensor): Tensor => Tensor.zeros(x.shape);
    const condition = Tensor.zeros(shape);
    const run = async (seed: number): Promise<Float32Array> => {
      const out = await sample("ddim", zeroNoise, condition, { schedule, steps: 10, seed, eta: 1 });
      const values = await out.read();
      out.dispose();
      return values;
    };
    assert.deepEqual(await run(3), await run(3));
    assert.notDeepEqual(await run(3), await run(4));
  });
});

Deno.test("DDIM sub-samples the training schedule and starts from pure noise", () => {
  const schedule = scheduleTables(makeBetaSchedule("linear", 2000, 1e-6, 1e-2));
  const plan = ddimPlan({ schedule, steps: 200 });
  assert.equal(plan.steps.length, 200);
  assert.equal(plan.startLevel, 1);
  // The first call is at the last training level, whose γ = √ᾱ_T is near 0 (not ≈0.6 as a rebuilt schedule).
  assert.ok(plan.steps[0]!.level < 0.01, `first level ${plan.steps[0]!.level}`);
  assert.equal(plan.steps[0]!.level, Math.sqrt(schedule.alphasCumprod[1999]!));
  // Every-10th level: the second call is at t = 1990.
  assert.equal(plan.steps[1]!.level, Math.sqrt(schedule.alphasCumprod[1989]!));
  // The last step lands on the data (ᾱ' = 1): x = x̂0.
  const last = plan.steps[199]!;
  assert.equal(last.a, 1);
  assert.equal(last.b, 0);
});

Deno.test("a truncated start begins at the requested noise level from the noised condition", () => {
  const schedule = scheduleTables(makeBetaSchedule("linear", 2000, 1e-6, 1e-2));
  const plan = ddimPlan({ schedule, steps: 50, startNoiseLevel: 0.5 });
  assert.ok(Math.abs(plan.startLevel - 0.5) < 0.01, `start level ${plan.startLevel}`);
  assert.equal(plan.steps[0]!.level, plan.startLevel);
  assert.equal(plan.steps.length, 50);
});

Deno.test("deterministic samplers integrate the flow exactly for Gaussian data", gpuTest, async () => {
  await withRuntime(async () => {
    // Data x0 ~ N(μ, s²) per pixel. Then x_t ~ N(γμ, v) with v = γ²s² + 1 − γ², the optimal
    // ε̂ = √(1−γ²)(x − γμ)/v, and the probability-flow ODE maps x_T to x_0 = μ + s·(x_T − γ_Tμ)/√v_T.
    const s = 0.3;
    const mu = Tensor.fromArray(randomArray(210, 5, -0.5, 0.5), shape);
    const muHost = await mu.read();
    const gaussianDenoiser = (x: Tensor, _c: Tensor, levels: Tensor): Tensor => {
      const gamma = reshape(levels, [levels.size, 1, 1, 1]);
      const g2 = square(gamma);
      const v = affine(g2, s * s - 1, 1);
      const noiseScale = sqrt(affine(g2, -1, 1));
      return div(mul(noiseScale, sub(x, mul(gamma, mu))), v);
    };
    const schedule = scheduleTables(makeBetaSchedule("linear", 1000, 1e-4, 2e-2));
    const gammaT = Math.sqrt(schedule.alphasCumprod[999]!);
    const vT = gammaT * gammaT * s * s + 1 - gammaT * gammaT;
    const start = await randomNormal(shape, 9, 0).read();
    const expected = start.map((z, i) => muHost[i]! + (s * (z - gammaT * muHost[i]!)) / Math.sqrt(vT));
    const condition = Tensor.zeros(shape);
    const maxError = async (sampler: SamplerName, steps: number): Promise<number> => {
      const out = await sample(sampler, gaussianDenoiser, condition, {
        schedule,
        steps,
        seed: 9,
        clip: false,
      });
      const values = await out.read();
      out.dispose();
      return values.reduce((worst, v, i) => Math.max(worst, Math.abs(v - expected[i]!)), 0);
    };
    const ddim200 = await maxError("ddim", 200);
    const dpmpp20 = await maxError("dpmpp", 20);
    const dpmpp50 = await maxError("dpmpp", 50);
    // DDIM is first order; DPM-Solver++(2M) is second order and beats DDIM-200 with 20 calls.
    assert.ok(ddim200 < 0.03, `DDIM-200 error ${ddim200}`);
    assert.ok(dpmpp20 < ddim200, `DPM-Solver++-20 error ${dpmpp20} vs DDIM-200 ${ddim200}`);
    assert.ok(dpmpp50 < 3e-3, `DPM-Solver++-50 error ${dpmpp50}`);
    // DDPM is stochastic: its samples must have the data's mean and spread.
    const big = [8, 1, 32, 32];
    const zero = Tensor.zeros(big);
    const centred = (x: Tensor, _c: Tensor, levels: Tensor): Tensor => {
      const gamma = reshape(levels, [levels.size, 1, 1, 1]);
      const g2 = square(gamma);
      return div(mul(sqrt(affine(g2, -1, 1)), x), affine(g2, s * s - 1, 1));
    };
    const ddpm = await (await sample("ddpm", centred, zero, { schedule, seed: 2, clip: false })).read();
    const m = ddpm.reduce((a, b) => a + b, 0) / ddpm.length;
    const sd = Math.sqrt(ddpm.reduce((a, b) => a + (b - m) ** 2, 0) / ddpm.length);
    assert.ok(Math.abs(m) < 0.02, `DDPM sample mean ${m}`);
    assert.ok(Math.abs(sd - s) < 0.02, `DDPM sample std ${sd} vs ${s}`);
  });
});
