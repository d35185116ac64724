/**
 * Opening rasters of any supported format by content (not by file extension), and whole-raster reads.
 * @module
 */
import { DataError, describeError } from "../base/errors.ts";
import { openGeoTiff } from "./geotiff_source.ts";
import { openJpegBytes, openPngBytes } from "./image_source.ts";
import type { RasterInfo, RasterSource } from "./types.ts";

type Signature = "tiff" | "png" | "jpeg" | null;

function sniff(head: Uint8Array): Signature {
  const [b0, b1, b2, b3] = head;
  if (b0 === 0x49 && b1 === 0x49 && (b2 === 42 || b2 === 43) && b3 === 0) return "tiff";
  if (b0 === 0x4d && b1 === 0x4d && b2 === 0 && (b3 === 42 || b3 === 43)) return "tiff";
  if (b0 === 0x89 && b1 === 0x50 && b2 === 0x4e && b3 === 0x47) return "png";
  if (b0 === 0xff && b1 === 0xd8 && b2 === 0xff) return "jpeg";
  return null;
}

async function readHead(path: string, length: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const count = await file.read(head.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    return head.subarray(0, filled);
  } finally {
    file.close();
  }
}

/**
 * Opens a GeoTIFF, PNG or JPEG lazily. GeoTIFF pixels are decoded per window; PNG and JPEG files (chips)
 * are decoded whole at open.
 * @param path the file
 * @throws {DataError} when the file is missing, unreadable, truncated, not one of those formats, or of an
 * unsupported data type
 */
export async function openRaster(path: string): Promise<RasterSource> {
  let size: number;
  let head: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new DataError(`${path}: not a file`);
    size = info.size;
    head = await readHead(path, 8);
  } catch (error) {
    if (error instanceof DataError) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : `cannot read (${describeError(error)})`;
    throw new DataError(`${path}: ${reason}`, { cause: error });
  }
  const kind = sniff(head);
  if (kind === "tiff") return await openGeoTiff(path, size);
  if (kind === "png") return openPngBytes(path, await Deno.readFile(path));
  if (kind === "jpeg") return openJpegBytes(path, await Deno.readFile(path));
  const shown = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new DataError(
    `${path}: not a GeoTIFF, PNG or JPEG file (${size === 0 ? "empty file" : `starts with bytes ${shown}`})`,
  );
}

/** A raster read whole into memory: its header and band-sequential float32 pixels. */
export interface RasterData {
  /** The header (the band count is the file's; `bands` is what `data` holds). */
  info: RasterInfo;
  /** Number of bands in `data`. */
  bands: number;
  /** Band-sequential pixels, length bands·width·height. */
  data: Float32Array;
}

/** The header fields of a source, detached from its file handle. */
export function rasterInfo(source: RasterInfo): RasterInfo {
  const { path, format, width, height, bandCount, dataType, nodata, geo } = source;
  return { path, format, width, height, bandCount, dataType, nodata, geo };
}

/**
 * Reads a whole raster (or the chosen 0-based bands) and closes it. For rasters that fit in memory;
 * large ones are read window by window through {@link openRaster}.
 * @throws {DataError} as {@link openRaster}, or for a band index that does not exist
 */
export async function readRaster(path: string, bands?: readonly number[]): Promise<RasterData> {
  const source = await openRaster(path);
  try {
    const data = await source.readWindow(0, 0, source.width, source.height, { bands });
    return { info: rasterInfo(source), bands: bands?.length ?? source.bandCount, data };
  } finally {
    await source.close();
  }
}
