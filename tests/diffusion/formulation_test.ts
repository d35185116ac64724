import assert from "node:assert/strict";
import {
  epsilonFromPrediction,
  epsilonFromValue,
  formulationProblem,
  minSnrWeight,
  PREDICTION_TARGETS,
  SR3_FORMULATION,
  targetValue,
} from "../../diffusion/formulation.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

Deno.test("targets: v = α·ε − σ·x0 on a hand case (α = 0.6, σ = 0.8)", () => {
  assert.equal(targetValue("eps", 0.5, -1, 0.6), -1);
  assert.equal(targetValue("x0", 0.5, -1, 0.6), 0.5);
  // v = 0.6·(−1) − 0.8·0.5 = −1.0
  assert.ok(Math.abs(targetValue("v", 0.5, -1, 0.6) - -1.0) < 1e-12);
});

Deno.test("each target converts back to the ε that made x_t, and x0 = α·x_t − σ·v", () => {
  for (const alpha of [0.05, 0.3, 0.6, 0.95, 0.999]) {
    const sigma = Math.sqrt(1 - alpha * alpha);
    for (const [x0, eps] of [[0.5, -1], [-0.8, 0.3], [0, 2]] as const) {
      const xt = alpha * x0 + sigma * eps;
      for (const target of PREDICTION_TARGETS) {
        const got = epsilonFromValue(target, targetValue(target, x0, eps, alpha), xt, alpha);
        assert.ok(Math.abs(got - eps) < 1e-9, `${target} at α ${alpha}: ${got} vs ${eps}`);
      }
      const v = targetValue("v", x0, eps, alpha);
      assert.ok(Math.abs(alpha * xt - sigma * v - x0) < 1e-12);
    }
  }
});

Deno.test("Min-SNR-γ weights: the published forms on hand cases", () => {
  // α = 0.6: SNR = 0.36/0.64 = 0.5625 < γ = 5.
  assert.ok(Math.abs(minSnrWeight("eps", 0.6, 5) - 1) < 1e-12);
  assert.ok(Math.abs(minSnrWeight("x0", 0.6, 5) - 0.5625) < 1e-12);
  assert.ok(Math.abs(minSnrWeight("v", 0.6, 5) - 0.5625 / 1.5625) < 1e-12);
  // α = 0.99: SNR = 0.9801/0.0199 ≈ 49.25 > γ = 5: clipped.
  const snr = 0.9801 / 0.0199;
  assert.ok(Math.abs(minSnrWeight("eps", 0.99, 5) - 5 / snr) < 1e-12);
  assert.ok(Math.abs(minSnrWeight("x0", 0.99, 5) - 5) < 1e-12);
  assert.ok(Math.abs(minSnrWeight("v", 0.99, 5) - 5 / (snr + 1)) < 1e-12);
  assert.equal(minSnrWeight("v", 0.99, null), 1);
});

Deno.test("formulation checks name the bad field", () => {
  assert.equal(formulationProblem(SR3_FORMULATION), null);
  assert.match(formulationProblem({ ...SR3_FORMULATION, target: "z" as "eps" })!, /prediction target/);
  assert.match(formulationProblem({ ...SR3_FORMULATION, scale: 0 })!, /scale/);
  assert.match(formulationProblem({ ...SR3_FORMULATION, minSnrGamma: -1 })!, /minSnrGamma/);
});

Deno.test("epsilonFromPrediction on the GPU matches the scalar conversion per sample", gpuTest, async () => {
  await withRuntime(async () => {
    const shape = [3, 2, 4, 5];
    const per = 40;
    const levels = [0.2, 0.7, 0.97];
    const xt = randomArray(120, 3);
    const prediction = randomArray(120, 4);
    for (const target of PREDICTION_TARGETS) {
      const eps = epsilonFromPrediction(
        target,
        Tensor.fromArray(prediction, shape),
        Tensor.fromArray(xt, shape),
        Tensor.fromArray(levels, [3]),
      );
      const expected = Array.from(
        xt,
        (x, i) => epsilonFromValue(target, prediction[i]!, x, levels[Math.floor(i / per)]!),
      );
      assertClose(await eps.read(), expected, 1e-5, target);
    }
  });
});
