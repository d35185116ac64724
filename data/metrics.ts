/**
 * Image-quality metrics of a super-resolved image against its high-resolution reference.
 *
 * PSNR and SSIM exactly as published SR3 numbers are computed (the SR3 reference's `core/metrics.py`):
 * images are converted to uint8 (clamp to [−1, 1], map to [0, 255], round half to even like NumPy),
 * PSNR = 20·log10(255/√MSE) over all channels with no border crop (Infinity for identical images),
 * SSIM uses an 11×11 Gaussian window with σ = 1.5, C1 = (0.01·255)², C2 = (0.03·255)², "valid" filtering
 * (a 5-pixel border dropped), and the mean over channels.
 *
 * Next to them, on the same uint8 images (0..255 units), the remote-sensing metrics of spectral_metrics.ts:
 * SAM (spectral angle, degrees), and, given the scale factor, ERGAS (Wald 2000) and the high-frequency
 * energy ratio (detail above the low-resolution Nyquist frequency, output / reference).
 * @module
 */
import { validMask } from "./stats.ts";
import { DataError } from "../base/errors.ts";
import { readRaster } from "./raster.ts";
import { resizeBicubic, resizeBicubicUint8 } from "./resample.ts";
import { toDataTypeValue } from "./types.ts";
import { ergas, highFrequencyRatio, spectralAngleMapper } from "./spectral_metrics.ts";

/** Quality of one image against its reference. */
export interface ImageMetrics {
  /** Peak signal-to-noise ratio in dB (Infinity when identical). */
  psnr: number;
  /** Mean structural similarity in [−1, 1]. */
  ssim: number;
  /** Spectral angle mapper: mean per-pixel angle between band vectors, in degrees (0 when identical). */
  sam: number;
  /** ERGAS (Wald 2000), lower is better, 0 when identical; only when the scale factor is known. */
  ergas?: number;
  /**
   * High-frequency energy above the low-resolution Nyquist frequency, output / reference: ≈0 blurred,
   * ≈1 the reference's amount of detail, >1 noise; only when the scale factor is known.
   */
  highFrequencyRatio?: number;
}

/** Options of {@link imageMetrics}. */
export interface MetricOptions {
  /** The super-resolution factor (4 for ×4, ≥ 1); ERGAS and the high-frequency ratio need it. */
  factor?: number;
}

const WINDOW = 11;
const SIGMA = 1.5;
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** Round half to even, as NumPy's `round` (used by the reference's `tensor2img`). */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** One [−1, 1] value as the reference's `tensor2img` converts it: clamp, map to [0, 255], round. */
export function signedUnitToByte(value: number): number {
  const clamped = Math.min(1, Math.max(-1, value));
  return roundHalfEven(((clamped + 1) / 2) * 255);
}

/** Converts a [−1, 1] image to uint8 the way the reference's `tensor2img` does (clamp, ·255, round). */
export function toUint8Image(image: Float32Array): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = signedUnitToByte(image[i]!);
  return out;
}

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) {
    throw new RangeError(`${what}: images differ in size (${a.length} vs ${b.length} samples)`);
  }
}

/**
 * PSNR of two uint8 images of any layout (no crop); Infinity when identical. With `valid` (one flag per
 * pixel of band-sequential images) only valid pixels count.
 */
export function psnrUint8(a: Uint8Array, b: Uint8Array, valid: Uint8Array | null = null): number {
  assertSameLength(a, b, "psnr");
  let sum = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    if (valid && !valid[i % valid.length]) continue;
    const d = a[i]! - b[i]!;
    sum += d * d;
    count++;
  }
  const mse = sum / count;
  return mse === 0 ? Number.POSITIVE_INFINITY : 20 * Math.log10(255 / Math.sqrt(mse));
}

function gaussianWindow(): Float64Array {
  const kernel = new Float64Array(WINDOW);
  let total = 0;
  for (let i = 0; i < WINDOW; i++) {
    const d = i - (WINDOW - 1) / 2;
    kernel[i] = Math.exp(-(d * d) / (2 * SIGMA * SIGMA));
    total += kernel[i]!;
  }
  return kernel.map((v) => v / total);
}

