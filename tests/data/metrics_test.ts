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
import { DataError } from "../../base/errors.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { imageMetrics, psnrUint8, rasterMetrics, ssimUint8, toUint8Image } from "../../data/metrics.ts";
import { resizeBicubicUint8 } from "../../data/resample.ts";
import { ergas, highFrequencyRatio, spectralAngleMapper } from "../../data/spectral_metrics.ts";
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

Deno.test("imageMetrics: SAM on the uint8 images always; ERGAS and the HF ratio only given the factor", () => {
  const plain = imageMetrics(f, g, W, H);
  assert.deepEqual(Object.keys(plain), ["psnr", "ssim", "sam"]);
  const withFactor = imageMetrics(f, g, W, H, { factor: 4 });
  // PSNR/SSIM stay the published numbers, bit for bit; the rest are spectral_metrics.ts on the uint8 images.
  assert.equal(withFactor.psnr, 29.07411880243712);
  assert.equal(withFactor.ssim, plain.ssim);
  const [f8, g8] = [toUint8Image(f), toUint8Image(g)];
  assert.equal(withFactor.sam, spectralAngleMapper(f8, g8, W, H));
  assert.equal(withFactor.sam, plain.sam);
  assert.equal(withFactor.ergas, ergas(f8, g8, W, H, 4));
  assert.equal(withFactor.highFrequencyRatio, highFrequencyRatio(f8, g8, W, H, 4));
  assert.ok(withFactor.ergas! > 0 && withFactor.highFrequencyRatio! > 0);

  // In 0..255 units (1, −1, −1) is (255, 0, 0) and (1, 1, −1) is (255, 255, 0): 45° (in raw [−1, 1] units
  // it would be arccos(1/3) ≈ 70.5°). (−1, −1, −1) is the zero vector: skipped.
  const n = 11;
  const pixel = (i: number, vector: number[]) => i % 3 === 0 ? [-1, -1, -1] : vector;
  const a = new Float32Array(3 * n * n);
  const b = new Float32Array(3 * n * n);
  for (let i = 0; i < n * n; i++) {
    pixel(i, [1, -1, -1]).forEach((v, c) => a[c * n * n + i] = v);
    [1, 1, -1].forEach((v, c) => b[c * n * n + i] = v);
  }
  assert.ok(Math.abs(imageMetrics(a, b, n, n).sam - 45) < 1e-12);
  assert.equal(imageMetrics(b, b, n, n, { factor: 2 }).sam, 0);
});

