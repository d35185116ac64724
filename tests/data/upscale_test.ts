import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { windowGeo } from "../../data/geo.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { chooseNormalization } from "../../data/normalize.ts";
import { rasterMetrics } from "../../data/metrics.ts";
import { openRaster, readRaster } from "../../data/raster.ts";
import { resizeBicubic } from "../../data/resample.ts";
import { type SuperResolve, type TileBatch, upscaleRaster } from "../../data/upscale.ts";
import { gdalinfoJson, hasGdal, listDir, RASTERS, withTempDir } from "./helpers.ts";

/** Writes a 100×90 window of the Landsat scene (20% of it in the nodata collar) as the LR input. */
async function writeInput(path: string): Promise<void> {
  const source = await openRaster(RASTERS.rgbByte);
  const data = await source.readWindow(80, 200, 100, 90);
  const geo = windowGeo(source.geo!, 80, 200);
  await source.close();
  await writeGeoTiff(path, data, { width: 100, height: 90, bandCount: 3, dataType: "uint8", nodata: 0, geo });
}

/** A stand-in model: the bicubic condition itself (so the output is a tiled bicubic upscale). */
const bicubicModel: SuperResolve = (batch: TileBatch) =>
  Promise.resolve({ hr: batch.lrUp.slice(), std: null });

Deno.test("upscaleRaster: tiled, blended, streamed output equals a bicubic upscale away from nodata", () =>
  withTempDir(async (dir) => {
    await writeInput(`${dir}/lr.tif`);
    const batches: number[] = [];
    const progress: number[] = [];
    const summary = await upscaleRaster({
      inputPath: `${dir}/lr.tif`,
      outputPath: `${dir}/hr.tif`,
      factor: 2,
      tileSize: 32,
      padding: 4,
      batchSize: 3,
      normalization: chooseNormalization("uint8", 3),
      onProgress: (done, total) => progress.push(done / total),
    }, (batch) => {
      batches.push(batch.shape.batch);
      assert.deepEqual([batch.shape.height, batch.shape.lrHeight, batch.lr.length], [
        64,
        32,
        batch.shape.batch * 3 * 32 * 32,
      ]);
      return bicubicModel(batch);
    });
    assert.deepEqual(summary, {
      outputPath: `${dir}/hr.tif`,
      width: 200,
      height: 180,
      bands: 3,
      tiles: 16,
      skippedTiles: 0,
    });
    assert.ok(batches.every((n) => n <= 3));
    assert.equal(progress[0], 0, "progress starts before the first batch");
    assert.equal(progress.at(-1), 1);
    assert.deepEqual(await listDir(dir), ["hr.tif", "lr.tif"]);

    const lr = await readRaster(`${dir}/lr.tif`);
    const hr = await readRaster(`${dir}/hr.tif`);
    assert.deepEqual([hr.info.width, hr.info.height, hr.info.dataType, hr.info.nodata], [
      200,
      180,
      "uint8",
      0,
    ]);
    assert.equal(hr.info.geo!.originX, lr.info.geo!.originX);
    assert.equal(hr.info.geo!.pixelSizeX, lr.info.geo!.pixelSizeX / 2);
    const reference = resizeBicubic(lr.data, 100, 90, 200, 180);
    let compared = 0;
    let sumDiff = 0;
    const lrPixels = 100 * 90;
    for (let y = 0; y < 180; y++) {
      for (let x = 0; x < 200; x++) {
        const lrIndex = Math.floor(y / 2) * 100 + Math.floor(x / 2);
        const lrNodata = [0, 1, 2].every((b) => lr.data[b * lrPixels + lrIndex] === 0);
        for (let b = 0; b < 3; b++) {
          const value = hr.data[b * 36000 + y * 200 + x]!;
          if (lrNodata) {
            assert.equal(value, 0, `nodata stays nodata at (${x}, ${y})`);
          } else if (x >= 16 && y >= 16 && x < 184 && y < 164) {
            // Away from the nodata collar and the raster edge, tiled bicubic ≈ whole-image bicubic.
            const near = Math.min(
              ...[-8, 0, 8].map((d) => lr.data[b * lrPixels + Math.min(8999, Math.max(0, lrIndex + d))]!),
            );
            if (near === 0) continue;
            sumDiff += Math.abs(
              value - Math.min(255, Math.max(1, Math.round(reference[b * 36000 + y * 200 + x]!))),
            );
            compared++;
          }
        }
      }
    }
    assert.ok(compared > 30000, `${compared} samples compared`);
    assert.ok(sumDiff / compared < 0.05, `mean |Δ| ${sumDiff / compared}`);
  }));

