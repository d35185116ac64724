import assert from "node:assert/strict";
import { chooseNormalization, denormalize, type Normalization, normalize } from "../../data/normalize.ts";
import { readRaster } from "../../data/raster.ts";
import { BandStatisticsAccumulator, validMask } from "../../data/stats.ts";
import { RASTERS } from "./helpers.ts";

Deno.test("uint8 maps by the type's range (x/127.5 − 1) and every value round-trips exactly", () => {
  const normalization = chooseNormalization("uint8", 1);
  assert.deepEqual(normalization, { method: "dataTypeRange", dataType: "uint8", low: [0], high: [255] });
  const values = Float32Array.from({ length: 256 }, (_, i) => i);
  const normalized = normalize(values, 256, normalization);
  values.forEach((v, i) => assert.ok(Math.abs(normalized[i]! - (v / 127.5 - 1)) < 1e-6));
  assert.deepEqual(denormalize(normalized, 256, normalization), values);
});

Deno.test("uint16 maps by the 0.1/99.9 percentiles of valid pixels, clamps outside, and restores units", async () => {
  const raster = await readRaster(RASTERS.mosaicUint16);
  const pixels = raster.info.width * raster.info.height;
  const valid = validMask(raster.data, pixels, 0);
  const accumulator = new BandStatisticsAccumulator(3, "uint16", 0);
  accumulator.add(raster.data, valid);
  const stats = accumulator.result()!;
  const normalization = chooseNormalization("uint16", 3, stats);
  assert.equal(normalization.method, "percentile");
  assert.deepEqual(normalization.low, stats.map((s) => s.percentiles["p0.1"]));
  assert.deepEqual(normalization.high, stats.map((s) => s.percentiles["p99.9"]));
  const restoredFromJson = JSON.parse(JSON.stringify(normalization)) as Normalization;
  const normalized = normalize(raster.data, pixels, restoredFromJson, valid);
  assert.ok(normalized.every((v) => v >= -1 && v <= 1));
  const back = denormalize(normalized, pixels, restoredFromJson, { valid, nodata: 0 });
  for (let b = 0; b < 3; b++) {
    const [low, high] = [normalization.low[b]!, normalization.high[b]!];
    for (let i = 0; i < pixels; i++) {
      const original = raster.data[b * pixels + i]!;
      // Values are clamped to [low, high], rounded, and moved off nodata 0 if they land on it.
      const expected = valid[i] ? Math.max(1, Math.round(Math.min(high, Math.max(low, original)))) : 0;
      if (back[b * pixels + i] !== expected) {
        assert.fail(`band ${b} pixel ${i}: ${back[b * pixels + i]} vs ${expected}`);
      }
    }
  }
});

Deno.test("denormalize writes nodata for invalid pixels and moves valid values off the nodata value", () => {
  const normalization = chooseNormalization("uint8", 1);
  const data = new Float32Array([-1, -1, 1, 0.5]);
  const valid = new Uint8Array([1, 0, 1, 1]);
  assert.deepEqual(Array.from(denormalize(data, 4, normalization, { valid, nodata: 0 })), [1, 0, 255, 191]);
  assert.deepEqual(Array.from(denormalize(data, 4, normalization, { valid, nodata: 255 })), [
    0,
    255,
    254,
    191,
  ]);
  const none = denormalize(data, 4, normalization, { valid });
  assert.ok(Number.isNaN(none[1]));
  const floats: Normalization = { method: "percentile", dataType: "float32", low: [-0.5], high: [1.5] };
  assert.deepEqual(Array.from(denormalize(new Float32Array([-1, 0, 0.25]), 3, floats)), [-0.5, 0.5, 0.75]);
  assert.throws(() => normalize(new Float32Array(6), 3, floats), RangeError);
  assert.throws(() => chooseNormalization("int16", 2), RangeError);
});