Deno.test("rasterMetrics --lr: the bicubic baseline is scored like a stored bicubic raster; sizes checked", () =>
  withTempDir(async (dir) => {
    const n = 48;
    let state = 9;
    const hr = Float32Array.from(
      { length: 3 * n * n },
      () => Math.floor(((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 256),
    );
    const lr = Float32Array.from(resizeBicubicUint8(Uint8Array.from(hr), n, n, n / 4, n / 4));
    const header = { bandCount: 3, dataType: "uint8" as const };
    await writeGeoTiff(`${dir}/hr.tif`, hr, { ...header, width: n, height: n });
    await writeGeoTiff(`${dir}/lr.tif`, lr, { ...header, width: n / 4, height: n / 4 });
    // uint8 rasters: the bicubic baseline is Pillow's 8-bit path, as stored by PIL.
    await writeGeoTiff(
      `${dir}/bicubic.tif`,
      Float32Array.from(resizeBicubicUint8(Uint8Array.from(lr), n / 4, n / 4, n, n)),
      {
        ...header,
        width: n,
        height: n,
      },
    );
    const result = await rasterMetrics(`${dir}/hr.tif`, `${dir}/hr.tif`, undefined, {
      lowResolution: `${dir}/lr.tif`,
    });
    assert.equal(result.factor, 4, "inferred from 12×12 → 48×48");
    assert.deepEqual(
      [result.psnr, result.ssim, result.sam, result.ergas, result.highFrequencyRatio],
      [Infinity, 1, 0, 0, 1],
    );
    const stored = await rasterMetrics(`${dir}/bicubic.tif`, `${dir}/hr.tif`, undefined, { factor: 4 });
    const { width: _w, height: _h, bands: _b, scaling: _s, factor: _f, ...storedMetrics } = stored;
    assert.deepEqual(result.bicubic, storedMetrics);
    assert.ok(
      result.bicubic!.highFrequencyRatio! < 0.1,
      `bicubic HF ratio ${result.bicubic!.highFrequencyRatio}`,
    );
    assert.ok(result.bicubic!.ergas! > 10 && result.bicubic!.sam! > 5);

    const plain = await rasterMetrics(`${dir}/bicubic.tif`, `${dir}/hr.tif`);
    assert.equal(plain.ergas, undefined);
    assert.equal(plain.psnr, stored.psnr);

    await writeGeoTiff(`${dir}/lr13.tif`, new Float32Array(3 * 13 * 12), {
      ...header,
      width: 13,
      height: 12,
    });
    const cases: [string, number | undefined, RegExp][] = [
      [
        "lr13.tif",
        undefined,
        /lr13\.tif and .*hr\.tif: sizes 13×12 vs 48×48 do not differ by one integer factor/,
      ],
      ["lr.tif", 3, /lr\.tif and .*hr\.tif: sizes 12×12 vs 48×48 do not match the scale factor 3/],
    ];
    for (const [name, factor, message] of cases) {
      await assert.rejects(
        rasterMetrics(`${dir}/bicubic.tif`, `${dir}/hr.tif`, undefined, {
          lowResolution: `${dir}/${name}`,
          factor,
        }),
        (error: unknown) => error instanceof DataError && message.test(error.message),
      );
    }
  }));

Deno.test("rasterMetrics maps non-uint8 rasters to 0–255 by the reference's (second raster's) range", () =>
  withTempDir(async (dir) => {
    // Reference: a 1000/2020 checkerboard (0 and 255 after mapping). Output: 1510 everywhere, which maps
    // to (1510 − 1000)·255/1020 = 127.5 → 128, so MSE = (128² + 127²)/2 = 16256.5. (Mapped by its own,
    // empty range it would be 0 everywhere and PSNR 20·log10(√2) ≈ 3.01 dB.)
    const n = 12;
    const header = { width: n, height: n, bandCount: 1, dataType: "uint16" as const };
    const checker = Float32Array.from({ length: n * n }, (_, i) => (i + Math.floor(i / n)) % 2 ? 2020 : 1000);
    await writeGeoTiff(`${dir}/reference.tif`, checker, header);
    await writeGeoTiff(`${dir}/flat.tif`, new Float32Array(n * n).fill(1510), header);
    const metrics = await rasterMetrics(`${dir}/flat.tif`, `${dir}/reference.tif`);
    assert.equal(metrics.scaling, "reference range");
    assert.ok(Math.abs(metrics.psnr - 6.020533124945522) < 1e-12, `PSNR ${metrics.psnr}`);
  }));

Deno.test("rasterMetrics leaves nodata out: PSNR and SAM skip its pixels, SSIM the windows that touch it", () =>
  withTempDir(async (dir) => {
    // 40×30, 3 bands; columns 0–14 are nodata (0) in the reference and garbage in the output. The valid
    // part of the output is the reference plus a small pattern, so the metrics must be those of that part.
    const [w, h, bands] = [40, 30, 3];
    const reference = new Float32Array(bands * w * h);
    const output = new Float32Array(bands * w * h);
    for (let i = 0; i < reference.length; i++) {
      const x = i % w;
      const value = 60 + ((i * 37) % 150);
      reference[i] = x < 15 ? 0 : value;
      output[i] = x < 15 ? 255 - (i % 7) : value + ((i % 5) - 2);
    }
    const header = { width: w, height: h, bandCount: bands, dataType: "uint8" as const, nodata: 0 };
    await writeGeoTiff(`${dir}/out.tif`, output, { ...header, nodata: null });
    await writeGeoTiff(`${dir}/ref.tif`, reference, header);
    const metrics = await rasterMetrics(`${dir}/out.tif`, `${dir}/ref.tif`);
    // The same metrics on the valid columns alone, cut out as images of their own.
    const crop = (data: Float32Array) =>
      Uint8Array.from({ length: bands * 25 * h }, (_, j) => {
        const [band, rest] = [Math.floor(j / (25 * h)), j % (25 * h)];
        return data[band * w * h + Math.floor(rest / 25) * w + 15 + (rest % 25)]!;
      });
    const [o, r] = [crop(output), crop(reference)];
    assert.equal(metrics.psnr, psnrUint8(o, r));
    assert.ok(
      Math.abs(metrics.ssim - ssimUint8(o, r, 25, h)) < 1e-12,
      `${metrics.ssim} vs ${ssimUint8(o, r, 25, h)}`,
    );
    assert.ok(Math.abs(metrics.sam - spectralAngleMapper(o, r, 25, h)) < 1e-12);
  }));
