import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { scaleGeo, windowGeo } from "../../data/geo.ts";
import { GeoTiffStripWriter, writeGeoTiff } from "../../data/geotiff_writer.ts";
import { openRaster, readRaster } from "../../data/raster.ts";
import type { DataType } from "../../data/types.ts";
import { gdalinfoJson, hasGdal, listDir, RASTERS, withTempDir } from "./helpers.ts";

/** Nearest-neighbour ×factor enlargement of band-sequential data (a stand-in for a super-resolved raster). */
function enlarge(data: Float32Array, width: number, height: number, factor: number): Float32Array {
  const bands = data.length / (width * height);
  const out = new Float32Array(data.length * factor * factor);
  const outWidth = width * factor;
  for (let b = 0; b < bands; b++) {
    for (let y = 0; y < height * factor; y++) {
      for (let x = 0; x < outWidth; x++) {
        out[(b * height * factor + y) * outWidth + x] =
          data[(b * height + Math.floor(y / factor)) * width + Math.floor(x / factor)]!;
      }
    }
  }
  return out;
}

/** Min, max, mean of the values of one band that are not `nodata`. */
function bandStats(
  data: Float32Array,
  band: number,
  pixels: number,
  nodata: number,
): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let count = 0;
  for (let i = band * pixels; i < (band + 1) * pixels; i++) {
    const v = data[i]!;
    if (v === nodata) continue;
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    count++;
  }
  return { min, max, mean: sum / count };
}

Deno.test("every data type round-trips; integers are rounded and clamped, NaN becomes nodata", () =>
  withTempDir(async (dir) => {
    const values = new Float32Array([-40000.4, -1.5, -0.4, 0, 2.5, 254.6, 300, 70000, Number.NaN]);
    const expected: Record<DataType, number[]> = {
      uint8: [0, 0, 0, 0, 3, 255, 255, 255, 7],
      uint16: [0, 0, 0, 0, 3, 255, 300, 65535, 7],
      int16: [-32768, -2, 0, 0, 3, 255, 300, 32767, 7],
      uint32: [0, 0, 0, 0, 3, 255, 300, 70000, 7],
      int32: [-40000, -2, 0, 0, 3, 255, 300, 70000, 7],
      float32: Array.from(values.subarray(0, 8)).concat([7]),
      float64: Array.from(values.subarray(0, 8)).concat([7]),
    };
    for (const dataType of Object.keys(expected) as DataType[]) {
      const path = `${dir}/${dataType}.tif`;
      await writeGeoTiff(path, values, { width: 3, height: 3, bandCount: 1, dataType, nodata: 7 });
      const back = await readRaster(path);
      assert.equal(back.info.dataType, dataType);
      assert.equal(back.info.nodata, 7);
      assert.equal(back.info.geo, null);
      assert.deepEqual(Array.from(back.data), expected[dataType], dataType);
    }
  }));

Deno.test("rows streamed in uneven blocks over many strips equal a one-shot write; BigTIFF reads back", () =>
  withTempDir(async (dir) => {
    const source = await readRaster(RASTERS.osbsLzw);
    const { width, height } = source.info;
    const header = {
      width,
      height,
      bandCount: 3,
      dataType: "uint8" as const,
      geo: source.info.geo,
      nodata: 255,
    };
    await writeGeoTiff(`${dir}/whole.tif`, source.data, header);
    const writer = await GeoTiffStripWriter.open(`${dir}/streamed.tif`, {
      ...header,
      rowsPerStrip: 16,
      bigTiff: true,
    });
    const pixels = width * height;
    for (let y = 0; y < height; y += 7) {
      const rows = Math.min(7, height - y);
      const block = new Float32Array(3 * rows * width);
      for (let b = 0; b < 3; b++) {
        block.set(
          source.data.subarray(b * pixels + y * width, b * pixels + (y + rows) * width),
          b * rows * width,
        );
      }
      await writer.writeRows(y, block);
    }
    assert.equal(writer.rowsWritten, height);
    await writer.close();
    const whole = await readRaster(`${dir}/whole.tif`);
    const streamed = await readRaster(`${dir}/streamed.tif`);
    assert.deepEqual(streamed.data, source.data);
    assert.deepEqual(whole.data, source.data);
    assert.deepEqual(streamed.info.geo, source.info.geo);
    assert.deepEqual(await listDir(dir), ["streamed.tif", "whole.tif"]);
  }));

Deno.test({
  name:
    "gdalinfo confirms a ×2 super-resolved uint16 window: CRS, origin, pixel size, size, nodata, type, DEFLATE, stats",
  ignore: !hasGdal,
  fn: () =>
    withTempDir(async (dir) => {
      const source = await openRaster(RASTERS.mosaicUint16);
      const [x, y, w, h] = [0, 500, 120, 90];
      const lr = await source.readWindow(x, y, w, h);
      const geo = scaleGeo(windowGeo(source.geo!, x, y), 2);
      await source.close();
      const hr = enlarge(lr, w, h, 2);
      const path = `${dir}/upscaled.tif`;
      await writeGeoTiff(path, hr, {
        width: 2 * w,
        height: 2 * h,
        bandCount: 3,
        dataType: "uint16",
        nodata: 0,
        geo,
      });
      const info = await gdalinfoJson(path);
      assert.deepEqual(info.size, [240, 180]);
      const px = 300.038239038384006;
      const expectedTransform = [425085, px / 2, 0, 5215515 - 500 * px, 0, -px / 2];
      info.geoTransform!.forEach((v, i) =>
        assert.ok(Math.abs(v - expectedTransform[i]!) < 1e-6, `gt[${i}] ${v}`)
      );
      assert.match(info.coordinateSystem!.wkt, /ID\["EPSG",32618\]\]$/);
      assert.equal(info.metadata.IMAGE_STRUCTURE?.COMPRESSION, "DEFLATE");
      assert.equal(info.metadata.IMAGE_STRUCTURE?.INTERLEAVE, "PIXEL");
      assert.equal(info.bands.length, 3);
      info.bands.forEach((band, b) => {
        assert.equal(band.type, "UInt16");
        assert.equal(band.noDataValue, 0);
        const expected = bandStats(hr, b, 240 * 180, 0);
        assert.equal(band.minimum, expected.min);
        assert.equal(band.maximum, expected.max);
        assert.ok(Math.abs(band.mean! - expected.mean) < 1e-3);
      });
    }),
});

