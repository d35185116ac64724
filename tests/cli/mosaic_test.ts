/**
 * Sharded `sr3 upscale` and `sr3 mosaic` as a scheduler runs them: shards from the environment in any
 * order, a mosaic that names missing shards and exits 1, VRT/COG outputs that GDAL confirms and that
 * equal a single process's output, and one-scene-per-task arrays over a list of scenes.
 */
import assert from "node:assert/strict";
import { readRaster } from "../../data/raster.ts";
import { gdalinfoJson, hasCogValidator, hasGdal, validateCog, withTempDir } from "../data/helpers.ts";
import { gpuTest } from "../helpers/gpu.ts";
import { makeTinyModel, writeOrthoWindow } from "../helpers/tiny_model.ts";

const main = new URL("../../cli/main.ts", import.meta.url).pathname;
const config = new URL("../../deno.json", import.meta.url).pathname;

/** Runs `sr3 <args>` in a child process with `env` added. */
async function sr3(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, main, ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** The cheapest sampler settings that still draw noise (DDIM, 2 steps, η = 1). */
const FAST = ["--sampling-type", "ddim", "--sampling-steps", "2", "--eta", "1", "--samples", "1"];
const TILES = ["--tile-size", "8", "--padding", "1"];

Deno.test({
  name:
    "upscale --shard k8s in any order, mosaic refuses the gap, then VRT and COG equal the single --cog run",
  ignore: !hasGdal,
  ...gpuTest,
}, () =>
  withTempDir(async (dir) => {
    const model = await makeTinyModel(dir);
    const lr = `${dir}/lr.tif`;
    await writeOrthoWindow(lr, 24, 18, 60, 20);
    const single = await sr3([
      "upscale",
      lr,
      "--model",
      model,
      "--out",
      `${dir}/single.tif`,
      "--cog",
      ...FAST,
      ...TILES,
    ]);
    assert.equal(single.code, 0, single.stderr);
    const out = `${dir}/sr.tif`;
    const shard = (index: number) =>
      sr3(["upscale", lr, "--model", model, "--out", out, "--shard", "k8s", ...FAST, ...TILES, "--json"], {
        JOB_COMPLETION_INDEX: String(index),
        SR3_SHARD_COUNT: "3",
      });
    for (const index of [2, 0]) {
      const run = await shard(index);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        JSON.parse(run.stdout).manifestPath,
        new RegExp(`sr\\.tif\\.parts/part-${index}-of-3\\.json$`),
      );
    }
    const gap = await sr3(["mosaic", `${out}.parts`, "--out", `${dir}/sr.vrt`]);
    assert.equal(gap.code, 1);
    assert.match(gap.stderr, /^sr3 mosaic: .*sr\.tif\.parts: incomplete, missing shard 1 of 3/m);
    assert.equal((await shard(1)).code, 0);
    for (const target of ["sr.vrt", "sr_cog.tif"]) {
      const run = await sr3(["mosaic", `${out}.parts`, "--out", `${dir}/${target}`, "--block-size", "32"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /96×72, 3 bands from 3 parts/);
    }
    assert.deepEqual(
      (await readRaster(`${dir}/sr_cog.tif`)).data,
      (await readRaster(`${dir}/single.tif`)).data,
    );
    const source = await gdalinfoJson(lr);
    for (const path of [`${dir}/sr.vrt`, `${dir}/sr_cog.tif`, `${dir}/single.tif`]) {
      const info = await gdalinfoJson(path);
      assert.deepEqual(info.size, [96, 72]);
      assert.equal(info.stac?.["proj:epsg"], 32617, path);
      // A VRT names its CRS by EPSG code, which GDAL expands from its database (datum ensemble WKT).
      if (path.endsWith(".tif")) assert.equal(info.coordinateSystem?.wkt, source.coordinateSystem?.wkt, path);
      const [ox, px, , oy, , py] = source.geoTransform!;
      assert.deepEqual(info.geoTransform, [ox, px! / 4, 0, oy, 0, py! / 4], path);
    }
    const cog = await gdalinfoJson(`${dir}/sr_cog.tif`);
    assert.deepEqual(
      (cog.bands[0] as unknown as { overviews: { size: number[] }[] }).overviews.map((o) => o.size),
      [[48, 36], [24, 18]],
    );
    if (hasCogValidator) {
      for (const path of [`${dir}/sr_cog.tif`, `${dir}/single.tif`]) {
        const { valid, output } = await validateCog(path);
        assert.ok(valid, output);
      }
    }
  }));

Deno.test(
  "--shard slurm outside an array job fails in one line; mosaic --help shows examples",
  gpuTest,
  () =>
    withTempDir(async (dir) => {
      const run = await sr3([
        "upscale",
        "in.tif",
        "--model",
        "m",
        "--out",
        `${dir}/o.tif`,
        "--shard",
        "slurm",
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^sr3 upscale: --shard: SLURM_ARRAY_TASK_ID \(submit with sbatch --array\) is not set$/m,
      );
      const help = await sr3(["mosaic", "--help"]);
      assert.match(help.stdout, /Examples:\n(\s+\$ .*\n)*\s+\$ sr3 mosaic/);
    }),
);

Deno.test(
  "upscale of a scene list: --shard takes every N-th scene, each written whole into the --out folder",
  gpuTest,
  () =>
    withTempDir(async (dir) => {
      const model = await makeTinyModel(dir);
      await writeOrthoWindow(`${dir}/east.tif`, 16, 12, 0, 0);
      await writeOrthoWindow(`${dir}/west.tif`, 16, 12, 40, 0);
      await Deno.writeTextFile(`${dir}/scenes.txt`, "east.tif\nwest.tif\n");
      const run = await sr3(
        [
          "upscale",
          `${dir}/scenes.txt`,
          "--model",
          model,
          "--out",
          `${dir}/sr`,
          "--shard",
          "slurm",
          ...FAST,
          ...TILES,
        ],
        {
          SLURM_ARRAY_TASK_ID: "2",
          SLURM_ARRAY_TASK_MIN: "1",
          SLURM_ARRAY_TASK_MAX: "2",
          SLURM_ARRAY_TASK_COUNT: "2",
        },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /wrote .*sr\/west\.tif: 64×48/);
      const names = [];
      for await (const entry of Deno.readDir(`${dir}/sr`)) names.push(entry.name);
      assert.deepEqual(names, ["west.tif"], "task 2 of the array 1-2 did the second scene only");
    }),
);
