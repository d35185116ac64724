/*
 * Expected values were computed once with NumPy 1.24 / SciPy 1.10 (an independent implementation:
 * scipy.ndimage.correlate with the 11×11 Gaussian, cropped by 5) and cross-checked with scikit-image 0.19.3
 * (`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
 * channel_axis=0)`, `peak_signal_noise_ratio(data_range=255)`), which agreed to 1e-15. Test images, C=3,
 * H=20, W=24, channel-first:
 *   a = (7x + 13y + 29c + (x·y mod 17)) mod 256
 *   b = clip(a + ((3x + 5y + c) mod 9) − 4 + (3 if x > y else 0), 0, 255)
 *   f = float32(0.9·sin(0.3x + 0.2y + c) + 0.05·((x·y mod 7) − 3)/3)
 *   g = float32(f + 0.1·cos(0.7x − 0.4y + c))
 * and f, g converted with round((clip(t, −1, 1) + 1)/2·255).
 */
import assert from "node:assert/strict";
import { DataError } from "../../data/errors.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { imageMetrics, psnrUint8, rasterMetrics, ssimUint8, toUint8Image } from "../../data/metrics.ts";
import { RASTERS, withTempDir } from "./helpers.ts";

const [C, H, W] = [3, 20, 24];

function build(
  fn: (c: number, y: number, x: number) => number,
  Type: Float32ArrayConstructor | Uint8ArrayConstructor,
) {
  const out = new Type(C * H * W);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[(c * H + y) * W + x] = fn(c, y, x);
  }
  return out;
}

const a = build((c, y, x) => (x * 7 + y * 13 + c * 29 + ((x * y) % 17)) % 256, Uint8Array) as Uint8Array;
const b = build((c, y, x) => {
  const v = (x * 7 + y * 13 + c * 29 + ((x * y) % 17)) % 256 + ((x * 3 + y * 5 + c) % 9) - 4 +
    (x > y ? 3 : 0);
  return Math.min(255, Math.max(0, v));
}, Uint8Array) as Uint8Array;
const f = build(
  (c, y, x) => Math.sin(0.3 * x + 0.2 * y + c) * 0.9 + (0.05 * (((x * y) % 7) - 3)) / 3,
  Float32Array,
) as Float32Array;
const g = build(
  (c, y, x) => f[(c * H + y) * W + x]! + 0.1 * Math.cos(0.7 * x - 0.4 * y + c),
  Float32Array,
) as Float32Array;

Deno.test("PSNR and SSIM of uint8 images match NumPy/SciPy and scikit-image", () => {
  assert.ok(Math.abs(psnrUint8(a, b) - 37.4997645074842) < 1e-10);
  assert.ok(Math.abs(ssimUint8(a, b, W, H) - 0.996635165671332) < 1e-12);
  assert.equal(psnrUint8(a, a), Number.POSITIVE_INFINITY);
  assert.ok(Math.abs(ssimUint8(a, a, W, H) - 1) < 1e-12);
});

Deno.test("[-1, 1] images are clamped, scaled to 0..255 and rounded before the metrics", () => {
  const f8 = toUint8Image(f);
  const g8 = toUint8Image(g);
  assert.equal(f8.reduce((s, v) => s + v, 0), 181551);
  assert.equal(g8.reduce((s, v) => s + v, 0), 181443);
  const metrics = imageMetrics(f, g, W, H);
  assert.ok(Math.abs(metrics.psnr - 29.07411880243712) < 1e-10);
  assert.ok(Math.abs(metrics.ssim - 0.9724026839648489) < 1e-12);
  // Out-of-range values clamp; 0 maps to 127.5, which rounds (half to even, as NumPy) to 128.
  assert.deepEqual(Array.from(toUint8Image(new Float32Array([-2, -1, 0, 1, 5]))), [0, 0, 128, 255, 255]);
});

Deno.test("metrics reject mismatched or too small images", () => {
  assert.throws(() => psnrUint8(a, a.subarray(1)), RangeError);
  assert.throws(() => ssimUint8(new Uint8Array(100), new Uint8Array(100), 10, 10), RangeError);
});

Deno.test("rasterMetrics compares two GeoTIFFs; different shapes are a DataError naming both files", () =>
  withTempDir(async (dir) => {
    const header = { width: W, height: H, bandCount: C, dataType: "uint8" as const };
    await writeGeoTiff(`${dir}/a.tif`, Float32Array.from(a), header);
    await writeGeoTiff(`${dir}/b.tif`, Float32Array.from(b), header);
    const metrics = await rasterMetrics(`${dir}/a.tif`, `${dir}/b.tif`);
    assert.ok(Math.abs(metrics.psnr - 37.4997645074842) < 1e-10);
    assert.ok(Math.abs(metrics.ssim - 0.996635165671332) < 1e-12);
    assert.deepEqual([metrics.width, metrics.height, metrics.bands, metrics.scaling], [W, H, C, "uint8"]);
    const same = await rasterMetrics(RASTERS.mosaicUint16, RASTERS.mosaicUint16);
    assert.deepEqual([same.psnr, same.ssim, same.scaling], [Infinity, 1, "reference range"]);
    await assert.rejects(rasterMetrics(`${dir}/a.tif`, RASTERS.osbsLzw), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(
        error.message,
        /a\.tif and .*OSBS_029\.tif: cannot compare rasters of different shape \(24×20×3 vs 400×400×3\)/,
      );
      return true;
    });
  }));
