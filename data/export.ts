/**
 * Export Tiles: cut a high-resolution raster (and optionally a co-registered low-resolution one) into
 * georeferenced training chips, in the layout of ArcGIS Pro's "Export Training Data for Deep Learning"
 * with the "Export Tiles" format: `images/` (high-resolution chips), `labels/` (the low-resolution chips of
 * the same footprint) and a `dataset.json` describing them.
 * @module
 */
import { DataError } from "../base/errors.ts";
import { crsLabel, sameCrs, windowGeo } from "./geo.ts";
import { checkBands } from "./geotiff_source.ts";
import { writeGeoTiff } from "./geotiff_writer.ts";
import { assertOutputFree, moveIntoPlace, removeQuietly, temporarySibling } from "./files.ts";
import { openRaster } from "./raster.ts";
import { type BandStatistics, BandStatisticsAccumulator, nodataFraction, validMask } from "./stats.ts";
import type { DataType, RasterSource } from "./types.ts";

/** Options of {@link exportTiles}. */
export interface ExportTilesOptions {
  /** The high-resolution raster. */
  hrPath: string;
  /** A co-registered low-resolution raster of the same area (optional). */
  lrPath?: string;
  /** Output folder; must not exist unless `overwrite`. */
  outDir: string;
  /** Chip width and height in high-resolution pixels. */
  chipSize: number;
  /** Step between chips in high-resolution pixels. Default: chipSize (no overlap). */
  stride?: number;
  /** 0-based bands to export. Default: all. */
  bands?: readonly number[];
  /** Chips with a larger fraction of nodata pixels (0–1) are skipped. Default 0.5. */
  maxNodata?: number;
  /**
   * Cut chips only inside this window of the high-resolution raster (pixels), e.g. to hold a region
   * back for evaluation. Default: the whole raster.
   */
  region?: { x: number; y: number; width: number; height: number };
  /** Replace an existing output folder (atomically, at the end). Default false. */
  overwrite?: boolean;
  /** Called after each candidate chip with (done, total), for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

/** Where one chip came from (upper-left corner, high-resolution pixels of the source). */
export interface ChipOrigin {
  /** File name in images/ (and labels/). */
  name: string;
  /** Column of the chip's upper-left pixel in the high-resolution raster. */
  x: number;
  /** Row of that pixel. */
  y: number;
}

/** The contents of dataset.json. */
export interface DatasetManifest {
  /** Always "sr3-export-tiles". */
  format: "sr3-export-tiles";
  /** Layout version. */
  version: 1;
  /** Chip size in high-resolution pixels. */
  chipSize: number;
  /** Step between chips. */
  stride: number;
  /** Resolution ratio LR/HR when labels/ exists, else null. */
  factor: number | null;
  /** Chip size of labels/ (chipSize / factor), else null. */
  lrChipSize: number | null;
  /** 0-based band indices of the source that the chips hold, in order. */
  bands: number[];
  /** Data type of the chips. */
  dataType: DataType;
  /** Nodata value of the chips ("nan" for NaN), or null. */
  nodata: number | "nan" | null;
  /** "EPSG:nnnn", "user-defined" or "none". */
  crs: string;
  /** High-resolution pixel size [x, y] in CRS units (y negative for north-up), or null without georeferencing. */
  pixelSize: [number, number] | null;
  /** Source files as given. */
  source: { hr: string; lr: string | null };
  /** The window of the high-resolution raster chips were cut from, or null for all of it. */
  region: { x: number; y: number; width: number; height: number } | null;
  /** Chips written and candidates skipped. */
  counts: { chips: number; candidates: number; skippedNodata: number; skippedOutsideLr: number };
  /** The nodata threshold used. */
  maxNodata: number;
  /** Per-band statistics of the valid pixels of all high-resolution chips. */
  statistics: BandStatistics[];
  /** The same for the low-resolution chips, or null. */
  lrStatistics: BandStatistics[] | null;
  /** Each chip's name and position. */
  chips: ChipOrigin[];
}

/** What {@link exportTiles} did. */
export interface ExportSummary {
  /** The output folder. */
  outDir: string;
  /** The manifest written to dataset.json. */
  manifest: DatasetManifest;
}

/** How low-resolution pixels line up with high-resolution ones. */
interface Pairing {
  factor: number;
  /** LR pixel column/row of the HR raster's upper-left corner. */
  offsetX: number;
  offsetY: number;
}

const ALIGNMENT_TOLERANCE = 1e-3; // in pixels: GeoTIFF origins are doubles printed by many tools

function nearInteger(value: number, tolerance = ALIGNMENT_TOLERANCE): number | null {
  const rounded = Math.round(value);
  return Math.abs(value - rounded) <= tolerance ? rounded : null;
}

/** Checks that the LR raster's grid is an integer coarsening of the HR grid and finds the offset. */
function pairRasters(hr: RasterSource, lr: RasterSource): Pairing {
  const both = `${hr.path} and ${lr.path}`;
  if (!hr.geo || !lr.geo) {
    if (hr.geo || lr.geo) throw new DataError(`${both}: one raster is georeferenced and the other is not`);
    const factor = hr.width / lr.width;
    if (!Number.isInteger(factor) || factor < 2 || hr.height !== lr.height * factor) {
      throw new DataError(
        `${both}: without georeferencing the sizes must differ by an integer factor ≥ 2 ` +
          `(${hr.width}×${hr.height} vs ${lr.width}×${lr.height})`,
      );
    }
    return { factor, offsetX: 0, offsetY: 0 };
  }
  if (!sameCrs(hr.geo, lr.geo)) {
    throw new DataError(`${both}: different coordinate systems (${crsLabel(hr.geo)} vs ${crsLabel(lr.geo)})`);
  }
  const ratioX = lr.geo.pixelSizeX / hr.geo.pixelSizeX;
  const ratioY = lr.geo.pixelSizeY / hr.geo.pixelSizeY;
  const factor = nearInteger(ratioX, 1e-6 * ratioX);
  if (factor === null || factor < 2 || nearInteger(ratioY, 1e-6 * ratioY) !== factor) {
    throw new DataError(
      `${both}: pixel sizes (${hr.geo.pixelSizeX}, ${hr.geo.pixelSizeY}) and (${lr.geo.pixelSizeX}, ` +
        `${lr.geo.pixelSizeY}) do not differ by one integer factor ≥ 2 (ratios ${ratioX}, ${ratioY})`,
    );
  }
  const offsetX = nearInteger((hr.geo.originX - lr.geo.originX) / lr.geo.pixelSizeX);
  const offsetY = nearInteger((hr.geo.originY - lr.geo.originY) / lr.geo.pixelSizeY);
  if (offsetX === null || offsetY === null) {
    throw new DataError(
      `${both}: grids are misaligned: the high-resolution origin (${hr.geo.originX}, ${hr.geo.originY}) ` +
        `does not fall on a low-resolution pixel corner (origin ${lr.geo.originX}, ${lr.geo.originY})`,
    );
  }
  return { factor, offsetX, offsetY };
}

function formatNodata(nodata: number | null): number | "nan" | null {
  return nodata !== null && Number.isNaN(nodata) ? "nan" : nodata;
}

/** Chip origins along one axis: 0, stride, 2·stride, … while a whole chip fits. */
function chipPositions(length: number, chipSize: number, stride: number): number[] {
  const positions: number[] = [];
  for (let p = 0; p + chipSize <= length; p += stride) positions.push(p);
  return positions;
}

/** Copies the chip at column x (full chip height) out of a band-sequential strip of rows. */
function sliceChip(strip: Float32Array, stripWidth: number, x: number, size: number): Float32Array {
  const rows = size;
  const bands = strip.length / (stripWidth * rows);
  const chip = new Float32Array(bands * size * size);
  for (let b = 0; b < bands; b++) {
    for (let r = 0; r < rows; r++) {
      const from = (b * rows + r) * stripWidth + x;
      chip.set(strip.subarray(from, from + size), (b * size + r) * size);
    }
  }
  return chip;
}

function validateOptions(options: ExportTilesOptions): { stride: number; maxNodata: number } {
  const { chipSize } = options;
  const stride = options.stride ?? chipSize;
  const maxNodata = options.maxNodata ?? 0.5;
  if (!Number.isInteger(chipSize) || chipSize < 1) {
    throw new RangeError(`chip size must be a positive integer, got ${chipSize}`);
  }
  if (!Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`stride must be a positive integer, got ${stride}`);
  }
  if (!(maxNodata >= 0 && maxNodata <= 1)) {
    throw new RangeError(`maxNodata must be a fraction in [0, 1], got ${maxNodata}`);
  }
  return { stride, maxNodata };
}

