/**
 * The data layer of sr3: GeoTIFF/PNG/JPEG reading, a streaming GeoTIFF writer, Export Tiles chips,
 * training datasets, Pillow-equivalent bicubic resampling, normalisation, tiling and blending for
 * whole-raster super-resolution, held-out test pairs, and the metrics (PSNR/SSIM as published SR3 numbers
 * are computed, SAM, ERGAS, high-frequency energy).
 * Nothing here touches the GPU.
 * @module
 */
export {
  DATA_TYPES,
  type DataType,
  type DataTypeInfo,
  dataTypeInfo,
  type GeoKeys,
  type GeoReference,
  isDataType,
  type RasterFormat,
  type RasterInfo,
  type RasterSource,
  type ReadWindowOptions,
  toDataTypeValue,
} from "./types.ts";
export { crsLabel, sameCrs, scaleGeo, windowGeo } from "./geo.ts";
export { openRaster, type RasterData, rasterInfo, readRaster } from "./raster.ts";
export { type GeoTiffHeader, GeoTiffStripWriter, writeGeoTiff } from "./geotiff_writer.ts";
export type { OutputOptions } from "./files.ts";
export { enlargeMask, resizeBicubic, resizeBicubicMasked, resizeBicubicUint8 } from "./resample.ts";
export {
  chooseNormalization,
  denormalize,
  type Normalization,
  NORMALIZATION_PERCENTILES,
  normalize,
} from "./normalize.ts";
export {
  type BandStatistics,
  BandStatisticsAccumulator,
  nodataFraction,
  percentileKey,
  STAT_PERCENTILES,
  validMask,
} from "./stats.ts";
export {
  type ChipOrigin,
  type DatasetManifest,
  type ExportSummary,
  exportTiles,
  type ExportTilesOptions,
} from "./export.ts";
export type { ChipFolder, LoadedImage, NativeSamples } from "./chips.ts";
export {
  type Batch,
  type BatchShape,
  ChipDataset,
  type ChipDatasetOptions,
  type DatasetState,
  loadChipDataset,
} from "./dataset.ts";
export { mixSeed, permutation, randomInt, type RandomSource, SeededRandom } from "./random.ts";
export {
  type FinishedRows,
  planTiles,
  type RowWindow,
  type Tile,
  TileBlender,
  type TilePlan,
} from "./tiling.ts";
export {
  fileSha256,
  K8S_ENV,
  parseShard,
  type PartManifest,
  partName,
  partPaths,
  prepareShardOutput,
  shardRows,
  type ShardRun,
  type ShardSpec,
  type ShardSummary,
  upscaleShard,
  writeJsonAtomically,
} from "./shard.ts";
export {
  type CheckedParts,
  checkParts,
  type MosaicOptions,
  type MosaicSummary,
  type PartLayout,
  partLayout,
  vrtText,
  writeMosaic,
  writeVrt,
} from "./mosaic.ts";
export { type CogOptions, CogWriter, openRowWriter, type RowWriter } from "./cog.ts";
export { isInputList, planScenes, readInputList, type SceneJob } from "./scenes.ts";
export { type HoldoutPair, type HoldoutWindow, writeHoldoutPair } from "./holdout.ts";
export {
  type SuperResolve,
  type SuperResolved,
  type TileBatch,
  type UpscaleOptions,
  upscaleRaster,
  type UpscaleSummary,
} from "./upscale.ts";
export {
  type ImageMetrics,
  imageMetrics,
  type MetricOptions,
  psnrUint8,
  type RasterMetricOptions,
  type RasterMetrics,
  rasterMetrics,
  signedUnitToByte,
  ssimUint8,
  toUint8Image,
} from "./metrics.ts";
export {
  ergas,
  highFrequencyRatio,
  radialPowerSpectrum,
  type RadialSpectrum,
  type Samples,
  spectralAngleMapper,
  SPECTRUM_MIN_SIDE,
  SPECTRUM_PATCH,
  spectrumPatchSize,
} from "./spectral_metrics.ts";
