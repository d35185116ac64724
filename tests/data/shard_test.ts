import assert from "node:assert/strict";
import { chooseNormalization } from "../../data/normalize.ts";
import { readRaster } from "../../data/raster.ts";
import { parseShard, partPaths, shardRows, upscaleShard } from "../../data/shard.ts";
import { type SuperResolve, upscaleRaster } from "../../data/upscale.ts";
import type { RowWindow } from "../../data/tiling.ts";
import { writeOrthoWindow } from "../helpers/tiny_model.ts";
import { listDir, withTempDir } from "./helpers.ts";

Deno.test("--shard: K/N, Slurm arrays (any start and step) and Kubernetes Indexed Jobs", () => {
  assert.deepEqual(parseShard("2/5", {}), { index: 2, count: 5 });
  assert.throws(() => parseShard("5/5", {}), /index 5 is not below the count 5/);
  assert.throws(() => parseShard("1-3", {}), /expected K\/N \(e\.g\. 0\/4\), slurm or k8s/);
  const slurm = { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "3" };
  assert.deepEqual(parseShard("slurm", { ...slurm, SLURM_ARRAY_TASK_COUNT: "3" }), { index: 2, count: 3 });
  assert.deepEqual(
    parseShard("slurm", {
      ...slurm,
      SLURM_ARRAY_TASK_ID: "5",
      SLURM_ARRAY_TASK_MAX: "7",
      SLURM_ARRAY_TASK_STEP: "2",
    }),
    { index: 2, count: 4 },
  );
  assert.throws(
    () => parseShard("slurm", {}),
    /SLURM_ARRAY_TASK_ID \(submit with sbatch --array\) is not set/,
  );
  assert.throws(
    () => parseShard("slurm", { ...slurm, SLURM_ARRAY_TASK_COUNT: "2" }),
    /has 3 tasks but SLURM_ARRAY_TASK_COUNT is 2/,
  );
  assert.deepEqual(parseShard("k8s", { JOB_COMPLETION_INDEX: "0", SR3_SHARD_COUNT: "4" }), {
    index: 0,
    count: 4,
  });
  assert.throws(() => parseShard("k8s", { JOB_COMPLETION_INDEX: "1" }), /SR3_SHARD_COUNT is not set/);
  assert.throws(
    () => parseShard("k8s", { JOB_COMPLETION_INDEX: "x", SR3_SHARD_COUNT: "2" }),
    /"x", not a whole/,
  );
});

Deno.test("shard rows partition the raster for every count; more shards than rows is refused", () => {
  for (const count of [1, 2, 3, 7, 30]) {
    const windows = Array.from({ length: count }, (_, index) => shardRows("a.tif", 30, { index, count }));
    assert.equal(windows[0]!.start, 0);
    assert.equal(windows.at(-1)!.end, 30);
    windows.slice(1).forEach((w, k) => assert.equal(w.start, windows[k]!.end));
    assert.ok(windows.every((w) => w.end > w.start));
  }
  assert.throws(
    () => shardRows("a.tif", 30, { index: 0, count: 31 }),
    /a\.tif: 31 shards of a raster 30 rows/,
  );
  assert.equal(partPaths("out/x.tif", { index: 1, count: 3 }).tif, "out/x.tif.parts/part-1-of-3.tif");
});

/** A stand-in model whose output depends on the tile's position, so windows that blend wrongly show. */
const positionalModel: SuperResolve = (batch) => {
  const hr = batch.lrUp.slice();
  const per = hr.length / batch.tiles.length;
  batch.tiles.forEach((tile, n) => {
    const offset = (((tile.x * 7 + tile.y * 3) % 5) - 2) * 0.05;
    for (let i = n * per; i < (n + 1) * per; i++) hr[i] = Math.max(-1, Math.min(1, hr[i]! + offset));
  });
  return Promise.resolve({ hr, std: null });
};

Deno.test("shards of any count, run in any order, are the single run's rows exactly", () =>
  withTempDir(async (dir) => {
    await writeOrthoWindow(`${dir}/lr.tif`, 45, 33, 10, 20);
    await Deno.writeTextFile(`${dir}/weights.safetensors`, "stand-in weights");
    const base = {
      inputPath: `${dir}/lr.tif`,
      factor: 2,
      tileSize: 8,
      padding: 2,
      batchSize: 2,
      normalization: chooseNormalization("uint8", 3),
    };
    const upscale = (outputPath: string, rows?: RowWindow) =>
      upscaleRaster({ ...base, outputPath, rows, overwrite: rows !== undefined }, positionalModel);
    await upscale(`${dir}/single.tif`);
    const single = await readRaster(`${dir}/single.tif`);
    const { width, height } = single.info;
    for (const count of [1, 2, 3, 7]) {
      const out = `${dir}/split${count}.tif`;
      const order = Array.from({ length: count }, (_, k) => (k * 5 + 3) % count); // a shuffled order
      assert.equal(new Set(order).size, count);
      for (const index of order) {
        const summary = await upscaleShard({
          inputPath: base.inputPath,
          out,
          spec: { index, count },
          factor: 2,
          modelWeights: `${dir}/weights.safetensors`,
          settings: { tileSize: 8, padding: 2 },
        }, upscale);
        assert.equal(summary.manifestPath, partPaths(out, { index, count }).manifest);
      }
      const joined = new Float32Array(single.data.length);
      let row = 0;
      for (let index = 0; index < count; index++) {
        const part = await readRaster(partPaths(out, { index, count }).tif);
        assert.equal(part.info.geo!.originY, single.info.geo!.originY + row * single.info.geo!.pixelSizeY);
        for (let b = 0; b < 3; b++) {
          const plane = part.info.height * width;
          joined.set(part.data.subarray(b * plane, (b + 1) * plane), (b * height + row) * width);
        }
        row += part.info.height;
      }
      assert.equal(row, height);
      assert.deepEqual(joined, single.data, `${count} shards`);
      assert.equal((await listDir(`${out}.parts`)).length, 2 * count, "a part and a manifest per shard");
    }
  }));
