import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { type DatasetManifest, exportTiles } from "../../data/export.ts";
import { scaleGeo, windowGeo } from "../../data/geo.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { openRaster, readRaster } from "../../data/raster.ts";
import { resizeBicubic } from "../../data/resample.ts";
import type { GeoReference } from "../../data/types.ts";
import { gdalinfoJson, hasGdal, listDir, RASTERS, withTempDir } from "./helpers.ts";

async function readWindow(
  path: string,
  x: number,
  y: number,
  size: number,
  bands?: number[],
): Promise<Float32Array> {
  const source = await openRaster(path);
  try {
    return await source.readWindow(x, y, size, size, { bands });
  } finally {
    await source.close();
  }
}

/**
 * A low-resolution copy of the first `width`×`height` HR pixels of NAIP, ×4 coarser, written with a
 * geotransform derived from the HR one (optionally shifted by `shiftX` HR pixels or re-scaled).
 */
async function makeLowRes(
  path: string,
  width: number,
  height: number,
  geoOf: (hr: GeoReference) => GeoReference,
): Promise<void> {
  const hr = await openRaster(RASTERS.naip4Band);
  const data = await hr.readWindow(0, 0, width, height);
  const geo = geoOf(hr.geo!);
  await hr.close();
  const low = resizeBicubic(data, width, height, width / 4, height / 4);
  await writeGeoTiff(path, low, {
    width: width / 4,
    height: height / 4,
    bandCount: 4,
    dataType: "uint8",
    nodata: 0,
    geo,
  });
}

Deno.test("hr-only export: georeferenced chips equal to the source windows, and a dataset.json", () =>
  withTempDir(async (dir) => {
    const progress: number[] = [];
    const { outDir, manifest } = await exportTiles({
      hrPath: RASTERS.osbsLzw,
      outDir: `${dir}/chips`,
      chipSize: 128,
      stride: 96,
      bands: [2, 1, 0],
      onProgress: (done, total) => progress.push(done / total),
    });
    assert.equal(outDir, `${dir}/chips`);
    assert.deepEqual(await listDir(dir), ["chips"]);
    assert.deepEqual(await listDir(outDir), ["dataset.json", "images"]);
    // 400 px, chip 128, stride 96: chips at 0, 96, 192 (288 + 128 > 400).
    assert.deepEqual(manifest.counts, { chips: 9, candidates: 9, skippedNodata: 0, skippedOutsideLr: 0 });
    assert.equal(progress.at(-1), 1);
    const written = JSON.parse(await Deno.readTextFile(`${outDir}/dataset.json`)) as DatasetManifest;
    assert.deepEqual(written, manifest);
    assert.deepEqual(
      [
        manifest.chipSize,
        manifest.stride,
        manifest.factor,
        manifest.bands,
        manifest.dataType,
        manifest.nodata,
        manifest.crs,
      ],
      [128, 96, null, [2, 1, 0], "uint8", 255, "EPSG:32617"],
    );
    assert.equal(manifest.statistics.length, 3);
    const chip = manifest.chips[5]!;
    assert.deepEqual(chip, { name: "000000005.tif", x: 192, y: 96 });
    const written5 = await readRaster(`${outDir}/images/${chip.name}`);
    assert.deepEqual(written5.data, await readWindow(RASTERS.osbsLzw, 192, 96, 128, [2, 1, 0]));
    const source = await openRaster(RASTERS.osbsLzw);
    assert.deepEqual(written5.info.geo, windowGeo(source.geo!, 192, 96));
    await source.close();
  }));

Deno.test("mostly-nodata chips are skipped (Landsat scene with a nodata collar)", () =>
  withTempDir(async (dir) => {
    const strict = await exportTiles({
      hrPath: RASTERS.rgbByte,
      outDir: `${dir}/strict`,
      chipSize: 128,
      maxNodata: 0,
    });
    const loose = await exportTiles({
      hrPath: RASTERS.rgbByte,
      outDir: `${dir}/loose`,
      chipSize: 128,
      maxNodata: 1,
    });
    assert.equal(loose.manifest.counts.chips, 30);
    assert.ok(strict.manifest.counts.chips < 30 && strict.manifest.counts.chips > 0);
    assert.equal(strict.manifest.counts.skippedNodata, 30 - strict.manifest.counts.chips);
    assert.equal((await listDir(`${dir}/strict/images`)).length, strict.manifest.counts.chips);
  }));

