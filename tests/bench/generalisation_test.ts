/** `deno task quality` end to end on one window: every method runs through `predict` with its defaults. */
import assert from "node:assert/strict";
import { generalisation, QUALITY_SITES } from "../../bench/generalisation.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

const model = new URL("../../models/naip-x4", import.meta.url).pathname;

Deno.test(
  "generalisation scores bicubic, the mean predictor and the default preset on a held-back NAIP window",
  gpuTest,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await withRuntime(async () => {
        const naip = QUALITY_SITES[0]!;
        const site = { ...naip, windows: naip.windows.slice(0, 1) };
        const results = await generalisation(model, ["fidelity"], dir, [site]);
        const byMethod = results.get(naip.name)!;
        assert.deepEqual([...byMethod.keys()], ["bicubic", "mean", "fidelity"]);
        for (const [method, scores] of byMethod) {
          assert.ok(scores.PSNR > 20 && scores.PSNR < 50, `${method} PSNR ${scores.PSNR}`);
          assert.ok(scores.SSIM > 0.5 && scores.SSIM <= 1, `${method} SSIM ${scores.SSIM}`);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
