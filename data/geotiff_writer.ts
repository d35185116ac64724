/**
 * Streaming GeoTIFF writer: DEFLATE-compressed strips are appended as rows arrive, the directory is written
 * last, and the file appears under its name only when complete. A whole-raster upscale therefore holds at
 * most one strip of output in memory. Files are plain GDAL-compatible GeoTIFFs (classic TIFF, or BigTIFF
 * past 4 GiB): pixel-interleaved, horizontal predictor for integer types, GeoKeys copied verbatim and
 * GDAL_NODATA. The TIFF byte layout is in tiff_layout.ts; compression is npm:fflate's zlib.
 * @module
 */
import { zlibSync } from "../deps.ts";
import { DataError, describeError } from "../base/errors.ts";
import {
  assertOutputFree,
  ensureParentDir,
  moveIntoPlace,
  type OutputOptions,
  removeQuietly,
  temporarySibling,
} from "./files.ts";
import { checkedRowCount, encodeHeader, encodeIfd, FieldType, type TiffField } from "./tiff_layout.ts";
import { type DataType, dataTypeInfo, type GeoReference, toDataTypeValue } from "./types.ts";

/** Everything the writer needs to know before the first row. */
export interface GeoTiffHeader {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Number of bands. */
  bandCount: number;
  /** Stored data type; values are rounded and clamped to it. */
  dataType: DataType;
  /** Nodata value written as GDAL_NODATA; NaN samples are stored as this value. Default: none. */
  nodata?: number | null;
  /** Georeferencing (for a super-resolved raster: {@link scaleGeo} of the input's). Default: none. */
  geo?: GeoReference | null;
  /**
   * Colour interpretation. Default "rgb" for exactly 3 uint8 bands, else "minisblack"; extra bands are
   * marked as unspecified extra samples, never as alpha.
   */
  photometric?: "rgb" | "minisblack";
  /** Rows per strip. Default: about 256 KiB of uncompressed pixels per strip. */
  rowsPerStrip?: number;
  /** Force BigTIFF on or off. Default: BigTIFF when the uncompressed pixels exceed 3.5 GiB. */
  bigTiff?: boolean;
  /** zlib level 1–9. Default 6. */
  deflateLevel?: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** A typed array of any stored data type. */
export type SampleArray =
  | Uint8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** The typed array of each stored data type. */
export const ARRAY_OF: Record<DataType, new (length: number) => SampleArray> = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const STRIP_TARGET_BYTES = 256 * 1024;
const BIGTIFF_THRESHOLD_BYTES = 3.5 * 1024 ** 3;
const COMPRESSION_DEFLATE = 8;
const PHOTOMETRIC_MINISBLACK = 1;
const PHOTOMETRIC_RGB = 2;
const PREDICTOR_HORIZONTAL = 2;

/** GDAL_NODATA text: GDAL parses it with CPLAtof, and writes NaN as "nan". */
function formatNodata(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  return String(value);
}

/** The GeoTIFF tags of `geo`: pixel scale and tie point (or a transformation matrix), GeoKeys verbatim. */
export function geoFields(geo: GeoReference): TiffField[] {
  const fields: TiffField[] = [];
  if (geo.pixelSizeY < 0) {
    fields.push({ tag: 33550, type: FieldType.DOUBLE, values: [geo.pixelSizeX, -geo.pixelSizeY, 0] });
    fields.push({ tag: 33922, type: FieldType.DOUBLE, values: [0, 0, 0, geo.originX, geo.originY, 0] });
  } else {
    // A south-up raster cannot be expressed with a pixel scale (its y scale is positive by definition).
    const matrix = [
      geo.pixelSizeX,
      0,
      0,
      geo.originX,
      0,
      geo.pixelSizeY,
      0,
      geo.originY,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
    ];
    fields.push({ tag: 34264, type: FieldType.DOUBLE, values: matrix });
  }
  fields.push({ tag: 34735, type: FieldType.SHORT, values: geo.geoKeys.directory });
  if (geo.geoKeys.doubleParams.length > 0) {
    fields.push({ tag: 34736, type: FieldType.DOUBLE, values: geo.geoKeys.doubleParams });
  }
  if (geo.geoKeys.asciiParams.length > 0) {
    fields.push({ tag: 34737, type: FieldType.ASCII, values: geo.geoKeys.asciiParams });
  }
  return fields;
}

/** Applies the TIFF horizontal predictor (TIFF 6.0 section 14) in place to whole interleaved rows. */
export function applyHorizontalPredictor(samples: SampleArray, rowLength: number, bands: number): void {
  for (let rowStart = 0; rowStart < samples.length; rowStart += rowLength) {
    for (let i = rowStart + rowLength - 1; i >= rowStart + bands; i--) {
      samples[i] = samples[i]! - samples[i - bands]!;
    }
  }
}

/**
 * Writes a GeoTIFF strip by strip. Rows must arrive in order, as band-sequential float32 blocks (the layout
 * {@link RasterSource.readWindow} returns). `close()` finalises the file and renames it into place;
 * `abort()` deletes the partial file. Until `close()` returns, nothing exists under the final name.
 *
 * @example
 * ```ts
 * const writer = await GeoTiffStripWriter.open("out.tif", { width, height, bandCount: 3, dataType: "uint8", geo });
 * try {
 *   for (const block of blocks) await writer.writeRows(block.y, block.data);
 *   await writer.close();
 * } catch (error) {
 *   await writer.abort();
 *   throw error;
 * }
 * ```
 */
export class GeoTiffStripWriter {
  /** Rows received so far; the next `writeRows` must start here. */
  get rowsWritten(): number {
    return this.nextRow;
  }