/** "Valid" separable filtering of one plane with the normalised 1-D Gaussian in both directions. */
function filterValid(plane: Float64Array, width: number, height: number, kernel: Float64Array): Float64Array {
  const outWidth = width - WINDOW + 1;
  const outHeight = height - WINDOW + 1;
  const horizontal = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (let k = 0; k < WINDOW; k++) sum += plane[y * width + x + k]! * kernel[k]!;
      horizontal[y * outWidth + x] = sum;
    }
  }
  const out = new Float64Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (let k = 0; k < WINDOW; k++) sum += horizontal[(y + k) * outWidth + x]! * kernel[k]!;
      out[y * outWidth + x] = sum;
    }
  }
  return out;
}

/**
 * SSIM of two uint8 images stored band-sequentially (`[channel][row][column]`), averaged over channels.
 * With `valid` (one flag per pixel) only 11×11 windows of valid pixels count (NaN when there are none).
 * @throws {RangeError} when sizes differ or the image is smaller than the 11×11 window
 */
export function ssimUint8(
  a: Uint8Array,
  b: Uint8Array,
  width: number,
  height: number,
  valid: Uint8Array | null = null,
): number {
  assertSameLength(a, b, "ssim");
  const pixels = width * height;
  const channels = a.length / pixels;
  if (!Number.isInteger(channels) || channels < 1) {
    throw new RangeError(`ssim: ${a.length} samples is not a whole number of ${width}×${height} channels`);
  }
  if (width < WINDOW || height < WINDOW) {
    throw new RangeError(`ssim: image ${width}×${height} is smaller than the 11×11 window`);
  }
  const kernel = gaussianWindow();
  // A window counts when every pixel under it is valid: its filtered mask is (within rounding) 1.
  const counted = valid
    ? filterValid(Float64Array.from(valid), width, height, kernel).map((v) => v > 1 - 1e-9 ? 1 : 0)
    : null;
  const windows = counted ? counted.reduce((n, v) => n + v, 0) : (width - WINDOW + 1) * (height - WINDOW + 1);
  if (windows === 0) return Number.NaN;
  let total = 0;
  for (let c = 0; c < channels; c++) {
    const x = Float64Array.from(a.subarray(c * pixels, (c + 1) * pixels));
    const y = Float64Array.from(b.subarray(c * pixels, (c + 1) * pixels));
    const muX = filterValid(x, width, height, kernel);
    const muY = filterValid(y, width, height, kernel);
    const xx = filterValid(x.map((v) => v * v), width, height, kernel);
    const yy = filterValid(y.map((v) => v * v), width, height, kernel);
    const xy = filterValid(x.map((v, i) => v * y[i]!), width, height, kernel);
    let sum = 0;
    for (let i = 0; i < muX.length; i++) {
      if (counted && !counted[i]) continue;
      const mx = muX[i]!;
      const my = muY[i]!;
      const varX = xx[i]! - mx * mx;
      const varY = yy[i]! - my * my;
      const cov = xy[i]! - mx * my;
      sum += ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (varX + varY + C2));
    }
    total += sum / windows;
  }
  return total / channels;
}

/** All metrics of two uint8 images; `b` is the reference for the asymmetric ones. */
function uint8Metrics(
  a: Uint8Array,
  b: Uint8Array,
  width: number,
  height: number,
  factor?: number,
  valid: Uint8Array | null = null,
): ImageMetrics {
  const metrics: ImageMetrics = {
    psnr: psnrUint8(a, b, valid),
    ssim: ssimUint8(a, b, width, height, valid),
    sam: spectralAngleMapper(a, b, width, height, valid),
  };
  if (factor !== undefined) {
    metrics.ergas = ergas(a, b, width, height, factor);
    metrics.highFrequencyRatio = highFrequencyRatio(a, b, width, height, factor);
  }
  return metrics;
}

