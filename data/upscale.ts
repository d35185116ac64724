/**
 * Whole-raster super-resolution around any model: read a low-resolution raster tile row by tile row,
 * normalise, skip all-nodata tiles, hand batches to a `superResolve` callback (the diffusion sampler),
 * blend the tiles, restore native units and data type, and stream DEFLATE strips into a georeferenced
 * GeoTIFF that appears under its name only when complete. Memory stays at a few tile rows whatever the
 * raster's size; only the callback touches the GPU.
 * @module
 */
import type { BatchShape } from "./dataset.ts";
import { DataError } from "../base/errors.ts";
import { scaleGeo, windowGeo } from "./geo.ts";
import { checkBands } from "./geotiff_source.ts";
import { GeoTiffStripWriter } from "./geotiff_writer.ts";
import { type CogOptions, openRowWriter, type RowWriter } from "./cog.ts";
import { denormalize, type Normalization, normalize } from "./normalize.ts";
import { openRaster } from "./raster.ts";
import { enlargeMask, resizeBicubic, resizeBicubicMasked } from "./resample.ts";
import { validMask } from "./stats.ts";
import { planTiles, type RowWindow, type Tile, TileBlender } from "./tiling.ts";
import type { DataType } from "./types.ts";

/** What the model receives: NCHW low-resolution tiles and their bicubic upsampling, in [−1, 1]. */
export interface TileBatch {
  /** Low-resolution tiles (N × C × tileSize × tileSize). */
  lr: Float32Array;
  /** The condition: tiles upsampled bicubically to HR size (N × C × H × W). */
  lrUp: Float32Array;
  /** Sizes. */
  shape: BatchShape;
  /** The plan's tiles in this batch. */
  tiles: Tile[];
}

/** What the model returns for a batch: HR tiles in [−1, 1], N × C × H × W, and optionally their uncertainty. */
export interface SuperResolved {
  /** The super-resolved tiles. */
  hr: Float32Array;
  /** Per-pixel standard deviation over samples, in [−1, 1] units (same layout), or null. */
  std: Float32Array | null;
}

/** The model: super-resolves a batch of tiles. */
export type SuperResolve = (batch: TileBatch) => Promise<SuperResolved>;

/** Options of {@link upscaleRaster}. */
export interface UpscaleOptions {
  /** The low-resolution raster. */
  inputPath: string;
  /** The GeoTIFF to write (refused if it exists, unless `overwrite`). */
  outputPath: string;
  /**
   * Also write the model's per-pixel standard deviation here (float32 GeoTIFF in the input's units,
   * georeferenced like the output); the model must return `std`.
   */
  uncertaintyPath?: string;
  /** Scale factor (HR pixels per LR pixel along each axis). */
  factor: number;
  /** Model input size in LR pixels. */
  tileSize: number;
  /** Overlap on each tile side in LR pixels (neighbours overlap by 2·padding). */
  padding: number;
  /** Tiles per superResolve call. */
  batchSize: number;
  /** The model's normalisation; its band count must match the raster's (selected) bands. */
  normalization: Normalization;
  /** 0-based bands of the input to use. Default: all. */
  bands?: readonly number[];
  /** Output data type. Default: the normalisation's (the training data's). */
  dataType?: DataType;
  /**
   * Match each output tile's low frequencies to the input: add the bicubic upsampling of
   * (LR − downsampled output). Counters the colour/hue drift SR3 shows on satellite imagery; off by default.
   */
  colorCorrection?: boolean;
  /**
   * Write only these low-resolution rows [start, end) of the output (a shard's window): the tiles that
   * touch them are sampled, the output is that band of rows, georeferenced where it lies. Default: all.
   */
  rows?: RowWindow;
  /** Write the output as a Cloud-Optimized GeoTIFF (data/cog.ts; true, or its tile size). Default false. */
  cog?: boolean | CogOptions;
  /** Replace an existing output (atomically). Default false. */
  overwrite?: boolean;
  /** Called after each batch with (tiles done, total tiles). */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link upscaleRaster} wrote. */