Deno.test("paired export: labels hold the LR chips of the same footprint; chips outside the LR are skipped", () =>
  withTempDir(async (dir) => {
    await makeLowRes(`${dir}/lr.tif`, 512, 720, (geo) => scaleGeo(geo, 1 / 4));
    const { manifest } = await exportTiles({
      hrPath: RASTERS.naip4Band,
      lrPath: `${dir}/lr.tif`,
      outDir: `${dir}/pairs`,
      chipSize: 64,
    });
    // HR 934×723 → 14 × 11 candidates; the LR covers HR columns 0–511, so 8 chip columns fit.
    assert.deepEqual(manifest.counts, { chips: 88, candidates: 154, skippedNodata: 0, skippedOutsideLr: 66 });
    assert.deepEqual([manifest.factor, manifest.lrChipSize], [4, 16]);
    assert.ok(manifest.lrStatistics);
    assert.deepEqual(await listDir(`${dir}/pairs/labels`), await listDir(`${dir}/pairs/images`));
    const last = manifest.chips.at(-1)!;
    assert.deepEqual([last.x, last.y], [448, 640]);
    const label = await readRaster(`${dir}/pairs/labels/${last.name}`);
    assert.deepEqual([label.info.width, label.info.height], [16, 16]);
    assert.deepEqual(label.data, await readWindow(`${dir}/lr.tif`, 112, 160, 16));
    const image = await readRaster(`${dir}/pairs/images/${last.name}`);
    assert.equal(image.info.geo!.originX, label.info.geo!.originX);
    assert.equal(image.info.geo!.originY, label.info.geo!.originY);
    assert.equal(label.info.geo!.pixelSizeX, 4 * image.info.geo!.pixelSizeX);
  }));

Deno.test({
  name: "gdalinfo reads an exported chip with the source CRS and the chip's own origin",
  ignore: !hasGdal,
  fn: () =>
    withTempDir(async (dir) => {
      const { manifest } = await exportTiles({
        hrPath: RASTERS.mosaicUint16,
        outDir: `${dir}/out`,
        chipSize: 100,
        maxNodata: 0.2,
      });
      const chip = manifest.chips[0]!;
      const info = await gdalinfoJson(`${dir}/out/images/${chip.name}`);
      const px = 300.038239038384006;
      const expected = [425085 + chip.x * px, px, 0, 5215515 - chip.y * px, 0, -px];
      info.geoTransform!.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6));
      assert.match(info.coordinateSystem!.wkt, /ID\["EPSG",32618\]\]$/);
      assert.deepEqual(info.bands.map((b) => [b.type, b.noDataValue]), [["UInt16", 0], ["UInt16", 0], [
        "UInt16",
        0,
      ]]);
    }),
});

