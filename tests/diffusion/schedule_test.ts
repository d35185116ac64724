import assert from "node:assert/strict";
import { makeBetaSchedule, sampleNoiseLevels, scheduleTables } from "../../diffusion/schedule.ts";
import { assertClose } from "../helpers/check.ts";
import { makeRng } from "../helpers/random.ts";

Deno.test("linear, quad, const and warmup schedules equal hand-computed values", () => {
  assertClose(makeBetaSchedule("linear", 5, 0.1, 0.5), [0.1, 0.2, 0.3, 0.4, 0.5], 1e-15, "linear");
  // numpy: np.linspace(1e-4**0.5, 2e-2**0.5, 5)**2
  assertClose(
    makeBetaSchedule("quad", 5, 1e-4, 2e-2),
    [0.0001, 0.0018365800858899106, 0.005732106781186546, 0.011786580085889908, 0.02],
    1e-15,
    "quad",
  );
  assertClose(makeBetaSchedule("const", 3, 0.1, 0.02), [0.02, 0.02, 0.02], 0, "const");
  // warmup10 over 20 steps: the first int(0.1·20) = 2 entries are linspace(start, end, 2).
  const warm10 = makeBetaSchedule("warmup10", 20, 1e-4, 2e-2);
  assert.deepEqual([...warm10.slice(0, 3)], [1e-4, 2e-2, 2e-2]);
  const warm50 = makeBetaSchedule("warmup50", 6, 0.0, 0.3);
  assertClose(warm50, [0, 0.15, 0.3, 0.3, 0.3, 0.3], 1e-15, "warmup50");
});

Deno.test("jsd schedule reaches ᾱ_T = 0 without NaN in any table", () => {
  const betas = makeBetaSchedule("jsd", 4);
  assertClose(betas, [1 / 4, 1 / 3, 1 / 2, 1], 1e-15, "jsd betas");
  const tables = scheduleTables(betas);
  assertClose(tables.alphasCumprod, [0.75, 0.5, 0.25, 0], 1e-15, "jsd ᾱ");
  for (const [name, table] of Object.entries(tables)) {
    assert.ok((table as Float64Array).every(Number.isFinite), `${name} is finite`);
  }
  // β_T(1 − ᾱ_{T−1})/(1 − ᾱ_T) = 1·0.75/1.
  assert.equal(tables.posteriorVariance[3], 0.75);
});

Deno.test("cosine schedule follows Nichol & Dhariwal with the 0.999 cap", () => {
  // Python: s=0.008; a(t)=cos(((t/T)+s)/(1+s)·π/2)²; [min(1-a(t+1)/a(t), 0.999) for t in range(4)]
  assertClose(
    makeBetaSchedule("cosine", 4),
    [0.1529878386730953, 0.41695808751199426, 0.7078587123971634, 0.999],
    1e-13,
    "cosine",
  );
});

Deno.test("derived tables: ᾱ, √ᾱ_prev and posterior coefficients", () => {
  const tables = scheduleTables(makeBetaSchedule("linear", 5, 0.1, 0.5));
  assertClose(tables.alphasCumprod, [0.9, 0.72, 0.504, 0.3024, 0.1512], 1e-14, "ᾱ");
  assertClose(tables.alphasCumprodPrev, [1, 0.9, 0.72, 0.504, 0.3024], 1e-14, "ᾱ_prev");
  assertClose(
    tables.sqrtAlphasCumprodPrev,
    [1, 0.9, 0.72, 0.504, 0.3024, 0.1512].map(Math.sqrt),
    1e-14,
    "√ᾱ_prev",
  );
  // t = 2: β = 0.2, ᾱ = 0.72, ᾱ_prev = 0.9.
  assertClose([tables.posteriorVariance[1]!], [(0.2 * 0.1) / 0.28], 1e-14, "posterior variance");
  assertClose([tables.posteriorMeanCoef1[1]!], [(0.2 * Math.sqrt(0.9)) / 0.28], 1e-14, "coef1");
  assertClose([tables.posteriorMeanCoef2[1]!], [(0.1 * Math.sqrt(0.8)) / 0.28], 1e-14, "coef2");
});

Deno.test("training noise levels fall inside one schedule interval each", () => {
  const tables = scheduleTables(makeBetaSchedule("linear", 2000, 1e-6, 1e-2));
  const levels = sampleNoiseLevels(tables, 4096, makeRng(5));
  const bounds = tables.sqrtAlphasCumprodPrev;
  for (const level of levels) {
    assert.ok(level <= 1 && level >= bounds[2000]! - 1e-7, `level ${level} in [√ᾱ_T, 1]`);
  }
  // Uniform over t means the median level sits near √ᾱ at T/2.
  const sorted = [...levels].sort((a, b) => a - b);
  const median = sorted[2048]!;
  assert.ok(Math.abs(median - bounds[1000]!) < 0.05, `median ${median} near ${bounds[1000]}`);
});
