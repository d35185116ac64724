import assert from "node:assert/strict";
import { exportTiles } from "../../data/export.ts";
import { prepareData, SuperResolution } from "../../diffusion/super_resolution.ts";
import { readModelDefinition } from "../../diffusion/model_dir.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

const raster = new URL("../../testdata/deepforest-aerial/OSBS_029.tif", import.meta.url).pathname;
const small = {
  preset: "tiny",
  innerChannel: 8,
  normGroups: 4,
  channelMults: [1, 2],
  attnRes: [8],
  resBlocks: 1,
  formulation: "residual",
  meanNet: { features: 4, blocks: 1 },
} as const;

Deno.test(
  "residual model: mean stage, then UNet; interrupted in either stage it resumes bit for bit",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      const dir = await Deno.makeTempDir();
      await exportTiles({ hrPath: raster, outDir: `${dir}/chips`, chipSize: 32 });
      const options = { chipSize: 16, downsampleFactor: 4, batchSize: 2, valSplitPct: 10, seed: 3 };
      const data = () => prepareData(`${dir}/chips`, options);
      const fit = {
        lr: 1e-3,
        meanLr: 1e-3,
        meanSteps: 6,
        logEvery: 3,
        validateEvery: 0,
        progress: false,
        handleSignals: false,
        seed: 5,
      };

      const straight = await SuperResolution.create(await data(), small);
      await straight.fit(undefined, { ...fit, outDir: `${dir}/straight`, steps: 6, checkpointEvery: 3 });
      const definition = await readModelDefinition(`${dir}/straight`);
      assert.equal(definition.formulation?.kind, "residual");
      assert.equal(definition.formulation?.target, "v");
      assert.ok(definition.formulation!.scale > 1, `residual scale ${definition.formulation?.scale}`);
      assert.equal(definition.training?.stage, "diffusion");
      assert.equal(definition.training?.meanStep, 6);
      assert.equal(definition.inference?.preset, "fidelity");

      // Interrupted twice: by a time limit after the first mean step (a checkpoint inside the mean stage),
      // and after 3 UNet steps; each time a fresh object resumes from the checkpoint.
      let run = await SuperResolution.create(await data(), small);
      await run.fit(undefined, {
        ...fit,
        meanSteps: 6,
        outDir: `${dir}/resumed`,
        steps: 1,
        checkpointEvery: 3,
        maxSeconds: 0,
      });
      run.dispose();
      const midMean = await readModelDefinition(`${dir}/resumed`);
      assert.equal(midMean.training?.stage, "mean");
      assert.equal(midMean.training?.meanStep, 1);
      run = await SuperResolution.fromModel(`${dir}/resumed`, await data(), { resume: true });
      await run.fit(undefined, { ...fit, outDir: `${dir}/resumed`, steps: 3, checkpointEvery: 3 });
      run.dispose();
      assert.equal((await readModelDefinition(`${dir}/resumed`)).training?.step, 3);
      run = await SuperResolution.fromModel(`${dir}/resumed`, await data(), { resume: true });
      await run.fit(undefined, { ...fit, outDir: `${dir}/resumed`, steps: 3, checkpointEvery: 3 });

      const weights = (name: string) =>
        Deno.readFile(`${dir}/${name}/checkpoints/step-00000006/weights.safetensors`);
      assert.deepEqual(
        await weights("resumed"),
        await weights("straight"),
        "UNet and mean weights bit for bit",
      );
      const ema = (name: string) => Deno.readFile(`${dir}/${name}/checkpoints/step-00000006/ema.safetensors`);
      assert.deepEqual(await ema("resumed"), await ema("straight"), "EMA bit for bit");
      assert.equal(
        (await readModelDefinition(`${dir}/resumed`)).formulation?.scale,
        definition.formulation?.scale,
      );

      // Inference: the mean alone, and K samples with their spread.
      const metrics = await run.computeMetrics({ samplingType: "mean", maxChips: 2 });
      assert.ok(metrics.mean && metrics.mean.PSNR === metrics.sr3.PSNR);
      const k = await run.computeMetrics({
        samplingType: "ddim",
        samplingSteps: 3,
        startNoiseLevel: 0.5,
        samples: 2,
        maxChips: 2,
      });
      assert.ok(Number.isFinite(k.sr3.PSNR) && k.mean !== undefined);
      for (const sr of [straight, run]) sr.dispose();
      await Deno.remove(dir, { recursive: true });
    });
  },
);
