/**
 * 8-bit RGBA previews of any raster: the first three bands as RGB (or one band as grey), uint8 shown as
 * stored, 16-bit/float stretched per band between its 2nd and 98th percentiles (the usual GIS display
 * stretch), [−1, 1] model tensors mapped like the metrics do, nodata transparent.
 * @module
 */
import type { OutputOptions } from "../data/files.ts";
import { signedUnitToByte } from "../data/metrics.ts";
import { writePng } from "./png.ts";
import type { RgbaImage } from "./png.ts";
import { openRaster } from "../data/raster.ts";
import { BandStatisticsAccumulator, validMask } from "../data/stats.ts";

/**
 * How values become 0–255: "none" (already 0–255, rounded and clamped), "percentile" (2–98% per band),
 * "signedUnit" ([−1, 1] → 0–255 as the metrics convert model outputs).
 */
export type PreviewStretch = "none" | "percentile" | "signedUnit";

/** Options of {@link previewImage}. */
export interface PreviewOptions {
  /** Band indices of `data` to show: three for RGB or one for grey. Default: the first three, or the first. */
  bands?: readonly number[];
  /** Value mapping. Default "none". */
  stretch?: PreviewStretch;
  /** Per-pixel validity; invalid pixels are transparent. */
  valid?: Uint8Array;
}

function defaultBands(bandCount: number): number[] {
  return bandCount >= 3 ? [0, 1, 2] : [0];
}

/** Per shown band: a function from value to 0–255. */
function channelMaps(
  data: Float32Array,
  pixels: number,
  bands: readonly number[],
  options: PreviewOptions,
): ((v: number) => number)[] {
  const stretch = options.stretch ?? "none";
  if (stretch === "signedUnit") return bands.map(() => signedUnitToByte);
  if (stretch === "none") return bands.map(() => (v) => Math.min(255, Math.max(0, Math.round(v))));
  const valid = options.valid ?? new Uint8Array(pixels).fill(1);
  return bands.map((band) => {
    const accumulator = new BandStatisticsAccumulator(1, "float32");
    accumulator.add(data.subarray(band * pixels, (band + 1) * pixels), valid);
    const stats = accumulator.result()?.[0];
    const low = stats?.percentiles.p2 ?? 0;
    const high = stats?.percentiles.p98 ?? 1;
    const scale = high > low ? 255 / (high - low) : 0;
    return (v: number) => Math.min(255, Math.max(0, Math.round((v - low) * scale)));
  });
}

/**
 * Renders band-sequential pixels as an {@link RgbaImage}.
 * @throws {RangeError} when the band selection is not 1 or 3 existing bands
 */