  private nextRow = 0;
  private fileOffset = 0;
  private readonly strip: SampleArray;
  private rowsInStrip = 0;
  private readonly stripOffsets: number[] = [];
  private readonly stripByteCounts: number[] = [];
  private finished = false;
  private readonly integer: boolean;
  private readonly nodataFill: number;

  private constructor(
    /** The final path. */
    readonly path: string,
    private readonly temporaryPath: string,
    private readonly file: Deno.FsFile,
    private readonly header: Required<Omit<GeoTiffHeader, "geo" | "nodata">> & {
      geo: GeoReference | null;
      nodata: number | null;
    },
  ) {
    this.strip = new ARRAY_OF[header.dataType](header.rowsPerStrip * header.width * header.bandCount);
    this.integer = dataTypeInfo(header.dataType).integer;
    this.nodataFill = header.nodata ?? (this.integer ? 0 : Number.NaN);
  }

  /**
   * Creates the temporary file and writes a provisional header.
   * @throws {DataError} when the output exists (without `overwrite`) or cannot be created
   * @throws {RangeError} for an invalid header
   */
  static async open(
    path: string,
    header: GeoTiffHeader,
    options: OutputOptions = {},
  ): Promise<GeoTiffStripWriter> {
    const { width, height, bandCount, dataType } = header;
    for (const [name, value] of Object.entries({ width, height, bandCount })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${path}: ${name} must be a positive integer, got ${value}`);
      }
    }
    const photometric = header.photometric ??
      (bandCount === 3 && dataType === "uint8" ? "rgb" : "minisblack");
    if (photometric === "rgb" && bandCount < 3) {
      throw new RangeError(`${path}: RGB needs at least 3 bands, got ${bandCount}`);
    }
    const rowBytes = width * bandCount * dataTypeInfo(dataType).bytes;
    const rowsPerStrip = Math.min(
      height,
      header.rowsPerStrip ?? Math.max(1, Math.floor(STRIP_TARGET_BYTES / rowBytes)),
    );
    const bigTiff = header.bigTiff ?? rowBytes * height > BIGTIFF_THRESHOLD_BYTES;
    await assertOutputFree(path, options.overwrite);
    const temporaryPath = temporarySibling(path);
    let file: Deno.FsFile;
    try {
      await ensureParentDir(path);
      file = await Deno.open(temporaryPath, { write: true, createNew: true });
    } catch (error) {
      throw new DataError(`${path}: cannot create output (${describeError(error)})`, { cause: error });
    }
    const writer = new GeoTiffStripWriter(path, temporaryPath, file, {
      width,
      height,
      bandCount,
      dataType,
      nodata: header.nodata ?? null,
      geo: header.geo ?? null,
      photometric,
      rowsPerStrip,
      bigTiff,
      deflateLevel: header.deflateLevel ?? 6,
    });
    await writer.writeAll(encodeHeader(bigTiff, 0));
    return writer;
  }

  /**
   * Appends rows starting at row `y` (must equal {@link rowsWritten}). `rows` is band-sequential:
   * bandCount blocks of n·width samples. NaN samples are stored as nodata.
   */
  async writeRows(y: number, rows: Float32Array): Promise<void> {
    const { width, height, bandCount, rowsPerStrip } = this.header;
    const count = checkedRowCount(this.path, this.header, rows, y, this.nextRow, this.finished);
    const bandStride = count * width;
    for (let r = 0; r < count; r++) {
      const stripBase = this.rowsInStrip * width * bandCount;
      for (let x = 0; x < width; x++) {
        for (let b = 0; b < bandCount; b++) {
          const value = rows[b * bandStride + r * width + x]!;
          this.strip[stripBase + x * bandCount + b] = Number.isNaN(value)
            ? this.nodataFill
            : toDataTypeValue(value, this.header.dataType);
        }
      }
      this.rowsInStrip++;
      this.nextRow++;
      if (this.rowsInStrip === rowsPerStrip || this.nextRow === height) await this.flushStrip();
    }
  }

  /**
   * Writes the directory, points the header at it, closes the file and renames it to the final path.
   * @throws {DataError} when rows are missing or the file cannot be finished (the partial file is removed)
   */
  async close(): Promise<void> {
    if (this.finished) return;
    if (this.nextRow !== this.header.height) {
      await this.abort();
      throw new DataError(
        `${this.path}: only ${this.nextRow} of ${this.header.height} rows were written; output discarded`,
      );
    }
    try {
      if (this.fileOffset % 2 === 1) await this.writeAll(new Uint8Array(1));
      const ifdOffset = this.fileOffset;
      await this.writeAll(encodeIfd(this.fields(), ifdOffset, this.header.bigTiff));
      await this.file.seek(0, Deno.SeekMode.Start);
      await this.file.write(encodeHeader(this.header.bigTiff, ifdOffset));
      await this.file.sync();
      this.file.close();
      this.finished = true;
      await moveIntoPlace(this.temporaryPath, this.path);
    } catch (error) {
      await this.abort();
      if (error instanceof DataError) throw error;
      throw new DataError(`${this.path}: cannot finish writing (${describeError(error)})`, { cause: error });
    }
  }

  /** Stops writing and deletes the temporary file. Safe to call more than once. */
  async abort(): Promise<void> {
    if (!this.finished) {
      this.finished = true;
      try {
        this.file.close();
      } catch (_alreadyClosed) {
        // The handle may already be closed if close() failed after closing it.
      }
    }
    await removeQuietly(this.temporaryPath);
  }

  /** Compresses the buffered rows as one strip and appends it to the file. */
  private async flushStrip(): Promise<void> {
    const { width, bandCount, deflateLevel } = this.header;
    const samples = this.strip.subarray(0, this.rowsInStrip * width * bandCount);
    if (this.integer) applyHorizontalPredictor(samples, width * bandCount, bandCount);
    const raw = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    const compressed = zlibSync(raw, { level: deflateLevel });
    if (!this.header.bigTiff && this.fileOffset + compressed.length > 0xffff_0000) {
      throw new DataError(`${this.path}: output exceeds 4 GiB; write it with bigTiff: true`);
    }
    this.stripOffsets.push(this.fileOffset);
    this.stripByteCounts.push(compressed.length);
    await this.writeAll(compressed);
    this.rowsInStrip = 0;
  }

  /** Appends bytes at the current end of the file, looping over short writes. */
  private async writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.file.write(bytes.subarray(written));
    this.fileOffset += bytes.length;
  }

  /** The directory entries of the finished image. */
  private fields(): TiffField[] {
    const { rowsPerStrip, bigTiff, geo } = this.header;
    const offsetType = bigTiff ? FieldType.LONG8 : FieldType.LONG;
    return [
      ...imageFields(this.header),
      { tag: 273, type: offsetType, values: this.stripOffsets },
      { tag: 278, type: FieldType.LONG, values: [rowsPerStrip] },
      { tag: 279, type: offsetType, values: this.stripByteCounts },
      ...(geo ? geoFields(geo) : []),
    ];
  }
}

/**
 * The directory entries that describe an image's pixels (size, samples, DEFLATE with the horizontal
 * predictor for integers, colour interpretation, GDAL_NODATA), shared by strip and tiled (COG) layouts;
 * the caller adds where the data lies and the georeferencing.
 */
export function imageFields(
  header: Pick<GeoTiffHeader, "width" | "height" | "bandCount" | "dataType"> & {
    photometric: "rgb" | "minisblack";
    nodata: number | null;
  },
): TiffField[] {
  const { width, height, bandCount, dataType, photometric, nodata } = header;
  const info = dataTypeInfo(dataType);
  const colourBands = photometric === "rgb" ? 3 : 1;
  const fields: TiffField[] = [
    { tag: 256, type: FieldType.LONG, values: [width] },
    { tag: 257, type: FieldType.LONG, values: [height] },
    { tag: 258, type: FieldType.SHORT, values: new Array(bandCount).fill(info.bytes * 8) },
    { tag: 259, type: FieldType.SHORT, values: [COMPRESSION_DEFLATE] },
    {
      tag: 262,
      type: FieldType.SHORT,
      values: [photometric === "rgb" ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK],
    },
    { tag: 277, type: FieldType.SHORT, values: [bandCount] },
    { tag: 284, type: FieldType.SHORT, values: [1] },
    { tag: 339, type: FieldType.SHORT, values: new Array(bandCount).fill(info.sampleFormat) },
  ];
  if (info.integer) fields.push({ tag: 317, type: FieldType.SHORT, values: [PREDICTOR_HORIZONTAL] });
  if (bandCount > colourBands) {
    fields.push({ tag: 338, type: FieldType.SHORT, values: new Array(bandCount - colourBands).fill(0) });
  }
  if (nodata !== null) fields.push({ tag: 42113, type: FieldType.ASCII, values: formatNodata(nodata) });
  return fields;
}

/**
 * Writes a whole in-memory raster (band-sequential float32) as a GeoTIFF, atomically.
 * @throws {DataError} when the output exists (without `overwrite`) or cannot be written
 */
export async function writeGeoTiff(
  path: string,
  data: Float32Array,
  header: GeoTiffHeader,
  options: OutputOptions = {},
): Promise<void> {
  const expected = header.width * header.height * header.bandCount;
  if (data.length !== expected) {
    throw new RangeError(
      `${path}: ${data.length} samples given for ${header.width}×${header.height}×${header.bandCount}`,
    );
  }
  const writer = await GeoTiffStripWriter.open(path, header, options);
  try {
    await writer.writeRows(0, data);
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
