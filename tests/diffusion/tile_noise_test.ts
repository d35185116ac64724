import assert from "node:assert/strict";
import { itemNoise, sampleSeed, tileSeed } from "../../diffusion/tile_noise.ts";
import { loadModel } from "../../diffusion/super_resolution.ts";
import { readRaster } from "../../data/raster.ts";
import { randomNormal } from "../../nn/ops/random.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { makeTinyModel, writeOrthoWindow } from "../helpers/tiny_model.ts";
import { withTempDir } from "../data/helpers.ts";
import { writeMosaic } from "../../data/mosaic.ts";
import type { SamplingSettings } from "../../diffusion/pipeline.ts";

Deno.test("tile seeds: a function of (run seed, x, y) only, distinct over a large grid", () => {
  assert.equal(tileSeed(7, 12, 40), tileSeed(7, 12, 40));
  const seen = new Set<number>();
  for (let y = 0; y < 300; y++) {
    for (let x = 0; x < 300; x++) seen.add(tileSeed(0, x * 28, y * 28));
  }
  assert.equal(seen.size, 300 * 300);
  assert.notEqual(tileSeed(0, 4, 8), tileSeed(0, 8, 4), "x and y are not interchangeable");
  assert.notEqual(tileSeed(0, 4, 8), tileSeed(1, 4, 8), "the run seed changes every tile");
  assert.ok(Number.isSafeInteger(tileSeed(2 ** 52, 2 ** 40, 3)));
  assert.equal(sampleSeed(99, 0), 99);
  assert.notEqual(sampleSeed(99, 1), sampleSeed(99, 2));
  assert.throws(() => tileSeed(-1, 0, 0), /seed must be a non-negative/);
});

Deno.test("item noise: item n is its own seed's noise, whatever the batch", gpuTest, async () => {
  await withRuntime(async () => {
    const seeds = [tileSeed(3, 0, 0), tileSeed(3, 12, 0), tileSeed(3, 0, 12)];
    const batch = await itemNoise(seeds)([3, 2, 4, 4], 5).read();
    const alone = await randomNormal([1, 2, 4, 4], seeds[2]!, 5).read();
    assert.deepEqual(batch.subarray(64, 96), alone);
    const reordered = await itemNoise([seeds[2]!, seeds[0]!])([2, 2, 4, 4], 5).read();
    assert.deepEqual(reordered.subarray(0, 32), alone);
  });
});

Deno.test(
  "predict: batch size and sample averaging do not change which noise a tile gets",
  gpuTest,
  async () => {
    await withTempDir(async (dir) => {
      const model = await makeTinyModel(dir);
      await writeOrthoWindow(`${dir}/lr.tif`, 24, 18);
      await withRuntime(async () => {
        const sr = await loadModel(model);
        const run = async (name: string, batchSize: number, samples = 1): Promise<Float32Array> => {
          await sr.predict(`${dir}/lr.tif`, {
            outPath: `${dir}/${name}.tif`,
            samplingType: "ddim",
            samplingSteps: 2,
            eta: 1,
            samples,
            seed: 11,
            tileSize: 8,
            padding: 1,
            batchSize,
          });
          return (await readRaster(`${dir}/${name}.tif`)).data;
        };
        const one = await run("one", 1);
        assert.deepEqual(await run("five", 5), one);
        assert.deepEqual(await run("all", 64), one);
        const other = await sr.predict(`${dir}/lr.tif`, {
          outPath: `${dir}/seed12.tif`,
          samplingType: "ddim",
          samplingSteps: 2,
          eta: 1,
          seed: 12,
          tileSize: 8,
          padding: 1,
        }).then(() => readRaster(`${dir}/seed12.tif`));
        assert.notDeepEqual(other.data, one, "another run seed gives other noise");
        assert.deepEqual(await run("k2-b1", 1, 2), await run("k2-b3", 3, 2));
        sr.dispose();
      });
    });
  },
);

Deno.test(
  "predict --shard: 1, 2, 3 and 7 shards, run in shuffled order, mosaic to the single run's pixels",
  gpuTest,
  async () => {
    await withTempDir(async (dir) => {
      const model = await makeTinyModel(dir);
      await writeOrthoWindow(`${dir}/lr.tif`, 24, 18, 30, 40);
      await withRuntime(async () => {
        const sr = await loadModel(model);
        const settings: SamplingSettings = {
          samplingType: "ddim",
          samplingSteps: 2,
          eta: 1,
          samples: 1,
          seed: 5,
          tileSize: 8,
          padding: 1,
        };
        await sr.predict(`${dir}/lr.tif`, { ...settings, outPath: `${dir}/single.tif` });
        const single = (await readRaster(`${dir}/single.tif`)).data;
        for (const count of [1, 2, 3, 7]) {
          const out = `${dir}/split${count}.tif`;
          for (let step = 0; step < count; step++) {
            const index = (step * 5 + 3) % count; // 5 is coprime with every count: a shuffled order
            const summary = await sr.predict(
              `${dir}/lr.tif`,
              {
                ...settings,
                outPath: out,
                batchSize: 1 + (index % 3),
                shard: { index, count },
              } as const,
            );
            assert.match(summary.manifestPath!, new RegExp(`part-${index}-of-${count}\\.json$`));
          }
          await writeMosaic(`${out}.parts`, `${dir}/mosaic${count}.tif`);
          assert.deepEqual((await readRaster(`${dir}/mosaic${count}.tif`)).data, single, `${count} shards`);
        }
        sr.dispose();
      });
    });
  },
);