export function previewImage(
  data: Float32Array,
  width: number,
  height: number,
  options: PreviewOptions = {},
): RgbaImage {
  const pixels = width * height;
  const bandCount = data.length / pixels;
  const bands = options.bands ?? defaultBands(bandCount);
  if ((bands.length !== 1 && bands.length !== 3) || bands.some((b) => !(b >= 0 && b < bandCount))) {
    throw new RangeError(`preview: choose 1 or 3 of ${bandCount} bands, got [${bands.join(", ")}]`);
  }
  const maps = channelMaps(data, pixels, bands, options);
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    if (options.valid && !options.valid[i]) continue;
    for (let c = 0; c < 3; c++) {
      const shown = bands.length === 1 ? 0 : c;
      out[i * 4 + c] = maps[shown]!(data[bands[shown]! * pixels + i]!);
    }
    out[i * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/** Options of {@link rasterPreview}. */
export interface RasterPreviewOptions {
  /** Longest side of the preview in pixels; larger rasters are box-averaged down. Default 1024. */
  maxSize?: number;
  /** 0-based bands of the raster to show (1 or 3). Default: the first three, or the first. */
  bands?: readonly number[];
}

/**
 * A preview of a raster file of any size: read in blocks of rows, box-averaged over valid pixels to at
 * most `maxSize` pixels on the long side, stretched by data type (uint8 as stored, else 2–98%).
 * @throws {DataError} when the file cannot be read or a band does not exist
 */
export async function rasterPreview(path: string, options: RasterPreviewOptions = {}): Promise<RgbaImage> {
  const source = await openRaster(path);
  try {
    const bands = options.bands ?? defaultBands(source.bandCount);
    const step = Math.max(1, Math.ceil(Math.max(source.width, source.height) / (options.maxSize ?? 1024)));
    const outWidth = Math.ceil(source.width / step);
    const outHeight = Math.ceil(source.height / step);
    const outPixels = outWidth * outHeight;
    const sums = new Float64Array(bands.length * outPixels);
    const counts = new Uint32Array(outPixels);
    // Read at least 256 rows at a time (a whole multiple of the step): tiled files decode each tile once.
    const blockRows = step * Math.max(1, Math.ceil(256 / step));
    for (let y0 = 0; y0 < source.height; y0 += blockRows) {
      const rows = Math.min(blockRows, source.height - y0);
      const block = await source.readWindow(0, y0, source.width, rows, { bands });
      const blockPixels = rows * source.width;
      const valid = validMask(block, blockPixels, source.nodata);
      for (let r = 0; r < rows; r++) {
        const outRow = Math.floor((y0 + r) / step) * outWidth;
        for (let x = 0; x < source.width; x++) {
          const i = r * source.width + x;
          if (!valid[i]) continue;
          const o = outRow + Math.floor(x / step);
          counts[o] = counts[o]! + 1;
          for (let b = 0; b < bands.length; b++) {
            sums[b * outPixels + o] = sums[b * outPixels + o]! + block[b * blockPixels + i]!;
          }
        }
      }
    }
    const data = new Float32Array(sums.length);
    const valid = new Uint8Array(outPixels);
    for (let o = 0; o < outPixels; o++) {
      if (counts[o] === 0) continue;
      valid[o] = 1;
      for (let b = 0; b < bands.length; b++) data[b * outPixels + o] = sums[b * outPixels + o]! / counts[o]!;
    }
    const stretch = source.dataType === "uint8" ? "none" : "percentile";
    return previewImage(data, outWidth, outHeight, { stretch, valid });
  } finally {
    await source.close();
  }
}

/**
 * Writes a PNG preview of a raster file (see {@link rasterPreview}).
 * @throws {DataError} when the raster cannot be read or the PNG exists (without `overwrite`)
 */
export async function writeRasterPreview(
  rasterPath: string,
  pngPath: string,
  options: RasterPreviewOptions & OutputOptions = {},
): Promise<void> {
  await writePng(pngPath, await rasterPreview(rasterPath, options), options);
}

/** Anchors of the "inferno" colour map (matplotlib), evenly spaced from 0 to 1: perceptually uniform. */
const INFERNO: readonly [number, number, number][] = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 255, 164],
];

/**
 * An uncertainty (or any non-negative) map as a heat map: the mean over bands, 0 → black, `max` (default:
 * the 99th percentile) → pale yellow, through the inferno colour map.
 */
export function heatmapImage(data: Float32Array, width: number, height: number, max?: number): RgbaImage {
  const pixels = width * height;
  const bands = data.length / pixels;
  const values = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    let sum = 0;
    for (let b = 0; b < bands; b++) sum += data[b * pixels + i]!;
    values[i] = sum / bands;
  }
  const top = max ?? ([...values].sort((a, b) => a - b)[Math.floor(0.99 * (pixels - 1))] || 1);
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    const t = Math.min(1, Math.max(0, values[i]! / top)) * (INFERNO.length - 1);
    const k = Math.min(INFERNO.length - 2, Math.floor(t));
    const f = t - k;
    for (let c = 0; c < 3; c++) {
      out[i * 4 + c] = Math.round(INFERNO[k]![c]! * (1 - f) + INFERNO[k + 1]![c]! * f);
    }
    out[i * 4 + 3] = 255;
  }
  return { width, height, data: out };
}
