import assert from "node:assert/strict";
import { readRaster } from "../../data/raster.ts";
import { BandStatisticsAccumulator, nodataFraction, validMask } from "../../data/stats.ts";
import { gdalinfoJson, hasGdal, RASTERS } from "./helpers.ts";

/** NumPy's default percentile (linear interpolation between order statistics), written plainly. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

Deno.test("validMask: a pixel is nodata when every band is nodata, or any band is NaN or ±Inf", () => {
  // 6 pixels × 2 bands: (0,0) nodata, (0,5) valid, (NaN,0), (NaN,NaN), (Inf,3), (4,−Inf) non-finite.
  const data = new Float32Array([0, 0, NaN, NaN, Infinity, 4, 0, 5, 0, NaN, 3, -Infinity]);
  assert.deepEqual(Array.from(validMask(data, 6, 0)), [0, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(validMask(data, 6, null)), [1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(validMask(data, 6, Number.NaN)), [1, 1, 0, 0, 0, 0]);
  assert.equal(nodataFraction(new Uint8Array([1, 0, 0, 1])), 0.5);
});

Deno.test("NaN and ±Inf samples never reach the statistics (export and model.json get numbers, not null)", () => {
  const data = new Float32Array([1, 2, NaN, Infinity, -Infinity, 3]);
  const accumulator = new BandStatisticsAccumulator(1, "float32");
  accumulator.add(data, new Uint8Array(6).fill(1));
  const [stats] = accumulator.result()!;
  assert.deepEqual([stats!.count, stats!.min, stats!.max, stats!.mean], [3, 1, 3, 2]);
  assert.ok(Object.values(stats!.percentiles).every(Number.isFinite));
});

Deno.test("statistics merged over blocks equal a plain computation (uint16 exact percentiles, float sample)", () => {
  const values = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 4099 + (i % 3) * 20000);
  for (const dataType of ["uint16", "float32"] as const) {
    const accumulator = new BandStatisticsAccumulator(1, dataType);
    for (let start = 0; start < values.length; start += 1234) {
      const block = Float32Array.from(values.slice(start, start + 1234));
      accumulator.add(block, new Uint8Array(block.length).fill(1));
    }
    const [stats] = accumulator.result()!;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    assert.equal(stats!.count, 5000);
    assert.equal(stats!.min, Math.min(...values));
    assert.equal(stats!.max, Math.max(...values));
    assert.ok(Math.abs(stats!.mean - mean) < 1e-9);
    assert.ok(Math.abs(stats!.std - std) < 1e-9);
    for (const p of [0.1, 2, 98, 99.9]) {
      assert.ok(Math.abs(stats!.percentiles[`p${p}`]! - percentile(values, p)) < 1e-9, `${dataType} p${p}`);
    }
  }
});

Deno.test("invalid pixels, NaN and per-band nodata samples are left out; no valid pixel gives null", () => {
  const accumulator = new BandStatisticsAccumulator(2, "int16");
  accumulator.add(new Float32Array([-5, 100, 7, 1, NaN, 3]), new Uint8Array([1, 0, 1]));
  const [first, second] = accumulator.result()!;
  assert.deepEqual([first!.count, first!.min, first!.max], [2, -5, 7]);
  assert.deepEqual([second!.count, second!.min, second!.max], [2, 1, 3]);
  const withNodata = new BandStatisticsAccumulator(1, "uint8", 0);
  withNodata.add(new Float32Array([0, 4, 6]), new Uint8Array([1, 1, 1]));
  assert.deepEqual([withNodata.result()![0]!.count, withNodata.result()![0]!.mean], [2, 5]);
  const empty = new BandStatisticsAccumulator(1, "uint8");
  empty.add(new Float32Array([1, 2]), new Uint8Array([0, 0]));
  assert.equal(empty.result(), null);
});

Deno.test({
  name: "band statistics of a real uint16 raster match gdalinfo -stats (nodata excluded)",
  ignore: !hasGdal,
  fn: async () => {
    const raster = await readRaster(RASTERS.mosaicUint16);
    const pixels = raster.info.width * raster.info.height;
    const accumulator = new BandStatisticsAccumulator(3, "uint16", raster.info.nodata);
    accumulator.add(raster.data, validMask(raster.data, pixels, raster.info.nodata));
    const ours = accumulator.result()!;
    const gdal = (await gdalinfoJson(RASTERS.mosaicUint16)).bands;
    ours.forEach((stats, b) => {
      assert.equal(stats.min, gdal[b]!.minimum);
      assert.equal(stats.max, gdal[b]!.maximum);
      // gdalinfo's JSON rounds mean and standard deviation to 3 decimals.
      assert.ok(Math.abs(stats.mean - gdal[b]!.mean!) <= 5e-4);
      assert.ok(Math.abs(stats.std - gdal[b]!.stdDev!) <= 5e-4);
    });
  },
});