/**
 * Metrics of an output image `a` against its reference `b`, two [−1, 1] images (band-sequential, same
 * shape), converted to uint8 first exactly as the SR3 reference does. PSNR, SSIM and SAM are symmetric;
 * ERGAS and the high-frequency ratio (only with `options.factor`) take `b` as the reference. For a batch,
 * call per image.
 * @param a the output (e.g. super-resolved) image
 * @param b the reference (true high-resolution) image
 * @param options `factor`: the super-resolution factor, for ERGAS and the high-frequency ratio
 * @throws {RangeError} when sizes differ, the image is smaller than 11×11, or the factor is below 1
 */
export function imageMetrics(
  a: Float32Array,
  b: Float32Array,
  width: number,
  height: number,
  options: MetricOptions = {},
): ImageMetrics {
  return uint8Metrics(toUint8Image(a), toUint8Image(b), width, height, options.factor);
}

/** Per-band linear map of native values to uint8 over [min, max] of the reference raster (rounded, clamped). */
function rasterToUint8(
  data: Float32Array,
  pixels: number,
  ranges: { min: number; max: number }[],
): Uint8Array {
  const out = new Uint8Array(data.length);
  ranges.forEach(({ min, max }, b) => {
    const scale = max > min ? 255 / (max - min) : 0;
    for (let i = b * pixels; i < (b + 1) * pixels; i++) {
      out[i] = Math.min(255, Math.max(0, roundHalfEven((data[i]! - min) * scale)));
    }
  });
  return out;
}

/** Result of {@link rasterMetrics}. */
export interface RasterMetrics extends ImageMetrics {
  /** Width of both rasters. */
  width: number;
  /** Height of both rasters. */
  height: number;
  /** Number of bands compared. */
  bands: number;
  /** How native values became uint8: "uint8" (as stored) or "reference range" (per-band min–max of B). */
  scaling: "uint8" | "reference range";
  /** The scale factor used for ERGAS and the high-frequency ratio (given, or inferred from the LR raster). */
  factor?: number;
  /** The same metrics for the bicubic upsampling of the low-resolution raster, when one was given. */
  bicubic?: ImageMetrics;
}

/** Options of {@link rasterMetrics}. */
export interface RasterMetricOptions extends MetricOptions {
  /**
   * A low-resolution raster (e.g. the super-resolution input): its bicubic upsampling to the reference's
   * size is scored as a baseline. Without `factor`, the factor is the (integer) ratio of the sizes.
   */
  lowResolution?: string;
}

