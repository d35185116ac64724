/**
 * PSNR and SSIM exactly as published SR3 numbers are computed (the SR3 reference's `core/metrics.py`):
 * images are converted to uint8 (clamp to [−1, 1], map to [0, 255], round half to even like NumPy),
 * PSNR = 20·log10(255/√MSE) over all channels with no border crop (Infinity for identical images),
 * SSIM uses an 11×11 Gaussian window with σ = 1.5, C1 = (0.01·255)², C2 = (0.03·255)², "valid" filtering
 * (a 5-pixel border dropped), and the mean over channels.
 * @module
 */
import { DataError } from "./errors.ts";
import { readRaster } from "./raster.ts";

/** PSNR and SSIM of one image pair. */
export interface ImageMetrics {
  /** Peak signal-to-noise ratio in dB (Infinity when identical). */
  psnr: number;
  /** Mean structural similarity in [−1, 1]. */
  ssim: number;
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

/** PSNR of two uint8 images of any layout (all samples count, no crop); Infinity when identical. */
export function psnrUint8(a: Uint8Array, b: Uint8Array): number {
  assertSameLength(a, b, "psnr");
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  const mse = sum / a.length;
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
 * @throws {RangeError} when sizes differ or the image is smaller than the 11×11 window
 */
export function ssimUint8(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
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
      const mx = muX[i]!;
      const my = muY[i]!;
      const varX = xx[i]! - mx * mx;
      const varY = yy[i]! - my * my;
      const cov = xy[i]! - mx * my;
      sum += ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (varX + varY + C2));
    }
    total += sum / muX.length;
  }
  return total / channels;
}

/**
 * PSNR and SSIM of two [−1, 1] images (band-sequential, same shape), converted to uint8 first exactly as
 * the SR3 reference does. For a batch, call per image.
 */
export function imageMetrics(a: Float32Array, b: Float32Array, width: number, height: number): ImageMetrics {
  const a8 = toUint8Image(a);
  const b8 = toUint8Image(b);
  return { psnr: psnrUint8(a8, b8), ssim: ssimUint8(a8, b8, width, height) };
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
  /** How native values became uint8: "uint8" (as stored) or "reference range" (per-band min–max of A). */
  scaling: "uint8" | "reference range";
}

/**
 * PSNR and SSIM of two rasters of equal size and band count (a is the reference, e.g. the true
 * high-resolution image). uint8 rasters are compared as stored; other types are mapped to 0–255 per band
 * by the reference's minimum and maximum, so both use the same scale. Nodata pixels are not excluded
 * (SSIM needs whole windows); compare rasters with the same nodata layout.
 * @throws {DataError} naming both files when their sizes or band counts differ, or either cannot be read
 */
export async function rasterMetrics(
  pathA: string,
  pathB: string,
  bands?: readonly number[],
): Promise<RasterMetrics> {
  const a = await readRaster(pathA, bands);
  const b = await readRaster(pathB, bands);
  const { width, height } = a.info;
  if (width !== b.info.width || height !== b.info.height || a.bands !== b.bands) {
    throw new DataError(
      `${pathA} and ${pathB}: cannot compare rasters of different shape ` +
        `(${width}×${height}×${a.bands} vs ${b.info.width}×${b.info.height}×${b.bands})`,
    );
  }
  if (width < WINDOW || height < WINDOW) {
    throw new DataError(
      `${pathA} and ${pathB}: rasters of ${width}×${height} are smaller than the 11×11 SSIM window`,
    );
  }
  const pixels = width * height;
  const bothUint8 = a.info.dataType === "uint8" && b.info.dataType === "uint8";
  let a8: Uint8Array;
  let b8: Uint8Array;
  if (bothUint8) {
    a8 = Uint8Array.from(a.data);
    b8 = Uint8Array.from(b.data);
  } else {
    const ranges = Array.from({ length: a.bands }, (_, band) => {
      let min = Infinity;
      let max = -Infinity;
      for (let i = band * pixels; i < (band + 1) * pixels; i++) {
        const v = a.data[i]!;
        if (Number.isNaN(v)) continue;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      return { min, max };
    });
    a8 = rasterToUint8(a.data, pixels, ranges);
    b8 = rasterToUint8(b.data, pixels, ranges);
  }
  return {
    psnr: psnrUint8(a8, b8),
    ssim: ssimUint8(a8, b8, width, height),
    width,
    height,
    bands: a.bands,
    scaling: bothUint8 ? "uint8" : "reference range",
  };
}
