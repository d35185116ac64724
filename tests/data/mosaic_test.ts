import assert from "node:assert/strict";
import { writeMosaic } from "../../data/mosaic.ts";
import { chooseNormalization } from "../../data/normalize.ts";
import { readRaster } from "../../data/raster.ts";
import { partPaths, upscaleShard } from "../../data/shard.ts";
import type { RowWindow } from "../../data/tiling.ts";
import { upscaleRaster } from "../../data/upscale.ts";
import { writeOrthoWindow } from "../helpers/tiny_model.ts";
import {
  gdal,
  gdalinfoJson,
  hasCogValidator,
  hasGdal,
  listDir,
  validateCog,
  withTempDir,
} from "./helpers.ts";

/** A single run and `count` shards of it (bicubic stand-in model) in `dir`; returns the paths. */
async function makeParts(
  dir: string,
  count: number,
  settings: Record<string, unknown> = { tileSize: 8 },
  only?: number[],
): Promise<{ single: string; out: string }> {
  if (!(await listDir(dir)).includes("lr.tif")) {
    await writeOrthoWindow(`${dir}/lr.tif`, 50, 40, 100, 100);
    await Deno.writeTextFile(`${dir}/weights.safetensors`, "stand-in weights");
  }
  const upscale = (outputPath: string, rows?: RowWindow) =>
    upscaleRaster({
      inputPath: `${dir}/lr.tif`,
      outputPath,
      rows,
      overwrite: true,
      factor: 2,
      tileSize: 8,
      padding: 1,
      batchSize: 4,
      normalization: chooseNormalization("uint8", 3),
    }, (batch) => Promise.resolve({ hr: batch.lrUp.map((v) => v * 0.9), std: null }));
  const single = `${dir}/single.tif`;
  await upscale(single);
  const out = `${dir}/sr.tif`;
  for (const index of only ?? Array.from({ length: count }, (_, k) => k)) {
    await upscaleShard({
      inputPath: `${dir}/lr.tif`,
      out,
      spec: { index, count },
      factor: 2,
      modelWeights: `${dir}/weights.safetensors`,
      settings,
    }, upscale);
  }
  return { single, out };
}

Deno.test({
  name: "mosaic: the VRT and the COG show the single run's pixels, CRS, origin and pixel size",
  ignore: !hasGdal,
}, () =>
  withTempDir(async (dir) => {
    const { single, out } = await makeParts(dir, 3);
    const vrt = await writeMosaic(`${out}.parts`, `${dir}/sr.vrt`);
    assert.deepEqual(vrt, {
      outputPath: `${dir}/sr.vrt`,
      format: "vrt",
      width: 100,
      height: 80,
      bands: 3,
      parts: 3,
    });
    const cog = await writeMosaic(`${out}.parts`, `${dir}/sr_cog.tif`, { blockSize: 32 });
    assert.equal(cog.format, "cog");
    const reference = await gdalinfoJson(single);
    for (const path of [`${dir}/sr.vrt`, `${dir}/sr_cog.tif`]) {
      const info = await gdalinfoJson(path);
      assert.deepEqual(info.size, [100, 80]);
      assert.deepEqual(info.geoTransform, reference.geoTransform, path);
      assert.equal(info.stac?.["proj:epsg"], reference.stac?.["proj:epsg"]);
      assert.ok(info.stac?.["proj:epsg"], "a CRS with an EPSG code");
      assert.deepEqual(info.bands.map((b) => b.noDataValue), reference.bands.map((b) => b.noDataValue));
      const checksums = async (p: string) =>
        (await gdal("gdalinfo", ["-checksum", "--config", "GDAL_PAM_ENABLED", "NO", p]))
          .split("\n").filter((line) => line.includes("Checksum="));
      assert.deepEqual(await checksums(path), await checksums(single), `${path}: the same pixels`);
    }
    assert.deepEqual((await readRaster(`${dir}/sr_cog.tif`)).data, (await readRaster(single)).data);
    const bands = (await gdalinfoJson(`${dir}/sr_cog.tif`)).bands as unknown as {
      overviews?: { size: number[] }[];
    }[];
    assert.deepEqual(bands[0]!.overviews?.map((o) => o.size), [[50, 40], [25, 20]]);
    if (hasCogValidator) {
      const { valid, output } = await validateCog(`${dir}/sr_cog.tif`);
      assert.ok(valid, output);
    }
    // The VRT points at the parts relative to itself: move both and it still reads.
    await Deno.mkdir(`${dir}/moved`);
    await Deno.rename(`${dir}/sr.vrt`, `${dir}/moved/sr.vrt`);
    await Deno.rename(`${out}.parts`, `${dir}/moved/sr.tif.parts`);
    assert.deepEqual((await gdalinfoJson(`${dir}/moved/sr.vrt`)).size, [100, 80]);
  }));

Deno.test("mosaic refuses incomplete, mismatched or changed parts with one line naming them, writing nothing", () =>
  withTempDir(async (dir) => {
    const { out } = await makeParts(dir, 5, { tileSize: 8 }, [1, 3]);
    const parts = `${out}.parts`;
    const refuse = async (pattern: RegExp) => {
      await assert.rejects(writeMosaic(parts, `${dir}/m.vrt`), (error: Error) => {
        assert.match(error.message, pattern);
        assert.ok(!error.message.includes("\n"));
        return true;
      });
      assert.ok(!(await listDir(dir)).includes("m.vrt"));
    };
    await refuse(
      /sr\.tif\.parts: incomplete, missing shards 0, 2 and 4 of 5 \(rerun them with --shard K\/5\)/,
    );
    await makeParts(dir, 5, { tileSize: 8 }, [0, 2]);
    await refuse(/missing shard 4 of 5/);
    await makeParts(dir, 5, { tileSize: 8, seed: 1 }, [4]);
    await refuse(
      /part-4-of-5\.json was made with a different settings than part-0-of-5\.json; rerun shard 4/,
    );
    await makeParts(dir, 5, { tileSize: 8 }, [4]);
    await writeMosaic(parts, `${dir}/ok.vrt`);
    const part2 = partPaths(out, { index: 2, count: 5 }).tif;
    const bytes = await Deno.readFile(part2);
    bytes[200] = bytes[200]! ^ 1;
    await Deno.writeFile(part2, bytes);
    await refuse(/part-2-of-5\.tif: does not match its manifest .*rerun shard 2/);
    await makeParts(dir, 5, { tileSize: 8 }, [2]);
    await Deno.copyFile(partPaths(out, { index: 0, count: 5 }).tif, `${parts}/part-0-of-2.tif`);
    await refuse(/parts of different splits \(of 2 and 5\)/);
    await Deno.remove(`${parts}/part-0-of-2.tif`);
    const manifest3 = partPaths(out, { index: 3, count: 5 }).manifest;
    await Deno.writeTextFile(manifest3, '{"format": "sr3-part", "version": 1}');
    await refuse(/part-3-of-5\.json: part manifest lacks its checksums or window/);
    await Deno.writeTextFile(manifest3, "{ half written");
    await refuse(/part-3-of-5\.json: unreadable part manifest/);
    await makeParts(dir, 5, { tileSize: 8 }, [3]);
    await assert.rejects(writeMosaic(parts, `${dir}/ok.vrt`), /ok\.vrt: output already exists/);
    await assert.rejects(writeMosaic(parts, `${dir}/m.png`), /m\.png: the mosaic must be a \.vrt or a \.tif/);
    await assert.rejects(
      writeMosaic(`${dir}/nowhere`, `${dir}/m.vrt`),
      /nowhere: cannot list the parts folder/,
    );
  }));