/** Asserts a one-line DataError mentioning every fragment, and that `dir` holds only `expected` names. */
async function rejectsCleanly(
  promise: Promise<unknown>,
  dir: string,
  expected: string[],
  ...fragments: string[]
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected DataError, got ${error}`);
    assert.ok(!error.message.includes("\n"));
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
  assert.deepEqual(await listDir(dir), expected);
}

Deno.test("bad pairs: non-integer factor, misaligned grid, other CRS, no overlap, chip not a multiple of the factor", () =>
  withTempDir(async (dir) => {
    await makeLowRes(`${dir}/factor.tif`, 512, 720, (geo) => scaleGeo(geo, 1 / 2.5));
    await makeLowRes(
      `${dir}/shifted.tif`,
      512,
      720,
      (geo) => ({ ...scaleGeo(geo, 1 / 4), originX: geo.originX + 7 }),
    );
    await makeLowRes(`${dir}/crs.tif`, 512, 720, (geo) => {
      // ProjectedCSTypeGeoKey (3072) → EPSG:32614 (WGS 84 / UTM 14N instead of NAD83 / UTM 14N).
      const directory = [...geo.geoKeys.directory];
      directory[directory.findIndex((v, i) => v === 3072 && i % 4 === 0) + 3] = 32614;
      return { ...scaleGeo(geo, 1 / 4), geoKeys: { ...geo.geoKeys, directory } };
    });
    await makeLowRes(
      `${dir}/far.tif`,
      512,
      720,
      (geo) => ({ ...scaleGeo(geo, 1 / 4), originX: geo.originX + 1e5 }),
    );
    const inputs = ["crs.tif", "factor.tif", "far.tif", "shifted.tif"];
    const pair = (lr: string) =>
      exportTiles({ hrPath: RASTERS.naip4Band, lrPath: `${dir}/${lr}`, outDir: `${dir}/out`, chipSize: 64 });
    await rejectsCleanly(
      pair("factor.tif"),
      dir,
      inputs,
      "m_4709963_se_14_1_20200831.tif and",
      "factor.tif",
      "integer factor",
    );
    await rejectsCleanly(pair("shifted.tif"), dir, inputs, "shifted.tif", "misaligned");
    await rejectsCleanly(
      pair("crs.tif"),
      dir,
      inputs,
      "crs.tif",
      "different coordinate systems (EPSG:26914 vs EPSG:32614)",
    );
    await rejectsCleanly(pair("far.tif"), dir, inputs, "far.tif", "do not overlap");
    await makeLowRes(`${dir}/good.tif`, 512, 720, (geo) => scaleGeo(geo, 1 / 4));
    const odd = exportTiles({
      hrPath: RASTERS.naip4Band,
      lrPath: `${dir}/good.tif`,
      outDir: `${dir}/out`,
      chipSize: 62,
    });
    await rejectsCleanly(
      odd,
      dir,
      [...inputs, "good.tif"].sort(),
      "good.tif",
      "chip size 62 and stride 62 must be multiples of the factor 4",
    );
  }));

Deno.test("bad input: raster smaller than a chip, all nodata, band out of range, existing output", () =>
  withTempDir(async (dir) => {
    await rejectsCleanly(
      exportTiles({ hrPath: RASTERS.sat6Chip, outDir: `${dir}/out`, chipSize: 64 }),
      dir,
      [],
      "589.tif: raster of 28×28 is smaller than one 64×64 chip",
    );
    await writeGeoTiff(`${dir}/empty.tif`, new Float32Array(3 * 64 * 64), {
      width: 64,
      height: 64,
      bandCount: 3,
      dataType: "uint8",
      nodata: 0,
    });
    await rejectsCleanly(
      exportTiles({ hrPath: `${dir}/empty.tif`, outDir: `${dir}/out`, chipSize: 32 }),
      dir,
      ["empty.tif"],
      "empty.tif: no chip has at most 50% nodata (4 candidates: 4 mostly nodata",
    );
    await rejectsCleanly(
      exportTiles({ hrPath: RASTERS.osbsLzw, outDir: `${dir}/out`, chipSize: 64, bands: [0, 3] }),
      dir,
      ["empty.tif"],
      "OSBS_029.tif: band 4 (index 3) does not exist; the file has 3 bands, numbered 1 to 3",
    );
    await Deno.mkdir(`${dir}/taken`);
    await Deno.writeTextFile(`${dir}/taken/notes.txt`, "a user's file");
    await rejectsCleanly(
      exportTiles({ hrPath: RASTERS.osbsLzw, outDir: `${dir}/taken`, chipSize: 200 }),
      dir,
      ["empty.tif", "taken"],
      "taken: output already exists; refusing to replace it without --overwrite",
    );
    // A folder sr3 did not write is never replaced, even with overwrite.
    await rejectsCleanly(
      exportTiles({ hrPath: RASTERS.osbsLzw, outDir: `${dir}/taken`, chipSize: 200, overwrite: true }),
      dir,
      ["empty.tif", "taken"],
      "taken: --overwrite replaces only a folder sr3 wrote",
    );
    assert.equal(await Deno.readTextFile(`${dir}/taken/notes.txt`), "a user's file");
    await exportTiles({ hrPath: RASTERS.osbsLzw, outDir: `${dir}/chips`, chipSize: 100 });
    const { manifest } = await exportTiles({
      hrPath: RASTERS.osbsLzw,
      outDir: `${dir}/chips`,
      chipSize: 200,
      overwrite: true,
    });
    assert.equal(manifest.counts.chips, 4);
    assert.deepEqual(await listDir(dir), ["chips", "empty.tif", "taken"]);
  }));

Deno.test("export: a region restricts chips to a pixel window; a region outside the raster is refused", async () => {
  await withTempDir(async (dir) => {
    const { manifest } = await exportTiles({
      hrPath: RASTERS.naip4Band,
      outDir: `${dir}/west`,
      chipSize: 64,
      region: { x: 0, y: 0, width: 774, height: 723 },
    });
    assert.deepEqual(manifest.region, { x: 0, y: 0, width: 774, height: 723 });
    const json: DatasetManifest & { chips: { x: number; y: number }[] } = JSON.parse(
      await Deno.readTextFile(`${dir}/west/dataset.json`),
    );
    assert.ok(json.chips.every((c) => c.x + 64 <= 774), "no chip crosses into the held-back east edge");
    assert.equal(Math.max(...json.chips.map((c) => c.x)), 704);
    await assert.rejects(
      () =>
        exportTiles({
          hrPath: RASTERS.naip4Band,
          outDir: `${dir}/bad`,
          chipSize: 64,
          region: { x: 900, y: 0, width: 100, height: 100 },
        }),
      (e: unknown) =>
        e instanceof DataError &&
        /region 900,0,100,100 does not lie inside the 934×723 raster/.test(e.message),
    );
  });
});
