/**
 * Whole-raster super-resolution for {@link SuperResolution.predict} and `sr3 upscale`: the tiling,
 * per-tile noise from (seed, tile position), the sampler per batch of tiles, and a single output, an
 * uncertainty map, a COG, or one shard's part with its manifest.
 * @module
 */
import { DataError } from "../base/errors.ts";
import { upscaleShard } from "../data/shard.ts";
import type { RowWindow } from "../data/tiling.ts";
import { upscaleRaster } from "../data/upscale.ts";
import type { EMA } from "../nn/ema.ts";
import type { PredictOptions, PredictSummary } from "./api.ts";
import { samplingLabel } from "./evaluate.ts";
import { inputMismatch, stretchNormalization } from "./input_check.ts";
import type { ModelDefinition } from "./model_dir.ts";
import { type ModelParts, resolveBatch, type SamplingSettings } from "./pipeline.ts";
import { rasterTiling } from "./raster_tiling.ts";
import { tileSeed } from "./tile_noise.ts";

/** What a prediction runs with: the networks, their model.json, the resolved sampler settings. */
export interface PredictContext {
  /** The networks and schedule. */
  parts: ModelParts;
  /** The model's definition (tiling, factor, normalisation). */
  definition: ModelDefinition;
  /** Sampler settings with the preset and flags applied. */
  settings: SamplingSettings;
  /** EMA weights to swap in while sampling, if training kept them. */
  ema: EMA | null;
  /** The weights file the model was loaded from (shards record its checksum). */
  weightsFile: string | null;
}

/** Super-resolves `imagePath` as `options` say (see {@link PredictOptions}). */
export async function predictRaster(
  context: PredictContext,
  imagePath: string,
  options: PredictOptions,
): Promise<PredictSummary> {
  const { parts, definition: d, settings, ema, weightsFile } = context;
  const normalization = options.stretch
    ? await stretchNormalization(imagePath, options.bands)
    : d.normalization;
  const mismatch = options.onWarning && !options.stretch
    ? await inputMismatch(imagePath, d, options.bands)
    : null;
  if (mismatch) options.onWarning!(mismatch);
  if (options.uncertaintyPath && ((settings.samples ?? 1) < 2 || settings.samplingType === "mean")) {
    throw new DataError(
      `${options.uncertaintyPath}: an uncertainty map needs at least 2 diffusion samples per tile ` +
        `(${samplingLabel(settings)} was asked); pass --samples 4`,
    );
  }
  const samples = settings.samplingType === "mean" ? 1 : settings.samples ?? 1;
  const { tileSize, padding, batchSize } = await rasterTiling(imagePath, d, {
    tileSize: options.tileSize ?? settings.tileSize,
    padding: options.padding ?? settings.padding,
    batchSize: options.batchSize,
  }, samples);
  const upscale = (outputPath: string, rows?: RowWindow) =>
    upscaleRaster({
      inputPath: imagePath,
      outputPath,
      rows,
      uncertaintyPath: options.uncertaintyPath,
      factor: d.downsampleFactor,
      tileSize,
      padding,
      batchSize,
      normalization,
      bands: options.bands,
      colorCorrection: options.colorCorrection,
      // A shard's part is sr3's own file: rerunning the shard replaces it.
      overwrite: rows ? true : options.overwrite,
      cog: options.cog,
      onProgress: options.onTiles,
    }, async ({ lr, lrUp, shape, tiles }) => {
      // Each tile's noise comes from the run seed and its position, so no split or order changes it.
      const seeds = tiles.map((tile) => tileSeed(settings.seed ?? 0, tile.x, tile.y));
      const { sr, std } = await resolveBatch(parts, lr, lrUp, shape, settings, ema, seeds);
      return { hr: sr, std };
    });
  const used = { sampling: samplingLabel(settings), tileSize, batchSize };
  if (!options.shard) return { ...(await upscale(options.outPath)), ...used };
  if (options.uncertaintyPath || options.cog) {
    throw new DataError(
      `${options.outPath}: a shard writes a plain part (no uncertainty map, no COG); sr3 mosaic makes the COG`,
    );
  }
  if (!weightsFile) {
    throw new DataError(`a sharded run must name its model: save() it and load it with fromModel()`);
  }
  const { samplingType, samplingSteps, seed, eta, startNoiseLevel } = settings;
  const summary = await upscaleShard({
    inputPath: imagePath,
    out: options.outPath,
    spec: options.shard,
    factor: d.downsampleFactor,
    modelWeights: weightsFile,
    settings: {
      ...{ samplingType, samplingSteps, seed: seed ?? 0, eta, startNoiseLevel, samples, tileSize, padding },
      bands: options.bands ?? "all",
      colorCorrection: options.colorCorrection ?? false,
      stretch: options.stretch ?? false,
    },
  }, upscale);
  return { ...summary, ...used };
}
