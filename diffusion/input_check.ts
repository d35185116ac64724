/**
 * Does an input raster look like what the model was trained on? A uint8 model given uint16 Landsat or
 * Sentinel values (627–8431) clips them all to white and writes uint8: a user must hear about it in one
 * line before hours of sampling, naming both sides.
 * @module
 */
import { type Normalization, NORMALIZATION_PERCENTILES } from "../data/normalize.ts";
import { openRaster } from "../data/raster.ts";
import { BandStatisticsAccumulator, percentileKey, validMask } from "../data/stats.ts";
import type { RasterSource } from "../data/types.ts";
import type { ModelDefinition } from "./model_dir.ts";
import { DataError } from "../base/errors.ts";

/** Windows sampled across the raster (a grid of SAMPLE_GRID²), each SAMPLE_SIZE pixels square. */
const SAMPLE_GRID = 4;
const SAMPLE_SIZE = 64;

/** How far outside the trained range (as a share of its span) sampled values may lie before a warning. */
const RANGE_TOLERANCE = 0.25;
/** Pixel sizes within this ratio of the trained input pixel count as alike. */
const PIXEL_TOLERANCE = 1.25;

/**
 * Reads a grid × grid of SAMPLE_SIZE-pixel windows spread evenly over the raster (corners included) and
 * hands each, band-sequential, to `visit` with its per-pixel validity.
 */
async function forEachSampleWindow(
  source: RasterSource,
  grid: number,
  bands: readonly number[] | undefined,
  visit: (data: Float32Array, valid: Uint8Array) => void,
): Promise<void> {
  const size = Math.min(SAMPLE_SIZE, source.width, source.height);
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const x = Math.floor(((source.width - size) * j) / (grid - 1));
      const y = Math.floor(((source.height - size) * i) / (grid - 1));
      const data = await source.readWindow(x, y, size, size, { bands });
      visit(data, validMask(data, size * size, source.nodata));
    }
  }
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/**
 * A one-line warning when the raster at `path` differs from the model's training data in data type,
 * value range (estimated from a grid of windows) or pixel size (the training HR pixel × the factor, when
 * model.json records it), or null when it looks alike.
 * @param bands 0-based bands the model will read (default: all)
 */
export async function inputMismatch(
  path: string,
  definition: ModelDefinition,
  bands?: readonly number[],
): Promise<string | null> {
  const { normalization } = definition;
  const trainedLow = Math.min(...normalization.low);
  const trainedHigh = Math.max(...normalization.high);
  const source = await openRaster(path);
  let min = Infinity;
  let max = -Infinity;
  try {
    await forEachSampleWindow(source, SAMPLE_GRID, bands, (data, valid) => {
      for (let k = 0; k < data.length; k++) {
        if (!valid[k % valid.length]) continue;
        min = Math.min(min, data[k]!);
        max = Math.max(max, data[k]!);
      }
    });
  } finally {
    await source.close();
  }
  const span = trainedHigh - trainedLow;
  const outside = min < trainedLow - RANGE_TOLERANCE * span || max > trainedHigh + RANGE_TOLERANCE * span;
  const trainedPixel = definition.pixelSize ? definition.pixelSize * definition.downsampleFactor : null;
  const inputPixel = source.geo ? Math.abs(source.geo.pixelSizeX) : null;
  const scaleOff = trainedPixel !== null && inputPixel !== null &&
    Math.max(trainedPixel / inputPixel, inputPixel / trainedPixel) > PIXEL_TOLERANCE;
  if (source.dataType === normalization.dataType && !outside && !scaleOff) return null;
  const at = (pixel: number | null) => (pixel === null ? "" : `, pixel size ${formatValue(pixel)}`);
  const trained = `${normalization.dataType} ${formatValue(trainedLow)}–${formatValue(trainedHigh)}`;
  const input = min <= max ? `${source.dataType} ${formatValue(min)}–${formatValue(max)}` : source.dataType;
  return `model trained on ${trained}${at(trainedPixel)}; input ${path} is ${input}${at(inputPixel)}: ` +
    `values outside the model's range are clipped, the output is ${normalization.dataType}, and detail ` +
    `is learned at the trained scale (train on data like this input, or pass --stretch)`;
}

/** Windows per side of the grid `--stretch` estimates the input's range from. */
const STRETCH_GRID = 8;

/**
 * `--stretch`: the normalisation that maps the input's own per-band range (its 0.1th–99.9th percentiles,
 * estimated from a grid of windows) to the model's [−1, 1], as the model's own normalisation maps its
 * training range. A uint8 model then sees 16-bit or float imagery in the contrast it was trained on, and
 * the output is written back in the input's units and data type.
 * @param bands 0-based bands the model will read (default: all)
 */
export async function stretchNormalization(path: string, bands?: readonly number[]): Promise<Normalization> {
  const source = await openRaster(path);
  try {
    const count = bands?.length ?? source.bandCount;
    const statistics = new BandStatisticsAccumulator(count, source.dataType, source.nodata);
    await forEachSampleWindow(source, STRETCH_GRID, bands, (data, valid) => statistics.add(data, valid));
    const [lowKey, highKey] = NORMALIZATION_PERCENTILES.map(percentileKey) as [string, string];
    const stats = statistics.result();
    if (!stats) {
      throw new DataError(
        `${path}: the sampled windows hold no valid pixel; --stretch cannot estimate its range`,
      );
    }
    const low = stats.map((s) => s.percentiles[lowKey]!);
    const high = stats.map((s, b) => Math.max(s.percentiles[highKey]!, low[b]! + 1e-6));
    return { method: "percentile", dataType: source.dataType, low, high };
  } finally {
    await source.close();
  }
}