/** Entries sr3 export writes into its folder (and nothing else). */
const EXPORT_ENTRIES = new Set(["images", "labels", "dataset.json"]);

/** Whether `dir` is an sr3 export: its dataset.json has sr3's format tag and it holds nothing else. */
async function isExportFolder(dir: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/dataset.json`));
    if (manifest?.format !== "sr3-export-tiles") return false;
    for await (const entry of Deno.readDir(dir)) if (!EXPORT_ENTRIES.has(entry.name)) return false;
    return true;
  } catch {
    return false;
  }
}

/**
 * Cuts training chips. HR chips go to `images/NNNNNNNNN.tif` (georeferenced, the source's data type and
 * nodata); with `lrPath`, the LR chips of the same footprint go to `labels/` under the same name. The
 * factor is the ratio of the pixel sizes and must be an integer; the grids must line up. Chips whose
 * nodata fraction (in HR or LR) exceeds `maxNodata` are skipped. Everything is written into a temporary
 * folder that is renamed to `outDir` at the end, so a failure leaves nothing behind.
 *
 * @throws {DataError} for unreadable inputs, a band selection that does not exist, rasters that do not
 * pair up (factor, CRS, alignment, no overlap), a raster smaller than one chip, no chip with little
 * enough nodata, or an existing `outDir` without `overwrite`
 */
export async function exportTiles(options: ExportTilesOptions): Promise<ExportSummary> {
  const { hrPath, lrPath, outDir, chipSize } = options;
  const { stride, maxNodata } = validateOptions(options);
  await assertOutputFree(outDir, options.overwrite, isExportFolder);
  const hr = await openRaster(hrPath);
  const lr = lrPath
    ? await openRaster(lrPath).catch(async (error) => {
      await hr.close();
      throw error;
    })
    : null;
  const temporary = temporarySibling(outDir);
  try {
    const bands = checkBands(hrPath, hr.bandCount, options.bands);
    if (lr) checkBands(lr.path, lr.bandCount, bands);
    const region = options.region ?? { x: 0, y: 0, width: hr.width, height: hr.height };
    const { x: rx, y: ry, width: rw, height: rh } = region;
    if (
      ![rx, ry, rw, rh].every(Number.isInteger) || rx < 0 || ry < 0 || rx + rw > hr.width ||
      ry + rh > hr.height
    ) {
      throw new DataError(
        `${hrPath}: region ${rx},${ry},${rw},${rh} does not lie inside the ${hr.width}×${hr.height} raster`,
      );
    }
    if (rw < chipSize || rh < chipSize) {
      throw new DataError(
        `${hrPath}: ${options.region ? "region" : "raster"} of ${rw}×${rh} is smaller than one ` +
          `${chipSize}×${chipSize} chip`,
      );
    }
    const pairing = lr ? pairRasters(hr, lr) : null;
    if (pairing && (chipSize % pairing.factor !== 0 || stride % pairing.factor !== 0)) {
      throw new DataError(
        `${hrPath} and ${
          lr!.path
        }: chip size ${chipSize} and stride ${stride} must be multiples of the factor ${pairing.factor}`,
      );
    }
    const xs = chipPositions(rw, chipSize, stride).map((x) => x + rx);
    const ys = chipPositions(rh, chipSize, stride).map((y) => y + ry);
    const total = xs.length * ys.length;
    const lrSize = pairing ? chipSize / pairing.factor : 0;
    const insideLr = (x: number, y: number): boolean => {
      if (!pairing || !lr) return true;
      const lx = pairing.offsetX + x / pairing.factor;
      const ly = pairing.offsetY + y / pairing.factor;
      return lx >= 0 && ly >= 0 && lx + lrSize <= lr.width && ly + lrSize <= lr.height;
    };
    if (lr && !xs.some((x) => ys.some((y) => insideLr(x, y)))) {
      throw new DataError(`${hrPath} and ${lr.path}: the rasters do not overlap by a whole chip`);
    }

    await Deno.mkdir(`${temporary}/images`, { recursive: true });
    if (lr) await Deno.mkdir(`${temporary}/labels`);
    const hrStats = new BandStatisticsAccumulator(bands.length, hr.dataType, hr.nodata);
    const lrStats = lr ? new BandStatisticsAccumulator(bands.length, lr.dataType, lr.nodata) : null;
    const chips: ChipOrigin[] = [];
    let skippedNodata = 0;
    let skippedOutsideLr = 0;
    let done = 0;
    for (const y of ys) {
      // One strip of rows per chip row, so tiled and compressed sources decode each block once.
      const strip = await hr.readWindow(0, y, hr.width, chipSize, { bands });
      for (const x of xs) {
        done++;
        if (!insideLr(x, y)) {
          skippedOutsideLr++;
          options.onProgress?.(done, total);
          continue;
        }
        const chip = sliceChip(strip, hr.width, x, chipSize);
        const valid = validMask(chip, chipSize * chipSize, hr.nodata);
        let lrChip: Float32Array | null = null;
        let lrValid: Uint8Array | null = null;
        if (lr && pairing) {
          lrChip = await lr.readWindow(
            pairing.offsetX + x / pairing.factor,
            pairing.offsetY + y / pairing.factor,
            lrSize,
            lrSize,
            {
              bands,
            },
          );
          lrValid = validMask(lrChip, lrSize * lrSize, lr.nodata);
        }
        if (nodataFraction(valid) > maxNodata || (lrValid && nodataFraction(lrValid) > maxNodata)) {
          skippedNodata++;
          options.onProgress?.(done, total);
          continue;
        }
        const name = `${String(chips.length).padStart(9, "0")}.tif`;
        await writeGeoTiff(`${temporary}/images/${name}`, chip, {
          width: chipSize,
          height: chipSize,
          bandCount: bands.length,
          dataType: hr.dataType,
          nodata: hr.nodata,
          geo: hr.geo ? windowGeo(hr.geo, x, y) : null,
        });
        hrStats.add(chip, valid);
        if (lr && lrChip && lrValid && pairing) {
          const lx = pairing.offsetX + x / pairing.factor;
          const ly = pairing.offsetY + y / pairing.factor;
          await writeGeoTiff(`${temporary}/labels/${name}`, lrChip, {
            width: lrSize,
            height: lrSize,
            bandCount: bands.length,
            dataType: lr.dataType,
            nodata: lr.nodata,
            geo: lr.geo ? windowGeo(lr.geo, lx, ly) : null,
          });
          lrStats!.add(lrChip, lrValid);
        }
        chips.push({ name, x, y });
        options.onProgress?.(done, total);
      }
    }
    const statistics = hrStats.result();
    if (chips.length === 0 || !statistics) {
      throw new DataError(
        `${hrPath}: no chip has at most ${maxNodata * 100}% nodata ` +
          `(${total} candidates: ${skippedNodata} mostly nodata, ${skippedOutsideLr} outside the low-resolution raster)`,
      );
    }
    const manifest: DatasetManifest = {
      format: "sr3-export-tiles",
      version: 1,
      chipSize,
      stride,
      factor: pairing?.factor ?? null,
      lrChipSize: pairing ? lrSize : null,
      bands,
      dataType: hr.dataType,
      nodata: formatNodata(hr.nodata),
      crs: crsLabel(hr.geo),
      pixelSize: hr.geo ? [hr.geo.pixelSizeX, hr.geo.pixelSizeY] : null,
      source: { hr: hrPath, lr: lrPath ?? null },
      region: options.region ?? null,
      counts: { chips: chips.length, candidates: total, skippedNodata, skippedOutsideLr },
      maxNodata,
      statistics,
      lrStatistics: lrStats?.result() ?? null,
      chips,
    };
    await Deno.writeTextFile(`${temporary}/dataset.json`, JSON.stringify(manifest, null, 2) + "\n");
    await moveIntoPlace(temporary, outDir);
    return { outDir, manifest };
  } catch (error) {
    await removeQuietly(temporary);
    throw error;
  } finally {
    await hr.close();
    await lr?.close();
  }
}
