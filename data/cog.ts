/**
 * Streaming Cloud-Optimized GeoTIFF writer: tiled (512 by default), DEFLATE, internal overviews
 * (2×2 averages that skip nodata, halved until the image fits one tile), and the COG byte order that
 * readers fetching by HTTP range expect — header, GDAL's structural-metadata "ghost" block, every IFD
 * (full resolution first, then the overviews, largest first), then the tile data, smallest overview
 * first and the full resolution last, each image's tiles in row-major order
 * (https://gdal.org/drivers/raster/cog.html, "File format details").
 *
 * Rows arrive in order as for {@link GeoTiffStripWriter}; each level keeps one tile row in memory and
 * appends its compressed tiles to a temporary file, because the IFDs (which must come first) cannot be
 * sized until every tile is compressed. `close()` assembles the file under a temporary name and renames
 * it into place.
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
import {
  applyHorizontalPredictor,
  ARRAY_OF,
  geoFields,
  type GeoTiffHeader,
  GeoTiffStripWriter,
  imageFields,
} from "./geotiff_writer.ts";
import {
  checkedRowCount,
  encodeHeader,
  encodeIfd,
  FieldType,
  headerSize,
  LITTLE_ENDIAN,
  type TiffField,
} from "./tiff_layout.ts";
import { dataTypeInfo, toDataTypeValue } from "./types.ts";

/** Options of {@link CogWriter.open}. */
export interface CogOptions extends OutputOptions {
  /** Tile side, a multiple of 16 (TIFF's rule); default 512 (GDAL's COG default). */
  blockSize?: number;
}

/** GDAL's structural metadata: it tells readers (and the COG validator) the layout below. */
const GHOST_METADATA = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=NONE\n" +
  "BLOCK_TRAILER=NONE\nKNOWN_INCOMPATIBLE_EDITION=NO\n";
const GHOST = `GDAL_STRUCTURAL_METADATA_SIZE=${String(GHOST_METADATA.length).padStart(6, "0")} bytes\n` +
  GHOST_METADATA;
const NEW_SUBFILE_REDUCED = 1;
const CLASSIC_LIMIT = 0xffff_0000;

/** One resolution level: its size, the tile row being filled, and its compressed tiles so far. */
interface Level {
  width: number;
  height: number;
  /** Band-sequential stored values (NaN for nodata) of up to blockSize rows. */
  band: Float32Array;
  rowsInBand: number;
  rowsReceived: number;
  tilesPath: string;
  tiles: Deno.FsFile;
  byteCounts: number[];
}

/**
 * Writes a COG row by row. Nothing appears under `path` until `close()` succeeds; `abort()` removes the
 * temporary files.
 */
export class CogWriter {
  private readonly levels: Level[] = [];
  private finished = false;
  private readonly integer: boolean;
  private readonly nodataFill: number;

  private constructor(
    /** The final path. */
    readonly path: string,
    private readonly header: Required<Pick<GeoTiffHeader, "width" | "height" | "bandCount" | "dataType">> & {
      photometric: "rgb" | "minisblack";
      nodata: number | null;
      geo: GeoTiffHeader["geo"];
      deflateLevel: NonNullable<GeoTiffHeader["deflateLevel"]>;
      bigTiff?: boolean;
    },
    private readonly blockSize: number,
  ) {
    this.integer = dataTypeInfo(header.dataType).integer;
    this.nodataFill = header.nodata ?? (this.integer ? 0 : Number.NaN);
  }

