/**
 * Nodata masks and per-band statistics (min, max, mean, standard deviation, percentiles) of valid pixels,
 * accumulated over many windows so whole rasters and chip folders never need to be in memory at once.
 * @module
 */
import { type DataType, dataTypeInfo } from "./types.ts";

/**
 * Per-pixel validity of a band-sequential block: a pixel is nodata when every band equals the nodata
 * value (GDAL's per-dataset mask, as rasterio's `dataset_mask()`), so a valid pixel may have a band that
 * happens to equal the nodata value; and a pixel with any NaN or ±Inf sample is nodata too (nothing can
 * be computed from it: statistics, the loss, metrics and upscaling all leave it out).
 * @returns 1 for valid pixels, 0 for nodata, length = pixels
 */
export function validMask(data: Float32Array, pixels: number, nodata: number | null): Uint8Array {
  const bands = data.length / pixels;
  const mask = new Uint8Array(pixels);
  const nodataIsNaN = nodata !== null && Number.isNaN(nodata);
  for (let i = 0; i < pixels; i++) {
    let hasData = false;
    let finite = true;
    for (let b = 0; b < bands; b++) {
      const v = data[b * pixels + i]!;
      if (!Number.isFinite(v)) finite = false;
      else if (nodata === null || nodataIsNaN || v !== nodata) hasData = true;
    }
    mask[i] = hasData && finite ? 1 : 0;
  }
  return mask;
}

/** Fraction of zeros in a validity mask (the nodata fraction of a window). */
export function nodataFraction(mask: Uint8Array): number {
  let invalid = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0) invalid++;
  return mask.length === 0 ? 0 : invalid / mask.length;
}

/** The percentiles every statistics record carries: 0.1 and 99.9 (normalisation), 2 and 98 (previews). */
export const STAT_PERCENTILES = [0.1, 2, 98, 99.9] as const;

/** The key of a percentile in {@link BandStatistics.percentiles}: 0.1 → "p0.1". */
export function percentileKey(percent: number): string {
  return `p${percent}`;
}

/**
 * Statistics of one band over valid pixels, leaving out samples equal to the nodata value or NaN (GDAL's
 * per-band semantics, so the numbers match `gdalinfo -stats`).
 */
export interface BandStatistics {
  /** Number of samples counted. */
  count: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Mean. */
  mean: number;
  /** Population standard deviation. */
  std: number;
  /**
   * Percentiles keyed "p0.1", "p2", "p98", "p99.9" (see {@link percentileKey}), linearly interpolated between
   * order statistics (NumPy's default). Exact for 8- and 16-bit integer data; for 32-bit and float data
   * estimated from a deterministic sample of up to 262 144 values per band.
   */
  percentiles: Record<string, number>;
}

const SAMPLE_CAPACITY = 1 << 18;

/** Exact value histogram (8/16-bit integers) or a deterministic reservoir sample (other types). */
class QuantileSketch {
  private readonly histogram: Float64Array | null;
  private readonly offset: number;
  private readonly sample: Float64Array;
  private sampleSize = 0;
  private seen = 0;
  private state = 0x9e3779b9;

  constructor(dataType: DataType) {
    const info = dataTypeInfo(dataType);
    const exact = info.integer && info.bytes <= 2;
    this.histogram = exact ? new Float64Array(info.max - info.min + 1) : null;
    this.offset = exact ? -info.min : 0;
    this.sample = new Float64Array(exact ? 0 : SAMPLE_CAPACITY);
  }

  add(value: number): void {
    if (this.histogram) {
      const bin = value + this.offset;
      this.histogram[bin] = this.histogram[bin]! + 1;
      return;
    }
    this.seen++;
    if (this.sampleSize < SAMPLE_CAPACITY) {
      this.sample[this.sampleSize++] = value;
      return;
    }
    // Algorithm R with a xorshift32 generator: every value is kept with probability capacity/seen.
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    const slot = (this.state >>> 0) % this.seen;
    if (slot < SAMPLE_CAPACITY) this.sample[slot] = value;
  }

