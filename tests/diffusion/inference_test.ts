import assert from "node:assert/strict";
import {
  defaultInference,
  inferenceProblem,
  resolveSampling,
  UNRECORDED_DEFAULT,
} from "../../diffusion/inference.ts";

Deno.test("inference presets: the model's default preset, flags override field by field", () => {
  const defaults = defaultInference("residual");
  assert.equal(defaults.preset, "fidelity");
  assert.deepEqual(resolveSampling(defaults, "residual", undefined, {}), defaults.presets.fidelity);
  assert.deepEqual(
    resolveSampling(defaults, "residual", undefined, { samples: 8, seed: 2, samplingSteps: undefined }),
    { ...defaults.presets.fidelity, samples: 8, seed: 2 },
  );
  assert.deepEqual(resolveSampling(defaults, "residual", "perceptual", {}), defaults.presets.perceptual);
  const ddim = resolveSampling(defaults, "residual", "perceptual", { samplingType: "ddim" });
  assert.equal(ddim.samplingType, "ddim");
});

Deno.test("a model.json that records no inference settings keeps DDIM-200 as its default", () => {
  assert.deepEqual(resolveSampling(undefined, "sr3", undefined, {}), UNRECORDED_DEFAULT);
  assert.deepEqual(
    resolveSampling(undefined, "sr3", "fidelity", {}),
    defaultInference("sr3").presets.fidelity,
  );
});

Deno.test("model.json inference blocks are checked", () => {
  assert.equal(inferenceProblem(defaultInference("sr3")), null);
  assert.match(inferenceProblem({ ...defaultInference("sr3"), preset: "best" as "fidelity" })!, /preset/);
  const broken = defaultInference("sr3");
  broken.presets.fidelity = { samplingType: "euler" as "ddim" };
  assert.match(inferenceProblem(broken)!, /unknown sampler/);
});

Deno.test("inference presets: a model.json of sr3 0.1 (network calls recorded as nTimestep) reads the same", () => {
  const legacy = {
    preset: "fidelity" as const,
    presets: {
      fidelity: { samplingType: "ddim" as const, nTimestep: 7, samples: 2 },
      perceptual: { samplingType: "dpmpp" as const, samplingSteps: 20, samples: 1 },
    },
  };
  assert.deepEqual(resolveSampling(legacy, "residual", undefined, {}), {
    samplingType: "ddim",
    samplingSteps: 7,
    samples: 2,
  });
  assert.equal(resolveSampling(legacy, "residual", undefined, { samplingSteps: 3 }).samplingSteps, 3);
});