  /**
   * Prepares the writer (and one temporary tile file per level next to `path`).
   * @throws {DataError} when the output exists (without `overwrite`) or cannot be created
   * @throws {RangeError} for an invalid size or block size
   */
  static async open(path: string, header: GeoTiffHeader, options: CogOptions = {}): Promise<CogWriter> {
    const { width, height, bandCount, dataType } = header;
    for (const [name, value] of Object.entries({ width, height, bandCount })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${path}: ${name} must be a positive integer, got ${value}`);
      }
    }
    const blockSize = options.blockSize ?? 512;
    if (!Number.isInteger(blockSize) || blockSize < 16 || blockSize % 16 !== 0) {
      throw new RangeError(`${path}: block size ${blockSize} must be a positive multiple of 16`);
    }
    await assertOutputFree(path, options.overwrite);
    const photometric = header.photometric ??
      (bandCount === 3 && dataType === "uint8" ? "rgb" : "minisblack");
    const writer = new CogWriter(path, {
      width,
      height,
      bandCount,
      dataType,
      photometric,
      nodata: header.nodata ?? null,
      geo: header.geo ?? null,
      deflateLevel: header.deflateLevel ?? 6,
      bigTiff: header.bigTiff,
    }, blockSize);
    try {
      await ensureParentDir(path);
      // Overviews halve the size until the image fits one tile (as GDAL's COG driver does).
      for (let w = width, h = height, first = true; first || w > blockSize || h > blockSize; first = false) {
        if (!first) [w, h] = [Math.ceil(w / 2), Math.ceil(h / 2)];
        const tilesPath = temporarySibling(path, `level${writer.levels.length}`);
        writer.levels.push({
          width: w,
          height: h,
          band: new Float32Array(bandCount * blockSize * w),
          rowsInBand: 0,
          rowsReceived: 0,
          tilesPath,
          tiles: await Deno.open(tilesPath, { write: true, createNew: true }),
          byteCounts: [],
        });
      }
    } catch (error) {
      await writer.abort();
      throw new DataError(`${path}: cannot create output (${describeError(error)})`, { cause: error });
    }
    return writer;
  }

  /** Rows received so far; the next `writeRows` must start here. */
  get rowsWritten(): number {
    return this.levels[0]?.rowsReceived ?? 0;
  }

  /**
   * Appends rows starting at row `y` (must equal {@link rowsWritten}); `rows` is band-sequential
   * (bandCount blocks of n·width samples). NaN and the nodata value are stored as nodata.
   */
  async writeRows(y: number, rows: Float32Array): Promise<void> {
    const count = checkedRowCount(this.path, this.header, rows, y, this.rowsWritten, this.finished);
    await this.addRows(0, rows, count);
  }

  /**
   * Writes the header, the IFDs and every level's tiles (smallest overview first) and renames the file
   * into place.
   * @throws {DataError} when rows are missing or the file cannot be finished (temporary files removed)
   */
  async close(): Promise<void> {
    if (this.finished) return;
    if (this.rowsWritten !== this.header.height) {
      await this.abort();
      throw new DataError(
        `${this.path}: only ${this.rowsWritten} of ${this.header.height} rows were written; output discarded`,
      );
    }
    const assembled = temporarySibling(this.path);
    try {
      for (const level of this.levels) level.tiles.close();
      this.finished = true;
      const dataBytes = this.levels.reduce((sum, l) => sum + l.byteCounts.reduce((a, b) => a + b, 0), 0);
      const bigTiff = this.header.bigTiff ?? dataBytes > CLASSIC_LIMIT - 16 * 1024 ** 2;
      const start = headerSize(bigTiff) + GHOST.length + ((headerSize(bigTiff) + GHOST.length) % 2);
      // IFD sizes do not depend on the offsets they hold, so lay them out with placeholders first.
      const sizes = this.levels.map((_, i) => encodeIfd(this.fields(i, [], bigTiff), 0, bigTiff).length);
      const ifdOffsets = sizes.map((_, i) => start + sizes.slice(0, i).reduce((a, b) => a + b, 0));
      let dataAt = start + sizes.reduce((a, b) => a + b, 0);
      const tileOffsets: number[][] = [];
      for (let i = this.levels.length - 1; i >= 0; i--) {
        tileOffsets[i] = this.levels[i]!.byteCounts.map((bytes) => (dataAt += bytes) - bytes);
      }
      if (!bigTiff && dataAt > CLASSIC_LIMIT) {
        throw new DataError(`${this.path}: output exceeds 4 GiB; write it with bigTiff: true`);
      }
      const file = await Deno.open(assembled, { write: true, createNew: true });
      try {
        const head = new Uint8Array(start);
        head.set(encodeHeader(bigTiff, ifdOffsets[0]!));
        head.set(new TextEncoder().encode(GHOST), headerSize(bigTiff));
        await writeAll(file, head);
        for (const [i, offset] of ifdOffsets.entries()) {
          const fields = this.fields(i, tileOffsets[i]!, bigTiff);
          const ifd = encodeIfd(fields, offset, bigTiff);
          setNextIfd(ifd, fields.length, bigTiff, ifdOffsets[i + 1] ?? 0);
          await writeAll(file, ifd);
        }
        for (let i = this.levels.length - 1; i >= 0; i--) {
          const tiles = await Deno.open(this.levels[i]!.tilesPath);
          await tiles.readable.pipeTo(file.writable, { preventClose: true });
        }
        await file.sync();
      } finally {
        file.close();
      }
      await moveIntoPlace(assembled, this.path);
      await this.abort();
    } catch (error) {
      await this.abort();
      await removeQuietly(assembled);
      if (error instanceof DataError) throw error;
      throw new DataError(`${this.path}: cannot finish writing (${describeError(error)})`, { cause: error });
    }
  }

  /** Stops writing and removes the temporary files. Safe to call more than once. */
  async abort(): Promise<void> {
    if (!this.finished) {
      this.finished = true;
      for (const level of this.levels) {
        try {
          level.tiles.close();
        } catch (_alreadyClosed) {
          // close() may have closed it before failing.
        }
      }
    }
    for (const level of this.levels) await removeQuietly(level.tilesPath);
  }

  /** Buffers `count` rows into level `index`, flushing each full tile row (and its overview rows). */
  private async addRows(index: number, rows: Float32Array, count: number): Promise<void> {
    const level = this.levels[index]!;
    const { bandCount, dataType, nodata } = this.header;
    const bs = this.blockSize;
    for (let r = 0; r < count; r++) {
      for (let b = 0; b < bandCount; b++) {
        const from = (b * count + r) * level.width;
        const to = (b * bs + level.rowsInBand) * level.width;
        for (let x = 0; x < level.width; x++) {
          const value = rows[from + x]!;
          level.band[to + x] = Number.isNaN(value) || value === nodata
            ? Number.NaN
            : toDataTypeValue(value, dataType);
        }
      }
      level.rowsInBand++;
      level.rowsReceived++;
      if (level.rowsInBand === bs || level.rowsReceived === level.height) await this.flushTileRow(index);
    }
  }

  /** Compresses level `index`'s buffered tile row, then hands its 2×2 averages to the next level. */
  private async flushTileRow(index: number): Promise<void> {
    const level = this.levels[index]!;
    const { bandCount, dataType, deflateLevel } = this.header;
    const bs = this.blockSize;
    const rows = level.rowsInBand;
    for (let x0 = 0; x0 < level.width; x0 += bs) {
      const tile = new ARRAY_OF[dataType](bs * bs * bandCount).fill(this.nodataFill);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < Math.min(bs, level.width - x0); c++) {
          for (let b = 0; b < bandCount; b++) {
            const value = level.band[(b * bs + r) * level.width + x0 + c]!;
            tile[(r * bs + c) * bandCount + b] = Number.isNaN(value) ? this.nodataFill : value;
          }
        }
      }
      if (this.integer) applyHorizontalPredictor(tile, bs * bandCount, bandCount);
      const compressed = zlibSync(new Uint8Array(tile.buffer), { level: deflateLevel });
      await writeAll(level.tiles, compressed);
      level.byteCounts.push(compressed.length);
    }
    level.rowsInBand = 0;
    const next = this.levels[index + 1];
    if (!next) return;
    const count = Math.ceil(rows / 2);
    const out = new Float32Array(bandCount * count * next.width);
    for (let b = 0; b < bandCount; b++) {
      for (let r = 0; r < count; r++) {
        for (let x = 0; x < next.width; x++) {
          let sum = 0;
          let valid = 0;
          for (let dy = 0; dy < 2 && 2 * r + dy < rows; dy++) {
            for (let dx = 0; dx < 2 && 2 * x + dx < level.width; dx++) {
              const value = level.band[(b * bs + 2 * r + dy) * level.width + 2 * x + dx]!;
              if (!Number.isNaN(value)) [sum, valid] = [sum + value, valid + 1];
            }
          }
          out[(b * count + r) * next.width + x] = valid > 0 ? sum / valid : Number.NaN;
        }
      }
    }
    await this.addRows(index + 1, out, count);
  }

  /** Level `index`'s directory: pixels, tiles (with `offsets`), georeferencing on the full resolution. */
  private fields(index: number, offsets: readonly number[], bigTiff: boolean): TiffField[] {
    const level = this.levels[index]!;
    const tiles = level.byteCounts.length;
    const offsetType = bigTiff ? FieldType.LONG8 : FieldType.LONG;
    const fields: TiffField[] = [
      ...imageFields({ ...this.header, width: level.width, height: level.height }),
      { tag: 322, type: FieldType.LONG, values: [this.blockSize] },
      { tag: 323, type: FieldType.LONG, values: [this.blockSize] },
      { tag: 324, type: offsetType, values: offsets.length ? offsets : new Array(tiles).fill(0) },
      { tag: 325, type: offsetType, values: level.byteCounts },
    ];
    if (index > 0) fields.push({ tag: 254, type: FieldType.LONG, values: [NEW_SUBFILE_REDUCED] });
    if (index === 0 && this.header.geo) fields.push(...geoFields(this.header.geo));
    return fields;
  }
}

/** Points an encoded IFD of `fieldCount` entries at the next IFD. */
function setNextIfd(ifd: Uint8Array, fieldCount: number, bigTiff: boolean, next: number): void {
  const view = new DataView(ifd.buffer, ifd.byteOffset, ifd.byteLength);
  const at = bigTiff ? 8 + fieldCount * 20 : 2 + fieldCount * 12;
  if (bigTiff) view.setBigUint64(at, BigInt(next), LITTLE_ENDIAN);
  else view.setUint32(at, next, LITTLE_ENDIAN);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

/** What a whole-raster writer offers: rows in order, then close (or abort). */
export type RowWriter = Pick<CogWriter, "writeRows" | "close" | "abort">;

/**
 * Opens a COG writer when `options.cog` is set (true, or its options), else a strip GeoTIFF writer.
 * @throws {DataError} when the output exists (without `overwrite`) or cannot be created
 */
export async function openRowWriter(
  path: string,
  header: GeoTiffHeader,
  options: OutputOptions & { cog?: boolean | CogOptions },
): Promise<RowWriter> {
  if (!options.cog) return await GeoTiffStripWriter.open(path, header, options);
  const blockSize = options.cog === true ? undefined : options.cog.blockSize;
  return await CogWriter.open(path, header, { blockSize, overwrite: options.overwrite });
}