export interface UpscaleSummary {
  /** The output path. */
  outputPath: string;
  /** Output width. */
  width: number;
  /** Output height. */
  height: number;
  /** Bands written. */
  bands: number;
  /** Tiles in the plan. */
  tiles: number;
  /** Tiles skipped because every pixel was nodata. */
  skippedTiles: number;
}

interface PendingTile {
  tile: Tile;
  lr: Float32Array;
  lrUp: Float32Array;
  valid: Uint8Array;
}

/** Adds the upsampled low-frequency difference between the LR tile and the downsampled output. */
function correctColours(
  hr: Float32Array,
  lr: Float32Array,
  valid: Uint8Array,
  tileSize: number,
  factor: number,
): void {
  const side = tileSize * factor;
  const hrValid = enlargeMask(valid, tileSize, tileSize, factor);
  const low = resizeBicubicMasked(hr, hrValid, side, side, tileSize, tileSize).data;
  const difference = lr.map((v, i) => (valid[i % (tileSize * tileSize)] ? v - low[i]! : 0));
  const correction = resizeBicubic(difference, tileSize, tileSize, side, side);
  for (let i = 0; i < hr.length; i++) hr[i] = Math.min(1, Math.max(-1, hr[i]! + correction[i]!));
}

/**
 * Super-resolves a whole raster tile by tile and writes a georeferenced GeoTIFF: same CRS and origin,
 * pixel size divided by `factor`, size multiplied by it, nodata carried over (and kept where the input is
 * nodata), the native data type restored. Nothing appears under `outputPath` unless it completes.
 *
 * @param superResolve the model; called with batches of at most `batchSize` tiles
 * @throws {DataError} for an unreadable input, a band count that does not match the model, a raster
 * smaller than one tile, an all-nodata raster, or an existing output without `overwrite`
 */