function bandRanges(data: Float32Array, bands: number, pixels: number): { min: number; max: number }[] {
  return Array.from({ length: bands }, (_, band) => {
    let min = Infinity;
    let max = -Infinity;
    for (let i = band * pixels; i < (band + 1) * pixels; i++) {
      const v = data[i]!;
      if (!Number.isFinite(v)) continue;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    return { min, max };
  });
}

/** The factor relating a low-resolution raster to the reference: checked when given, else inferred. */
function lowResolutionFactor(
  lowPath: string,
  low: { width: number; height: number },
  referencePath: string,
  reference: { width: number; height: number },
  factor: number | undefined,
): number {
  const sizes = `${low.width}×${low.height} vs ${reference.width}×${reference.height}`;
  if (factor === undefined) {
    const inferred = Math.round(reference.width / low.width);
    if (
      inferred < 1 || low.width * inferred !== reference.width || low.height * inferred !== reference.height
    ) {
      throw new DataError(
        `${lowPath} and ${referencePath}: sizes ${sizes} do not differ by one integer factor; pass the factor`,
      );
    }
    return inferred;
  }
  if (
    Math.round(low.width * factor) !== reference.width || Math.round(low.height * factor) !== reference.height
  ) {
    throw new DataError(
      `${lowPath} and ${referencePath}: sizes ${sizes} do not match the scale factor ${factor}`,
    );
  }
  return factor;
}

/**
 * Metrics of raster A (e.g. the super-resolved output) against raster B (the true high-resolution
 * reference), of equal size and band count. uint8 rasters are compared as stored; other types are mapped
 * to 0–255 per band by the reference's minimum and maximum, so that every image compared against B uses
 * the same scale. Pixels that are nodata (or NaN/Inf) in either raster are left out of PSNR and SAM, and
 * SSIM averages only the 11×11 windows without any (ERGAS and the high-frequency ratio, which filter the
 * whole image, still see them). With `options.lowResolution`, the bicubic upsampling of that raster (same bands, the same
 * mapping to 0–255) is scored against B as well.
 * @param bands 0-based bands to compare (default: all)
 * @param options `factor` for ERGAS and the high-frequency ratio; `lowResolution` for the bicubic baseline
 * @throws {DataError} naming the files when their sizes or band counts differ, the low-resolution raster
 * does not match the factor, or a file cannot be read
 * @throws {RangeError} for a factor below 1
 */
export async function rasterMetrics(
  pathA: string,
  pathB: string,
  bands?: readonly number[],
  options: RasterMetricOptions = {},
): Promise<RasterMetrics> {
  const a = await readRaster(pathA, bands);
  const b = await readRaster(pathB, bands);
  const { width, height } = b.info;
  if (width !== a.info.width || height !== a.info.height || a.bands !== b.bands) {
    throw new DataError(
      `${pathA} and ${pathB}: cannot compare rasters of different shape ` +
        `(${a.info.width}×${a.info.height}×${a.bands} vs ${width}×${height}×${b.bands})`,
    );
  }
  if (width < WINDOW || height < WINDOW) {
    throw new DataError(
      `${pathA} and ${pathB}: rasters of ${width}×${height} are smaller than the 11×11 SSIM window`,
    );
  }
  const pixels = width * height;
  const maskOf = (path: string, raster: typeof a): Uint8Array => {
    const mask = validMask(raster.data, pixels, raster.info.nodata);
    if (!mask.includes(1)) {
      throw new DataError(`${path}: every pixel is nodata (or NaN/Inf); there is nothing to compare`);
    }
    return mask;
  };
  // Pixels nodata (or NaN/Inf) in either raster are left out of PSNR, SSIM and SAM.
  const [maskA, maskB] = [maskOf(pathA, a), maskOf(pathB, b)];
  const both = maskA.map((v, i) => v & maskB[i]!);
  const valid = both.includes(0) ? both : null;
  if (valid && !valid.includes(1)) {
    throw new DataError(`${pathA} and ${pathB}: no pixel is valid in both; there is nothing to compare`);
  }
  const bothUint8 = a.info.dataType === "uint8" && b.info.dataType === "uint8";
  const ranges = bothUint8
    ? Array.from({ length: b.bands }, () => ({ min: 0, max: 255 }))
    : bandRanges(b.data, b.bands, pixels);
  const toUint8 = (data: Float32Array) =>
    bothUint8 ? Uint8Array.from(data) : rasterToUint8(data, pixels, ranges);
  const reference8 = toUint8(b.data);
  let factor = options.factor;
  let bicubic: ImageMetrics | undefined;
  if (options.lowResolution !== undefined) {
    const lowPath = options.lowResolution;
    const low = await readRaster(lowPath, bands);
    if (low.bands !== b.bands) {
      throw new DataError(
        `${lowPath} and ${pathB}: ${low.bands} bands vs ${b.bands}; compare the same bands`,
      );
    }
    factor = lowResolutionFactor(lowPath, low.info, pathB, b.info, factor);
    // Stored in the reference's data type (rounded, clamped) as a written bicubic raster would be, then
    // mapped to 0–255 like any output compared against B; uint8 by Pillow's 8-bit path, as the SR3
    // reference's bicubic images are.
    const upsampled = low.info.dataType === "uint8" && b.info.dataType === "uint8"
      ? Float32Array.from(
        resizeBicubicUint8(Uint8Array.from(low.data), low.info.width, low.info.height, width, height),
      )
      : resizeBicubic(low.data, low.info.width, low.info.height, width, height)
        .map((v) => toDataTypeValue(v, b.info.dataType));
    bicubic = uint8Metrics(toUint8(upsampled), reference8, width, height, factor, valid);
  }
  return {
    ...uint8Metrics(toUint8(a.data), reference8, width, height, factor, valid),
    width,
    height,
    bands: b.bands,
    scaling: bothUint8 ? "uint8" : "reference range",
    ...(factor === undefined ? {} : { factor }),
    ...(bicubic === undefined ? {} : { bicubic }),
  };
}
