import assert from "node:assert/strict";
import { exportTiles } from "../../data/export.ts";
import { prepareData, SuperResolution } from "../../diffusion/super_resolution.ts";
import { readModelDefinition } from "../../diffusion/model_dir.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

const raster = new URL("../../testdata/deepforest-aerial/OSBS_029.tif", import.meta.url).pathname;

/** A model small enough to train hundreds of steps in seconds on the software adapter. */
const small = {
  preset: "tiny",
  innerChannel: 8,
  normGroups: 4,
  channelMults: [1, 2],
  attnRes: [8],
  resBlocks: 1,
} as const;

async function chips(dir: string): Promise<string> {
  await exportTiles({ hrPath: raster, outDir: `${dir}/chips`, chipSize: 32 });
  return `${dir}/chips`;
}

Deno.test("overfitting one batch: the loss falls clearly within a few hundred steps", gpuTest, async () => {
  await withRuntime(async () => {
    const dir = await Deno.makeTempDir();
    const data = await prepareData(await chips(dir), {
      chipSize: 16,
      downsampleFactor: 4,
      batchSize: 2,
      valSplitPct: 2,
    });
    // One chip pair seen over and over: restrict training to the first batch by re-restoring the order.
    const sr = await SuperResolution.create(data, { ...small, seed: 1 });
    const first = data.dataset.state;
    const losses: number[] = [];
    for (let round = 0; round < 30; round++) {
      data.dataset.restore(first);
      const result = await sr.fit(undefined, {
        outDir: `${dir}/model`,
        steps: 10,
        lr: 2e-3,
        logEvery: 10,
        checkpointEvery: 1_000_000,
        validateEvery: 0,
        progress: false,
        handleSignals: false,
      });
      losses.push(result.loss!);
    }
    const early = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const late = losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(late < 0.6 * early, `smoothed loss ${early.toFixed(3)} → ${late.toFixed(3)} over 300 steps`);
    sr.dispose();
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("save → load gives identical predictions; resume continues the run exactly", gpuTest, async () => {
  await withRuntime(async () => {
    const dir = await Deno.makeTempDir();
    const folder = await chips(dir);
    const options = { chipSize: 16, downsampleFactor: 4, batchSize: 2, valSplitPct: 10, seed: 3 };
    const fit = {
      lr: 1e-3,
      logEvery: 5,
      validateEvery: 0,
      progress: false,
      handleSignals: false,
      seed: 5,
    } as const;

    // Straight through: 20 steps.
    const straight = await SuperResolution.create(await prepareData(folder, options), {
      ...small,
      dropout: 0.1,
    });
    await straight.fit(undefined, { ...fit, outDir: `${dir}/straight`, steps: 20, checkpointEvery: 20 });
    // Interrupted: 10 steps, then a fresh process-like reload from the checkpoint, then 10 more.
    const first = await SuperResolution.create(await prepareData(folder, options), {
      ...small,
      dropout: 0.1,
    });
    await first.fit(undefined, { ...fit, outDir: `${dir}/resumed`, steps: 10, checkpointEvery: 10 });
    first.dispose();
    const resumed = await SuperResolution.fromModel(`${dir}/resumed`, await prepareData(folder, options), {
      resume: true,
    });
    assert.equal((await readModelDefinition(`${dir}/resumed`)).training?.step, 10);
    await resumed.fit(undefined, { ...fit, outDir: `${dir}/resumed`, steps: 10, checkpointEvery: 10 });

    const input = Float32Array.from({ length: 2 * 6 * 16 * 16 }, (_, i) => Math.sin(i));
    const levels = new Float32Array([0.3, 0.8]);
    const a = await straight.predictNoise(input, [2, 6, 16, 16], levels);
    const b = await resumed.predictNoise(input, [2, 6, 16, 16], levels);
    assert.deepEqual(b, a, "resumed weights equal uninterrupted weights bit for bit");
    const log = (await Deno.readTextFile(`${dir}/resumed/train_log.jsonl`)).trim().split("\n");
    assert.deepEqual(log.map((l) => JSON.parse(l).step), [5, 10, 15, 20]);
    const emaAt20 = (run: string) => Deno.readFile(`${dir}/${run}/checkpoints/step-00000020/ema.safetensors`);
    assert.deepEqual(
      await emaAt20("resumed"),
      await emaAt20("straight"),
      "the EMA (and its warm-up) resumes exactly",
    );

    // A saved model loads for inference (EMA weights) and predicts what the trained object predicts with them.
    await straight.save(`${dir}/saved`);
    const loaded = await SuperResolution.fromModel(`${dir}/saved`);
    const viaEma = await loaded.predictNoise(input, [2, 6, 16, 16], levels);
    const reloaded = await (await SuperResolution.fromModel(`${dir}/saved`)).predictNoise(input, [
      2,
      6,
      16,
      16,
    ], levels);
    assert.deepEqual(reloaded, viaEma, "loading twice gives identical predictions");
    for (const sr of [straight, resumed, loaded]) sr.dispose();
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test(
  "a diverging run writes no checkpoint of its broken weights and names none from after the divergence",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      const dir = await Deno.makeTempDir();
      const data = await prepareData(await chips(dir), { chipSize: 16, downsampleFactor: 4, batchSize: 2 });
      const sr = await SuperResolution.create(data, { ...small, seed: 1 });
      // Update 1 sends every weight to ~1e30: every later loss is non-finite.
      const result = await sr.fit(undefined, {
        outDir: `${dir}/model`,
        steps: 30,
        lr: 1e30,
        gradClip: 1e30,
        logEvery: 1,
        checkpointEvery: 1,
        keepCheckpoints: 5,
        maxNonFinite: 3,
        validateEvery: 0,
        progress: false,
        handleSignals: false,
      });
      assert.equal(result.stopped, "non-finite");
      const definition = await readModelDefinition(`${dir}/model`);
      assert.equal(definition.checkpoint, null, "step 1's checkpoint held the diverged weights");
      assert.equal(definition.pixelSize, 0.1, "the chips' pixel size is recorded (NEON 0.1 m)");
      assert.deepEqual([...Deno.readDirSync(`${dir}/model/checkpoints`)].map((e) => e.name), []);
      sr.dispose();
      await Deno.remove(dir, { recursive: true });
    });
  },
);