Deno.test({
  name:
    "gdalinfo: the upscaled GeoTIFF keeps CRS and origin, halves the pixel size, doubles the size, keeps nodata",
  ignore: !hasGdal,
  fn: () =>
    withTempDir(async (dir) => {
      await writeInput(`${dir}/lr.tif`);
      const options = {
        factor: 2,
        tileSize: 32,
        padding: 4,
        batchSize: 4,
        normalization: chooseNormalization("uint8", 3),
      };
      await upscaleRaster(
        { ...options, inputPath: `${dir}/lr.tif`, outputPath: `${dir}/hr.tif` },
        bicubicModel,
      );
      const lr = await gdalinfoJson(`${dir}/lr.tif`);
      const hr = await gdalinfoJson(`${dir}/hr.tif`);
      assert.deepEqual(hr.size, [200, 180]);
      const [ox, px, , oy, , py] = lr.geoTransform!;
      assert.deepEqual(hr.geoTransform, [ox, px! / 2, 0, oy, 0, py! / 2]);
      assert.equal(hr.coordinateSystem!.wkt, lr.coordinateSystem!.wkt);
      assert.deepEqual(hr.bands.map((b) => [b.type, b.noDataValue, b.colorInterpretation]), [
        ["Byte", 0, "Red"],
        ["Byte", 0, "Green"],
        ["Byte", 0, "Blue"],
      ]);
      assert.equal(hr.metadata.IMAGE_STRUCTURE?.COMPRESSION, "DEFLATE");
    }),
});

Deno.test("colour correction pulls a hue-shifted output's low frequencies back to the input", () =>
  withTempDir(async (dir) => {
    await writeInput(`${dir}/lr.tif`);
    const shifted: SuperResolve = (batch) =>
      Promise.resolve({
        hr: batch.lrUp.map((v, i) => (Math.floor(i / 4096) % 3 === 0 ? v + 0.2 : v)),
        std: null,
      });
    const options = {
      factor: 2,
      tileSize: 32,
      padding: 4,
      batchSize: 8,
      normalization: chooseNormalization("uint8", 3),
    };
    await upscaleRaster({ ...options, inputPath: `${dir}/lr.tif`, outputPath: `${dir}/raw.tif` }, shifted);
    await upscaleRaster({
      ...options,
      inputPath: `${dir}/lr.tif`,
      outputPath: `${dir}/fixed.tif`,
      colorCorrection: true,
    }, shifted);
    const lr = await readRaster(`${dir}/lr.tif`);
    const redError = async (path: string) => {
      const hr = await readRaster(path);
      const low = resizeBicubic(hr.data, 200, 180, 100, 90);
      let sum = 0;
      let count = 0;
      for (let i = 0; i < 9000; i++) {
        if (lr.data[i] === 0 || lr.data[i]! < 20) continue;
        sum += Math.abs(low[i]! - lr.data[i]!);
        count++;
      }
      return sum / count;
    };
    const before = await redError(`${dir}/raw.tif`);
    const after = await redError(`${dir}/fixed.tif`);
    assert.ok(before > 20, `the shift is visible: ${before}`);
    assert.ok(after < before / 4, `corrected ${after} vs ${before}`);
  }));

