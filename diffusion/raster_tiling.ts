/**
 * How `predict()` / `sr3 upscale` cut a whole raster into tiles and batch them for the sampler, when
 * the caller or the preset leaves it open. The networks are fully convolutional (attention attends over
 * whatever grid its level has), so tiles may be larger than the training chip: the default picks, among
 * sides from the chip's up to four times it, the one that processes the fewest pixels for this raster
 * (overlap and the inward-shifted last tile included). Measured on lavapipe with the bundled model, a
 * 39×39 LR window took half the CPU time with 16-pixel tiles as with the 8-pixel chip and scored
 * +0.2 dB PSNR, since fewer tile borders see zero padding instead of context.
 * @module
 */
import { openRaster } from "../data/raster.ts";
import { DataError, UsageError } from "../base/errors.ts";
import { getRuntime } from "../nn/tensor.ts";
import { cheapestTileSize } from "../data/tiling.ts";
import type { ModelDefinition } from "./model_dir.ts";
import { tilesPerSamplerRun } from "./pipeline.ts";

/** The tiling of one whole-raster run. */
export interface RasterTiling {
  /** Tile side in low-resolution pixels. */
  tileSize: number;
  /** Overlap on each tile side in low-resolution pixels. */
  padding: number;
  /** Tiles per sampler call. */
  batchSize: number;
}

/** What the caller or the preset asked for; unset fields get the defaults. */
export interface TilingRequest {
  tileSize?: number;
  padding?: number;
  batchSize?: number;
}

/** Largest tile side the default considers, in training chips. */
const LARGEST_TILE_CHIPS = 4;

/**
 * The tiling of `imagePath` for model `d` drawing `samples` samples per tile.
 * @throws {DataError} when a requested tile size does not keep the UNet's levels whole
 */
export async function rasterTiling(
  imagePath: string,
  d: ModelDefinition,
  request: TilingRequest,
  samples: number,
): Promise<RasterTiling> {
  const factor = d.downsampleFactor;
  const levels = 2 ** (d.unet.channelMults.length - 1);
  const fits = (side: number): boolean => Number.isInteger(side) && (side * factor) % levels === 0;
  const chip = d.unet.imageSize / factor;
  const paddingFor = (side: number): number =>
    request.padding ?? (d.ModelPadding || Math.max(1, Math.floor(side / 8)));
  let tileSize = request.tileSize;
  if (tileSize === undefined) {
    const source = await openRaster(imagePath);
    const { width, height } = source;
    await source.close();
    const candidates = Array.from({ length: (LARGEST_TILE_CHIPS - 1) * chip + 1 }, (_, i) => chip + i)
      .filter(fits);
    tileSize = cheapestTileSize(width, height, paddingFor(chip), candidates);
  }
  if (!fits(tileSize)) {
    throw new DataError(
      `tile size ${tileSize}: ×${factor} it must be a multiple of ${levels} (the UNet's levels)`,
    );
  }
  const batchSize = request.batchSize ?? tilesPerSamplerRun(tileSize * factor, samples);
  checkBatchFitsDevice(d, tileSize, batchSize, samples);
  return { tileSize, padding: paddingFor(tileSize), batchSize };
}

/**
 * Refuses, before any work, a batch whose first full-resolution feature map alone (batch × samples ×
 * innerChannel × side², f32: a lower bound of what a sampler call holds) exceeds the adapter's largest
 * storage binding, instead of failing later inside a kernel.
 * @throws {UsageError} naming the batch size, the size needed, the limit and the largest batch that fits
 */
export function checkBatchFitsDevice(
  definition: ModelDefinition,
  tileSize: number,
  batchSize: number,
  samples: number,
): void {
  const limit = getRuntime().device.limits.maxStorageBufferBindingSize;
  const side = tileSize * definition.downsampleFactor;
  const perTile = samples * definition.unet.innerChannel * side * side * 4;
  if (batchSize * perTile <= limit) return;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (perTile > limit) {
    throw new UsageError(
      `one tile of ${tileSize} px with ${samples} samples needs more than ${mib(perTile)} in one buffer, ` +
        `above this adapter's ${mib(limit)} limit; use a smaller --tile-size or fewer --samples`,
    );
  }
  throw new UsageError(
    `--batch-size ${batchSize}: one sampler call needs more than ${
      mib(batchSize * perTile)
    } in one buffer, ` +
      `above this adapter's ${mib(limit)} limit; use --batch-size 1 to ${
        Math.max(1, Math.floor(limit / perTile))
      }`,
  );
}
