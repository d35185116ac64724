import assert from "node:assert/strict";
import { defaultInference, inferenceProblem, resolveSampling } from "../../diffusion/inference.ts";

Deno.test("inference presets: the model's default preset, flags override field by field", () => {
  const defaults = defaultInference("residual");
  assert.equal(defaults.preset, "fidelity");
  assert.deepEqual(resolveSampling(defaults, undefined, {}), defaults.presets.fidelity);
  assert.deepEqual(
    resolveSampling(defaults, undefined, { samples: 8, seed: 2, nTimestep: undefined }),
    { ...defaults.presets.fidelity, samples: 8, seed: 2 },
  );
  assert.deepEqual(resolveSampling(defaults, "perceptual", {}), defaults.presets.perceptual);
  assert.equal(resolveSampling(defaults, "perceptual", { samplingType: "ddim" }).samplingType, "ddim");
});

Deno.test("model.json inference blocks are checked", () => {
  assert.equal(inferenceProblem(defaultInference("sr3")), null);
  assert.match(inferenceProblem({ ...defaultInference("sr3"), preset: "best" as "fidelity" })!, /preset/);
  const broken = defaultInference("sr3");
  broken.presets.fidelity = { samplingType: "euler" as "ddim" };
  assert.match(inferenceProblem(broken)!, /unknown sampler/);
});
