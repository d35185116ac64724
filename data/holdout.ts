/**
 * Degraded rasters and super-resolution test pairs: a window of a high-resolution raster and its ×factor
 * coarser version made by antialiased bicubic downsampling (Pillow's: its 8-bit path for uint8, else
 * rounded back to the raster's integer type; nodata left out), written as GeoTIFFs with the window's
 * georeferencing (the LR pixel `factor` times larger). With no co-registered low-resolution imagery at hand, this is how SR results
 * are measured on imagery a model never saw (`sr3 degrade`, the demo, `deno task quality`).
 * @module
 */
import { scaleGeo, windowGeo } from "./geo.ts";
import { checkBands } from "./geotiff_source.ts";
import { writeGeoTiff } from "./geotiff_writer.ts";
import { openRaster } from "./raster.ts";
import { resizeBicubicMasked } from "./resample.ts";
import { validMask } from "./stats.ts";
import { DataError } from "../base/errors.ts";

/** A window of a raster, in its pixels. */
export interface HoldoutWindow {
  /** Column of the upper-left pixel. */
  x: number;
  /** Row of the upper-left pixel. */
  y: number;
  /** Side in HR pixels (a multiple of `factor`). */
  size: number;
}

/** The pair, in the raster's native units, band-sequential. */
export interface HoldoutPair {
  /** The HR window (bands × size × size). */
  hr: Float32Array;
  /** Its downsampled version (bands × size/factor × size/factor). */
  lr: Float32Array;
  /** HR side. */
  size: number;
  /** LR side. */
  lrSize: number;
  /** Bands. */
  bands: number;
}

/** A rectangular pixel window of a raster. */
export interface RasterRegion {
  /** Column of the upper-left pixel. */
  x: number;
  /** Row of the upper-left pixel. */
  y: number;
  /** Width in pixels (a multiple of the factor). */
  width: number;
  /** Height in pixels (a multiple of the factor). */
  height: number;
}

/** What {@link writeDegraded} read and wrote, in the raster's native units, band-sequential. */
export interface DegradedRaster {
  /** The window read at full resolution (bands × height × width). */
  hr: Float32Array;
  /** Its downsampled version (bands × height/factor × width/factor). */
  lr: Float32Array;
  /** The window. */
  region: RasterRegion;
  /** Bands. */
  bands: number;
}

/**
 * Reads `region` (default: the whole raster) of `path`, downsamples it ×`factor` by antialiased bicubic
 * (the resampling sr3 makes training pairs with; nodata pixels are left out and stay nodata), and writes
 * it to `outPath` as a GeoTIFF of the source's data type, CRS and origin with a `factor`× larger pixel.
 * @throws {DataError} when the window leaves the raster or is not a whole multiple of the factor
 */
export async function writeDegraded(
  path: string,
  outPath: string,
  options: {
    factor: number;
    bands?: readonly number[];
    region?: RasterRegion;
    overwrite?: boolean;
    /** Leave nodata pixels out of the resampling (default true); false resamples every value as data. */
    maskNodata?: boolean;
  },
): Promise<DegradedRaster> {
  const { factor } = options;
  const source = await openRaster(path);
  try {
    const region = options.region ?? { x: 0, y: 0, width: source.width, height: source.height };
    const { x, y, width, height } = region;
    if (!(Number.isInteger(factor) && factor >= 1)) {
      throw new DataError(`${path}: the factor must be a whole number ≥ 1, got ${factor}`);
    }
    if (x < 0 || y < 0 || x + width > source.width || y + height > source.height) {
      throw new DataError(
        `${path}: window ${width}×${height} at (${x}, ${y}) leaves the ${source.width}×${source.height} raster`,
      );
    }
    if (width % factor !== 0 || height % factor !== 0) {
      throw new DataError(
        `${path}: a ${width}×${height} window does not divide into ${factor}×${factor} pixels`,
      );
    }
    const bands = checkBands(path, source.bandCount, options.bands);
    const hr = await source.readWindow(x, y, width, height, { bands });
    const [lrWidth, lrHeight] = [width / factor, height / factor];
    const masked = options.maskNodata !== false;
    const valid = masked
      ? validMask(hr, width * height, source.nodata)
      : new Uint8Array(width * height).fill(1);
    const resized = resizeBicubicMasked(hr, valid, width, height, lrWidth, lrHeight, {
      uint8: source.dataType === "uint8",
    });
    const integer = source.dataType.startsWith("uint") || source.dataType.startsWith("int");
    const lrPixels = lrWidth * lrHeight;
    const lr = resized.data.map((v, i) =>
      !resized.valid[i % lrPixels] && source.nodata !== null ? source.nodata : integer ? Math.round(v) : v
    );
    const geo = source.geo ? windowGeo(source.geo, x, y) : null;
    await writeGeoTiff(outPath, lr, {
      width: lrWidth,
      height: lrHeight,
      bandCount: bands.length,
      dataType: source.dataType,
      nodata: source.nodata,
      geo: geo ? scaleGeo(geo, 1 / factor) : null,
    }, { overwrite: options.overwrite });
    return { hr, lr, region, bands: bands.length };
  } finally {
    await source.close();
  }
}

/**
 * Cuts `window` from `path` (0-based `bands`), downsamples it by `factor`, and writes `<prefix>_hr.tif`
 * and `<prefix>_lr.tif` (replacing them: the caller owns the prefix).
 * @throws {DataError} when the window leaves the raster or its side is not a multiple of the factor
 */
export async function writeHoldoutPair(
  path: string,
  window: HoldoutWindow,
  bands: readonly number[],
  factor: number,
  prefix: string,
): Promise<HoldoutPair> {
  const { x, y, size } = window;
  const region = { x, y, width: size, height: size };
  // Every pixel is data here: the metrics score every pixel of the window, so the LR input must see them too.
  const { hr, lr } = await writeDegraded(path, `${prefix}_lr.tif`, {
    factor,
    bands,
    region,
    overwrite: true,
    maskNodata: false,
  });
  const source = await openRaster(path);
  try {
    const geo = source.geo ? windowGeo(source.geo, x, y) : null;
    await writeGeoTiff(`${prefix}_hr.tif`, hr, {
      width: size,
      height: size,
      bandCount: bands.length,
      dataType: source.dataType,
      nodata: source.nodata,
      geo,
    }, { overwrite: true });
  } finally {
    await source.close();
  }
  return { hr, lr, size, lrSize: size / factor, bands: bands.length };
}