export async function upscaleRaster(
  options: UpscaleOptions,
  superResolve: SuperResolve,
): Promise<UpscaleSummary> {
  const { inputPath, outputPath, factor, tileSize, padding, batchSize, normalization } = options;
  const source = await openRaster(inputPath);
  let writer: RowWriter | null = null;
  let stdWriter: GeoTiffStripWriter | null = null;
  try {
    const bands = checkBands(inputPath, source.bandCount, options.bands);
    if (bands.length !== normalization.low.length) {
      throw new DataError(
        `${inputPath}: the model expects ${normalization.low.length} band${
          normalization.low.length === 1 ? "" : "s"
        }, ` +
          `the raster gives ${bands.length}${options.bands ? " (selected)" : ""}; choose them with --bands`,
      );
    }
    const plan = planTiles(inputPath, source.width, source.height, tileSize, padding);
    const window = options.rows && { start: options.rows.start * factor, end: options.rows.end * factor };
    const blender = new TileBlender(plan, factor, bands.length, window);
    const header = {
      width: blender.width,
      height: blender.height,
      bandCount: bands.length,
      geo: source.geo ? windowGeo(scaleGeo(source.geo, factor), 0, blender.window.start) : null,
    };
    writer = await openRowWriter(outputPath, {
      ...header,
      dataType: options.dataType ?? normalization.dataType,
      nodata: source.nodata,
    }, { overwrite: options.overwrite, cog: options.cog });
    const stdBlender = options.uncertaintyPath ? new TileBlender(plan, factor, bands.length, window) : null;
    if (options.uncertaintyPath) {
      stdWriter = await GeoTiffStripWriter.open(options.uncertaintyPath, {
        ...header,
        dataType: "float32",
        nodata: source.nodata === null ? null : -1,
      }, { overwrite: options.overwrite });
    }
    const stdOutput = stdWriter;
    // Standard deviations scale by half the normalised range: [−1, 1] spans (high − low).
    const halfRange = normalization.high.map((high, b) => (high - normalization.low[b]!) / 2);
    const output = writer;
    const lrPixels = tileSize * tileSize;
    const side = tileSize * factor;
    const hrLength = bands.length * side * side;
    let pending: PendingTile[] = [];
    let done = 0;
    let skippedTiles = 0;

    const drain = async (): Promise<void> => {
      for (let rows = blender.takeFinishedRows(); rows; rows = blender.takeFinishedRows()) {
        const native = denormalize(rows.data, rows.count * blender.width, normalization, {
          valid: rows.valid,
          nodata: source.nodata,
        });
        await output.writeRows(rows.y, native);
      }
      if (!stdBlender || !stdOutput) return;
      for (let rows = stdBlender.takeFinishedRows(); rows; rows = stdBlender.takeFinishedRows()) {
        const plane = rows.count * stdBlender.width;
        const native = rows.data.map((
          v,
          i,
        ) => (rows.valid[i % plane] ? v * halfRange[Math.floor(i / plane)]! : -1));
        await stdOutput.writeRows(rows.y, native);
      }
    };
    const runBatch = async (): Promise<void> => {
      if (pending.length === 0) return;
      const shape: BatchShape = {
        batch: pending.length,
        channels: bands.length,
        height: side,
        width: side,
        lrHeight: tileSize,
        lrWidth: tileSize,
      };
      const lr = new Float32Array(pending.length * bands.length * lrPixels);
      const lrUp = new Float32Array(pending.length * hrLength);
      pending.forEach((p, n) => {
        lr.set(p.lr, n * p.lr.length);
        lrUp.set(p.lrUp, n * hrLength);
      });
      const { hr, std } = await superResolve({ lr, lrUp, shape, tiles: pending.map((p) => p.tile) });
      if (stdBlender && !std) {
        throw new RangeError("an uncertainty map needs a model that returns std (samples > 1)");
      }
      if (hr.length !== pending.length * hrLength) {
        throw new RangeError(
          `superResolve returned ${hr.length} values for ${pending.length}×${bands.length}×${side}×${side}`,
        );
      }
      pending.forEach((p, n) => {
        const tileHr = hr.slice(n * hrLength, (n + 1) * hrLength);
        if (options.colorCorrection) correctColours(tileHr, p.lr, p.valid, tileSize, factor);
        const hrValid = enlargeMask(p.valid, tileSize, tileSize, factor);
        blender.add(p.tile, tileHr, hrValid);
        stdBlender?.add(p.tile, std!.slice(n * hrLength, (n + 1) * hrLength), hrValid);
      });
      done += pending.length;
      pending = [];
      options.onProgress?.(done + skippedTiles, blender.tileCount);
      await drain();
    };

    // Progress starts now, not when the first batch returns, so elapsed time and rate count that batch.
    options.onProgress?.(0, plan.tiles.length);
    for (const [row, y] of plan.rows.entries()) {
      if (!blender.needsRow(row)) continue;
      const strip = await source.readWindow(0, y, source.width, tileSize, { bands });
      // Tiles are planned row by row: this row's are one slice (a filter per row was quadratic in tiles).
      const perRow = plan.columns.length;
      for (const tile of plan.tiles.slice(row * perRow, (row + 1) * perRow)) {
        const lrNative = new Float32Array(bands.length * lrPixels);
        for (let b = 0; b < bands.length; b++) {
          for (let r = 0; r < tileSize; r++) {
            const from = (b * tileSize + r) * source.width + tile.x;
            lrNative.set(strip.subarray(from, from + tileSize), (b * tileSize + r) * tileSize);
          }
        }
        const valid = validMask(lrNative, lrPixels, source.nodata);
        if (!valid.some((v) => v === 1)) {
          blender.skip(tile);
          stdBlender?.skip(tile);
          skippedTiles++;
          continue;
        }
        const lr = normalize(lrNative, lrPixels, normalization, valid);
        const lrUp = resizeBicubicMasked(lr, valid, tileSize, tileSize, side, side).data;
        pending.push({ tile, lr, lrUp, valid });
        if (pending.length === batchSize) await runBatch();
      }
      await drain();
    }
    await runBatch();
    await drain();
    if (done === 0 && !options.rows) {
      throw new DataError(`${inputPath}: every pixel is nodata; nothing to super-resolve`);
    }
    await stdWriter?.close();
    await output.close();
    return {
      outputPath,
      width: blender.width,
      height: blender.height,
      bands: bands.length,
      tiles: blender.tileCount,
      skippedTiles,
    };
  } catch (error) {
    await writer?.abort();
    await stdWriter?.abort();
    throw error;
  } finally {
    await source.close();
  }
}
