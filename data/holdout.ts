/**
 * Super-resolution test pairs cut from a high-resolution raster: a square window (the truth) and its
 * ×factor coarser version made by antialiased bicubic downsampling (Pillow's, rounded back to the
 * raster's integer type), both written as GeoTIFFs with the window's georeferencing (the LR pixel
 * `factor` times larger). With no co-registered low-resolution imagery at hand, this is how SR results
 * are measured on imagery a model never saw.
 * @module
 */
import { scaleGeo, windowGeo } from "./geo.ts";
import { writeGeoTiff } from "./geotiff_writer.ts";
import { openRaster } from "./raster.ts";
import { resizeBicubic } from "./resample.ts";
import { DataError } from "./errors.ts";

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
  const source = await openRaster(path);
  try {
    if (x < 0 || y < 0 || x + size > source.width || y + size > source.height || size % factor !== 0) {
      throw new DataError(
        `${path}: window ${size}×${size} at (${x}, ${y}) does not fit the ${source.width}×${source.height} ` +
          `raster in whole multiples of ${factor}`,
      );
    }
    const hr = await source.readWindow(x, y, size, size, { bands });
    const lrSize = size / factor;
    const integer = source.dataType.startsWith("uint") || source.dataType.startsWith("int");
    const lr = resizeBicubic(hr, size, size, lrSize, lrSize).map((v) => (integer ? Math.round(v) : v));
    const header = { bandCount: bands.length, dataType: source.dataType, nodata: source.nodata };
    const geo = source.geo ? windowGeo(source.geo, x, y) : null;
    await writeGeoTiff(`${prefix}_hr.tif`, hr, { ...header, width: size, height: size, geo }, {
      overwrite: true,
    });
    await writeGeoTiff(`${prefix}_lr.tif`, lr, {
      ...header,
      width: lrSize,
      height: lrSize,
      geo: geo ? scaleGeo(geo, 1 / factor) : null,
    }, { overwrite: true });
    return { hr, lr, size, lrSize, bands: bands.length };
  } finally {
    await source.close();
  }
}