Deno.test("bad input: band mismatch, smaller than a tile, all nodata, existing output — no output file, model not called", () =>
  withTempDir(async (dir) => {
    await writeInput(`${dir}/lr.tif`);
    await writeGeoTiff(`${dir}/blank.tif`, new Float32Array(3 * 40 * 40), {
      width: 40,
      height: 40,
      bandCount: 3,
      dataType: "uint8",
      nodata: 0,
    });
    await Deno.writeTextFile(`${dir}/taken.tif`, "keep me");
    let calls = 0;
    const model: SuperResolve = (batch) => {
      calls++;
      return bicubicModel(batch);
    };
    const base = {
      factor: 2,
      tileSize: 32,
      padding: 4,
      batchSize: 2,
      normalization: chooseNormalization("uint8", 3),
    };
    const fails = (options: Partial<Parameters<typeof upscaleRaster>[0]>, pattern: RegExp) =>
      assert.rejects(
        upscaleRaster(
          { ...base, inputPath: `${dir}/lr.tif`, outputPath: `${dir}/out.tif`, ...options },
          model,
        ),
        (error: unknown) =>
          error instanceof DataError && pattern.test(error.message) && !error.message.includes("\n"),
      );
    await fails(
      { normalization: chooseNormalization("uint8", 4) },
      /lr\.tif: the model expects 4 bands, the raster gives 3/,
    );
    await fails({ bands: [0, 1] }, /lr\.tif: the model expects 3 bands, the raster gives 2 \(selected\)/);
    await fails({ bands: [0, 1, 5] }, /lr\.tif: band 6 \(index 5\) does not exist/);
    await fails(
      { tileSize: 128, padding: 8 },
      /lr\.tif: raster of 100×90 is smaller than one 128×128 model tile/,
    );
    await fails({ outputPath: `${dir}/taken.tif` }, /taken\.tif: output already exists/);
    assert.equal(calls, 0);
    await fails({ inputPath: `${dir}/blank.tif` }, /blank\.tif: every pixel is nodata/);
    await fails({ inputPath: `${dir}/missing.tif` }, /missing\.tif: file not found/);
    assert.equal(calls, 0);
    assert.deepEqual(await listDir(dir), ["blank.tif", "lr.tif", "taken.tif"]);
    assert.equal(await Deno.readTextFile(`${dir}/taken.tif`), "keep me");
  }));

Deno.test("round trip: HR raster → ×4 LR → upscale lands exactly on the HR grid; metrics compare the two", () =>
  withTempDir(async (dir) => {
    const hr = await readRaster(RASTERS.osbsLzw);
    const geo = hr.info.geo!;
    const low = resizeBicubic(hr.data, 400, 400, 100, 100);
    const lrGeo = { ...geo, pixelSizeX: geo.pixelSizeX * 4, pixelSizeY: geo.pixelSizeY * 4 };
    await writeGeoTiff(`${dir}/lr.tif`, low, {
      width: 100,
      height: 100,
      bandCount: 3,
      dataType: "uint8",
      geo: lrGeo,
    });
    const options = {
      factor: 4,
      tileSize: 32,
      padding: 4,
      batchSize: 4,
      normalization: chooseNormalization("uint8", 3),
    };
    await upscaleRaster(
      { ...options, inputPath: `${dir}/lr.tif`, outputPath: `${dir}/sr.tif` },
      bicubicModel,
    );
    const sr = await readRaster(`${dir}/sr.tif`);
    assert.deepEqual([sr.info.width, sr.info.height], [400, 400]);
    assert.deepEqual([sr.info.geo!.originX, sr.info.geo!.originY, sr.info.geo!.epsg], [
      geo.originX,
      geo.originY,
      32617,
    ]);
    assert.ok(Math.abs(sr.info.geo!.pixelSizeX - geo.pixelSizeX) < 1e-12);
    const metrics = await rasterMetrics(RASTERS.osbsLzw, `${dir}/sr.tif`);
    // Bicubic ×4 on 10 cm savanna imagery: a plausible baseline, far from identical and far from noise.
    assert.ok(metrics.psnr > 18 && metrics.psnr < 35, `PSNR ${metrics.psnr}`);
    assert.ok(metrics.ssim > 0.3 && metrics.ssim < 0.95, `SSIM ${metrics.ssim}`);
  }));
