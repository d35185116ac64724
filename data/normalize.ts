/**
 * Mapping native pixel values to the model's [−1, 1] and back.
 *
 * - uint8: by the data type's range, x/127.5 − 1, as the SR3 reference and arcgis.learn do; exact and the
 *   same for every dataset.
 * - 16-bit, 32-bit and float imagery: per band, the 0.1st percentile of valid pixels maps to −1 and the
 *   99.9th to +1, values beyond are clamped. Percentiles rather than min/max because a few saturated or hot
 *   pixels would otherwise squeeze the real signal into a sliver of [−1, 1] (e.g. Landsat DN 6 000–41 000
 *   with most land below 15 000), and 0.1/99.9 rather than 2/98 (a preview stretch) so that only 0.2% of
 *   pixels are clipped and outputs keep bright clouds and dark water in their native units.
 *
 * The {@link Normalization} record is plain JSON and is stored in model.json so outputs go back to the
 * training data's units and data type.
 * @module
 */
import { type BandStatistics, percentileKey } from "./stats.ts";
import { type DataType, dataTypeInfo, toDataTypeValue } from "./types.ts";

/** Percentiles (in %) that bound the normalisation of non-uint8 data. */
export const NORMALIZATION_PERCENTILES: readonly [number, number] = [0.1, 99.9];

/** How native values map to [−1, 1], per band: `low` → −1, `high` → +1, linear in between. */
export interface Normalization {
  /** "dataTypeRange" (uint8) or "percentile" (per-band statistics). */
  method: "dataTypeRange" | "percentile";
  /** Native data type (restored by {@link denormalize}). */
  dataType: DataType;
  /** Native value mapped to −1, per band. */
  low: number[];
  /** Native value mapped to +1, per band. */
  high: number[];
}

/**
 * Chooses the normalisation for a dataset: uint8 by its range, anything else by the 0.1/99.9 percentiles
 * of its statistics (a band whose percentiles coincide, e.g. constant, is widened by one unit).
 * @param dataType native data type
 * @param stats per-band statistics of valid pixels (required unless uint8)
 */
export function chooseNormalization(
  dataType: DataType,
  bands: number,
  stats?: readonly BandStatistics[],
): Normalization {
  if (dataType === "uint8") {
    return {
      method: "dataTypeRange",
      dataType,
      low: new Array(bands).fill(0),
      high: new Array(bands).fill(255),
    };
  }
  if (!stats || stats.length !== bands) {
    throw new RangeError(`chooseNormalization: ${dataType} data needs statistics for ${bands} bands`);
  }
  const [lowKey, highKey] = NORMALIZATION_PERCENTILES.map(percentileKey) as [string, string];
  const low = stats.map((s) => s.percentiles[lowKey]!);
  const high = stats.map((s, b) => Math.max(s.percentiles[highKey]!, low[b]! + 1));
  return { method: "percentile", dataType, low, high };
}

function checkBands(normalization: Normalization, data: Float32Array, pixels: number): number {
  const bands = data.length / pixels;
  if (bands !== normalization.low.length) {
    throw new RangeError(`normalization has ${normalization.low.length} bands, data has ${bands}`);
  }
  return bands;
}

/**
 * Native values → [−1, 1] (clamped). Pixels marked invalid become 0.
 * @param data band-sequential native values
 * @param pixels pixels per band
 * @param valid optional per-pixel validity
 */
export function normalize(
  data: Float32Array,
  pixels: number,
  normalization: Normalization,
  valid?: Uint8Array,
): Float32Array {
  const bands = checkBands(normalization, data, pixels);
  const out = new Float32Array(data.length);
  for (let b = 0; b < bands; b++) {
    const low = normalization.low[b]!;
    const scale = 2 / (normalization.high[b]! - low);
    for (let i = 0; i < pixels; i++) {
      if (valid && !valid[i]) continue;
      const v = (data[b * pixels + i]! - low) * scale - 1;
      out[b * pixels + i] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
  }
  return out;
}

/**
 * [−1, 1] → native values in the native data type's range (clamped; rounded for integer types).
 * Invalid pixels become `nodata` (NaN when the raster has none, which the GeoTIFF writer stores as 0 for
 * integer types). A valid pixel that would land exactly on the nodata value is moved one unit towards the
 * valid range, so GIS software does not show it as a hole.
 */
export function denormalize(
  data: Float32Array,
  pixels: number,
  normalization: Normalization,
  options: { valid?: Uint8Array; nodata?: number | null } = {},
): Float32Array {
  const bands = checkBands(normalization, data, pixels);
  const { dataType } = normalization;
  const { integer } = dataTypeInfo(dataType);
  const nodata = options.nodata ?? null;
  const out = new Float32Array(data.length);
  for (let b = 0; b < bands; b++) {
    const low = normalization.low[b]!;
    const half = (normalization.high[b]! - low) / 2;
    // Moving off nodata goes towards the band's own range (nodata usually sits at one end of it).
    const nudge = nodata !== null && nodata <= low ? 1 : -1;
    for (let i = 0; i < pixels; i++) {
      if (options.valid && !options.valid[i]) {
        out[b * pixels + i] = nodata ?? Number.NaN;
        continue;
      }
      const clamped = Math.min(1, Math.max(-1, data[b * pixels + i]!));
      let value = toDataTypeValue((clamped + 1) * half + low, dataType);
      if (nodata !== null && value === nodata) {
        value = integer ? value + nudge : value + nudge * Math.abs(value || 1) * 1e-6;
      }
      out[b * pixels + i] = value;
    }
  }
  return out;
}