  /** Values at the given percentiles (interpolated between neighbouring order statistics). */
  percentiles(ranks: readonly number[], count: number): number[] {
    if (this.histogram) {
      const histogram = this.histogram;
      const valueAtRank = (rank: number): number => {
        let cumulative = 0;
        for (let bin = 0; bin < histogram.length; bin++) {
          cumulative += histogram[bin]!;
          if (cumulative > rank) return bin - this.offset;
        }
        return histogram.length - 1 - this.offset;
      };
      return ranks.map((p) => interpolate(valueAtRank, (p / 100) * (count - 1)));
    }
    const sorted = this.sample.slice(0, this.sampleSize).sort();
    return ranks.map((p) => interpolate((rank) => sorted[rank]!, (p / 100) * (sorted.length - 1)));
  }
}

function interpolate(valueAtRank: (rank: number) => number, position: number): number {
  const lower = Math.floor(position);
  const fraction = position - lower;
  const low = valueAtRank(lower);
  return fraction === 0 ? low : low + (valueAtRank(lower + 1) - low) * fraction;
}

/**
 * Accumulates {@link BandStatistics} of valid pixels over many band-sequential blocks. Means and variances
 * are merged per block with Chan et al.'s pairwise update, which stays accurate for large uint16 sums.
 */
export class BandStatisticsAccumulator {
  private readonly count: number[];
  private readonly min: number[];
  private readonly max: number[];
  private readonly mean: number[];
  private readonly sumSquaredDeviations: number[];
  private readonly sketches: QuantileSketch[];

  /**
   * Starts empty.
   * @param bands number of bands in each block
   * @param dataType data type of the values (decides exact or sampled percentiles)
   * @param nodata samples equal to this value are left out (default: none)
   */
  constructor(readonly bands: number, dataType: DataType, private readonly nodata: number | null = null) {
    this.count = new Array(bands).fill(0);
    this.min = new Array(bands).fill(Infinity);
    this.max = new Array(bands).fill(-Infinity);
    this.mean = new Array(bands).fill(0);
    this.sumSquaredDeviations = new Array(bands).fill(0);
    this.sketches = Array.from({ length: bands }, () => new QuantileSketch(dataType));
  }

  /**
   * Adds the valid pixels of a block.
   * @param data band-sequential block with `bands` bands of `valid.length` pixels
   * @param valid per-pixel validity (from {@link validMask})
   */
  add(data: Float32Array, valid: Uint8Array): void {
    const pixels = valid.length;
    for (let b = 0; b < this.bands; b++) {
      const sketch = this.sketches[b]!;
      const base = b * pixels;
      let count = 0;
      let min = this.min[b]!;
      let max = this.max[b]!;
      let sum = 0;
      for (let i = 0; i < pixels; i++) {
        const v = data[base + i]!;
        if (!valid[i] || !Number.isFinite(v) || v === this.nodata) continue;
        count++;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        sketch.add(v);
      }
      if (count === 0) continue;
      const blockMean = sum / count;
      let blockDeviations = 0;
      for (let i = 0; i < pixels; i++) {
        const v = data[base + i]!;
        if (valid[i] && Number.isFinite(v) && v !== this.nodata) {
          blockDeviations += (v - blockMean) * (v - blockMean);
        }
      }
      const total = this.count[b]! + count;
      const delta = blockMean - this.mean[b]!;
      this.sumSquaredDeviations[b] = this.sumSquaredDeviations[b]! + blockDeviations +
        (delta * delta * this.count[b]! * count) / total;
      this.mean[b] = this.mean[b]! + (delta * count) / total;
      this.count[b] = total;
      this.min[b] = min;
      this.max[b] = max;
    }
  }

  /** Statistics so far; null when some band has no valid sample. */
  result(): BandStatistics[] | null {
    if (this.count.some((count) => count === 0)) return null;
    return this.count.map((count, b) => {
      const values = this.sketches[b]!.percentiles(STAT_PERCENTILES, count);
      const percentiles: Record<string, number> = {};
      STAT_PERCENTILES.forEach((p, i) => (percentiles[percentileKey(p)] = values[i]!));
      return {
        count,
        min: this.min[b]!,
        max: this.max[b]!,
        mean: this.mean[b]!,
        std: Math.sqrt(this.sumSquaredDeviations[b]! / count),
        percentiles,
      };
    });
  }
}