Deno.test({
  name: "gdalinfo: 3-band uint8 is RGB, 4-band is grey plus undefined extra samples, float32 nodata NaN",
  ignore: !hasGdal,
  fn: () =>
    withTempDir(async (dir) => {
      const rgb = await readRaster(RASTERS.osbsLzw);
      await writeGeoTiff(`${dir}/rgb.tif`, rgb.data, {
        width: 400,
        height: 400,
        bandCount: 3,
        dataType: "uint8",
        nodata: 255,
        geo: rgb.info.geo,
      });
      const rgbInfo = await gdalinfoJson(`${dir}/rgb.tif`);
      assert.deepEqual(rgbInfo.bands.map((b) => b.colorInterpretation), ["Red", "Green", "Blue"]);
      assert.match(rgbInfo.coordinateSystem!.wkt, /ID\["EPSG",32617\]\]$/);
      assert.deepEqual(rgbInfo.geoTransform, (await gdalinfoJson(RASTERS.osbsLzw)).geoTransform);

      const naip = await readRaster(RASTERS.naip4Band);
      const header = {
        width: 934,
        height: 723,
        bandCount: 4,
        dataType: "uint8" as const,
        nodata: 0,
        geo: naip.info.geo,
      };
      await writeGeoTiff(`${dir}/naip.tif`, naip.data, header);
      const naipInfo = await gdalinfoJson(`${dir}/naip.tif`);
      assert.deepEqual(naipInfo.bands.map((b) => b.colorInterpretation), [
        "Gray",
        "Undefined",
        "Undefined",
        "Undefined",
      ]);
      assert.match(naipInfo.coordinateSystem!.wkt, /ID\["EPSG",26914\]\]$/);
      naipInfo.bands.forEach((band, b) =>
        assert.equal(band.maximum, bandStats(naip.data, b, 934 * 723, 0).max)
      );

      const floats = new Float32Array([0.5, Number.NaN, -2.25, 1e6]);
      await writeGeoTiff(`${dir}/float.tif`, floats, {
        width: 2,
        height: 2,
        bandCount: 1,
        dataType: "float32",
        nodata: Number.NaN,
      });
      const floatInfo = await gdalinfoJson(`${dir}/float.tif`);
      assert.equal(floatInfo.bands[0]!.type, "Float32");
      assert.equal(floatInfo.bands[0]!.noDataValue, "NaN");
      assert.equal(floatInfo.bands[0]!.minimum, -2.25);
      assert.equal(floatInfo.bands[0]!.maximum, 1e6);
    }),
});

Deno.test("an existing output is refused unless overwrite; failures leave no partial file", () =>
  withTempDir(async (dir) => {
    const path = `${dir}/out.tif`;
    const data = new Float32Array(4).fill(9);
    const header = { width: 2, height: 2, bandCount: 1, dataType: "uint8" as const };
    await writeGeoTiff(path, data, header);
    await assert.rejects(writeGeoTiff(path, new Float32Array(4), header), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(error.message, /out\.tif: output already exists/);
      return true;
    });
    assert.deepEqual(Array.from((await readRaster(path)).data), [9, 9, 9, 9]);
    await writeGeoTiff(path, new Float32Array(4).fill(3), header, { overwrite: true });
    assert.deepEqual(Array.from((await readRaster(path)).data), [3, 3, 3, 3]);
    // --overwrite replaces a file, never a folder (and what is in it).
    await Deno.mkdir(`${dir}/folder.tif`);
    await Deno.writeTextFile(`${dir}/folder.tif/keep.txt`, "mine");
    await assert.rejects(
      writeGeoTiff(`${dir}/folder.tif`, data, header, { overwrite: true }),
      /folder\.tif: is a folder; --overwrite replaces a file, never a folder/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/folder.tif/keep.txt`), "mine");
    await Deno.remove(`${dir}/folder.tif`, { recursive: true });

    const unfinished = await GeoTiffStripWriter.open(`${dir}/unfinished.tif`, header);
    await unfinished.writeRows(0, new Float32Array(2));
    await assert.rejects(unfinished.writeRows(0, new Float32Array(2)), RangeError);
    await assert.rejects(unfinished.close(), /only 1 of 2 rows were written/);
    const aborted = await GeoTiffStripWriter.open(`${dir}/aborted.tif`, header);
    await aborted.writeRows(0, new Float32Array(2));
    await aborted.abort();
    assert.deepEqual(await listDir(dir), ["out.tif"]);
  }));
