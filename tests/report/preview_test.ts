import assert from "node:assert/strict";
import { decodePng } from "../../deps.ts";
import { DataError } from "../../base/errors.ts";
import { encodePng, writePng } from "../../report/png.ts";
import { previewImage, rasterPreview, writeRasterPreview } from "../../report/preview.ts";
import { RASTERS, withTempDir } from "../data/helpers.ts";

Deno.test("encodePng: RGBA, grey, RGB and 16-bit grey decode back to the same samples", () => {
  const rgba = { width: 2, height: 1, data: new Uint8Array([1, 2, 3, 255, 4, 5, 6, 128]) };
  const decoded = decodePng(encodePng(rgba));
  assert.deepEqual([decoded.channels, decoded.depth, Array.from(decoded.data)], [
    4,
    8,
    Array.from(rgba.data),
  ]);
  const grey16 = {
    width: 2,
    height: 2,
    channels: 1 as const,
    depth: 16 as const,
    data: new Uint16Array([0, 1, 65535, 300]),
  };
  const decoded16 = decodePng(encodePng(grey16));
  assert.deepEqual([decoded16.channels, decoded16.depth, Array.from(decoded16.data)], [1, 16, [
    0,
    1,
    65535,
    300,
  ]]);
  const rgb = {
    width: 1,
    height: 1,
    channels: 3 as const,
    depth: 8 as const,
    data: new Uint8Array([9, 8, 7]),
  };
  assert.deepEqual(Array.from(decodePng(encodePng(rgb)).data), [9, 8, 7]);
  assert.throws(() => encodePng({ width: 2, height: 2, data: new Uint8Array(3) }), RangeError);
  assert.throws(() => encodePng({ ...grey16, data: new Uint8Array(4) }), RangeError);
});

Deno.test("previewImage: uint8 as stored, 2–98% stretch, [-1, 1] mapping, grey, nodata transparent", () => {
  const rgb = new Float32Array([10, 300, 20, -4, 30, 40]); // 2 pixels × 3 bands
  assert.deepEqual(Array.from(previewImage(rgb, 2, 1).data), [10, 20, 30, 255, 255, 0, 40, 255]);
  const ramp = Float32Array.from({ length: 101 }, (_, i) => i * 100);
  const stretched = previewImage(ramp, 101, 1, { stretch: "percentile" }).data;
  assert.deepEqual(
    [stretched[0], stretched[2 * 4], stretched[50 * 4], stretched[98 * 4], stretched[100 * 4]],
    [0, 0, 128, 255, 255],
  );
  const unit = previewImage(new Float32Array([-1, 0, 1]), 3, 1, { stretch: "signedUnit" }).data;
  assert.deepEqual([unit[0], unit[4], unit[8], unit[9], unit[11]], [0, 128, 255, 255, 255]);
  const masked = previewImage(new Float32Array([5, 6]), 2, 1, { valid: new Uint8Array([0, 1]) }).data;
  assert.deepEqual(Array.from(masked), [0, 0, 0, 0, 6, 6, 6, 255]);
  assert.throws(() => previewImage(new Float32Array(4), 2, 1, { bands: [0, 1] }), RangeError);
});

Deno.test("rasterPreview box-averages a uint16 raster to maxSize, stretches it, and makes nodata transparent", () =>
  withTempDir(async (dir) => {
    const preview = await rasterPreview(RASTERS.mosaicUint16, { maxSize: 200 });
    assert.deepEqual([preview.width, preview.height], [195, 198]);
    assert.equal(preview.data[3], 0, "the upper-left corner is in the nodata collar");
    const centre = ((99 * 195) + 97) * 4;
    assert.equal(preview.data[centre + 3], 255);
    let [low, high] = [255, 0];
    for (let i = 0; i < preview.data.length; i += 4) {
      if (preview.data[i + 3] === 0) continue;
      low = Math.min(low, preview.data[i]!);
      high = Math.max(high, preview.data[i]!);
    }
    assert.deepEqual([low, high], [0, 255]);
    await writeRasterPreview(RASTERS.osbsLzw, `${dir}/osbs.png`, { maxSize: 100 });
    const png = decodePng(await Deno.readFile(`${dir}/osbs.png`));
    assert.deepEqual([png.width, png.height, png.channels], [100, 100, 4]);
    await assert.rejects(writePng(`${dir}/osbs.png`, preview), DataError);
  }));
