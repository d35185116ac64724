/**
 * GeoTIFF reading through npm:geotiff: the header, georeferencing and nodata at open, pixels per window.
 * @module
 */
import { checkTiffStructure } from "./tiff_check.ts";
import { fromFile, type GeoTIFF, type GeoTIFFImage, type TypedArray } from "../deps.ts";
import { DataError, describeError } from "../base/errors.ts";
import { geoReferenceFromTags } from "./geo.ts";
import {
  DATA_TYPES,
  type DataType,
  type GeoReference,
  type RasterSource,
  type ReadWindowOptions,
} from "./types.ts";

const PHOTOMETRIC_YCBCR = 6;
const COMPRESSION_JPEG = 7;

/** Maps TIFF SampleFormat + BitsPerSample to a {@link DataType}, or to a description of the unsupported one. */
function dataTypeOf(sampleFormat: number, bits: number): { dataType: DataType } | { unsupported: string } {
  const kind = sampleFormat === 1 ? "uint" : sampleFormat === 2 ? "int" : sampleFormat === 3 ? "float" : null;
  if (kind === null) return { unsupported: `sample format ${sampleFormat} (complex or undefined)` };
  const name = `${kind}${bits}`;
  const supported: Record<string, DataType> = {
    uint8: "uint8",
    uint16: "uint16",
    int16: "int16",
    uint32: "uint32",
    int32: "int32",
    float32: "float32",
    float64: "float64",
  };
  const dataType = supported[name];
  if (dataType) return { dataType };
  const kindName = kind === "uint" ? "unsigned integer" : kind === "int" ? "signed integer" : "float";
  return { unsupported: `${bits}-bit ${kindName}` };
}

/** Parses GDAL_NODATA ("0", "-9999", "nan", "inf"), or null. */
function parseNodata(text: string | undefined): number | null {
  if (text === undefined) return null;
  const trimmed = text.replace(/\0/g, "").trim().toLowerCase();
  if (trimmed === "") return null;
  if (trimmed === "nan") return Number.NaN;
  if (trimmed === "inf" || trimmed === "+inf") return Number.POSITIVE_INFINITY;
  if (trimmed === "-inf") return Number.NEGATIVE_INFINITY;
  const value = Number(trimmed);
  return Number.isNaN(value) ? null : value;
}

/** Rounds a YCbCr triple to RGB with the JFIF equations (ITU-R BT.601 full range), as libjpeg does. */
function ycbcrToRgbInPlace(y: TypedArray, cb: TypedArray, cr: TypedArray): void {
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < y.length; i++) {
    const luma = y[i]!;
    const blueDiff = cb[i]! - 128;
    const redDiff = cr[i]! - 128;
    y[i] = clamp(luma + 1.402 * redDiff);
    cb[i] = clamp(luma - 0.344136 * blueDiff - 0.714136 * redDiff);
    cr[i] = clamp(luma + 1.772 * blueDiff);
  }
}

class GeoTiffSource implements RasterSource {
  readonly format = "geotiff" as const;

  constructor(
    readonly path: string,
    private readonly tiff: GeoTIFF,
    private readonly image: GeoTIFFImage,
    readonly width: number,
    readonly height: number,
    readonly bandCount: number,
    readonly dataType: DataType,
    readonly nodata: number | null,
    readonly geo: GeoReference | null,
    private readonly jpegYCbCr: boolean,
  ) {}

  async readWindow(
    x: number,
    y: number,
    width: number,
    height: number,
    options: ReadWindowOptions = {},
  ): Promise<Float32Array> {
    const bands = checkBands(this.path, this.bandCount, options.bands);
    const fill = this.nodata ?? 0;
    // The float32 window plus the decoder's copy in the native type (at most 8 bytes a sample).
    assertMemoryFor(
      this.path,
      `a ${width}×${height}×${bands.length} window`,
      bands.length * width * height * 12,
    );
    const out = new Float32Array(bands.length * width * height).fill(fill);
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + width);
    const y1 = Math.min(this.height, y + height);
    if (x1 <= x0 || y1 <= y0) return out;
    // YCbCr JPEG stores luma and chroma, so every band needs all three samples.
    const samples = this.jpegYCbCr ? [0, 1, 2] : [...new Set(bands)];
    let arrays: TypedArray[];
    try {
      const raster = await this.image.readRasters({ window: [x0, y0, x1, y1], samples, interleave: false });
      arrays = Array.from(raster);
    } catch (error) {
      throw new DataError(`${this.path}: cannot decode pixels (${describeError(error)})`, { cause: error });
    }
    if (this.jpegYCbCr) ycbcrToRgbInPlace(arrays[0]!, arrays[1]!, arrays[2]!);
    const windowWidth = x1 - x0;
    for (let b = 0; b < bands.length; b++) {
      const source = arrays[samples.indexOf(bands[b]!)]!;
      const bandOffset = b * width * height;
      for (let row = y0; row < y1; row++) {
        const sourceRow = (row - y0) * windowWidth;
        const outRow = bandOffset + (row - y) * width + (x0 - x);
        for (let col = 0; col < windowWidth; col++) out[outRow + col] = source[sourceRow + col]!;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.tiff.close();
  }
}

/** BitsPerSample and SampleFormat (TIFF tags 258 and 339). */
const PER_SAMPLE_TAGS = [258, 339];

/**
 * Some writers give BitsPerSample or SampleFormat once for all samples; libtiff and GDAL read that as
 * the same value for every band, and so does sr3 (npm:geotiff would size pixels by the one value).
 */
function expandPerSampleTags(image: GeoTIFFImage, bandCount: number): void {
  const fields = (image.getFileDirectory() as unknown as { actualizedFields?: Map<number, unknown> })
    .actualizedFields;
  for (const tag of PER_SAMPLE_TAGS) {
    const value = fields?.get(tag) as ArrayLike<number> | undefined;
    if (value?.length === 1 && bandCount > 1) fields!.set(tag, new Array(bandCount).fill(value[0]));
  }
}

/**
 * Refuses, before allocating, a read that needs more than half the memory the system has available
 * (an allocation failure or the OOM killer would end the process without a word).
 * @throws {DataError} naming the file, what was to be read, and the memory needed and available
 */
export function assertMemoryFor(path: string, what: string, bytes: number): void {
  const available = Deno.systemMemoryInfo().available;
  if (bytes > available / 2) {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
    throw new DataError(
      `${path}: reading ${what} needs ${gib(bytes)} of memory, more than half of the ${
        gib(available)
      } available; read it in smaller windows`,
    );
  }
}

/**
 * Validates a band selection (0-based indices) against a raster's band count.
 * @returns the selection, or all bands when none was given
 * @throws {DataError} naming the file, the bad index and the band count
 */
export function checkBands(path: string, bandCount: number, bands?: readonly number[]): number[] {
  if (!bands) return Array.from({ length: bandCount }, (_, i) => i);
  if (bands.length === 0) throw new DataError(`${path}: the band selection is empty`);
  for (const band of bands) {
    if (!Number.isInteger(band) || band < 0 || band >= bandCount) {
      // Named as GDAL, ArcGIS and `--bands` count (from 1), with the API's 0-based index beside it.
      throw new DataError(
        `${path}: band ${band + 1} (index ${band}) does not exist; the file has ${bandCount} band${
          bandCount === 1 ? "" : "s"
        }, numbered 1 to ${bandCount}`,
      );
    }
  }
  return [...bands];
}

/** Loads and checks the strip or tile byte ranges, so a truncated file fails at open, not mid-read. */
async function checkDataExtent(path: string, image: GeoTIFFImage, fileSize: number): Promise<void> {
  const directory = image.getFileDirectory();
  const offsetsTag = image.isTiled ? "TileOffsets" : "StripOffsets";
  const countsTag = image.isTiled ? "TileByteCounts" : "StripByteCounts";
  const offsets = await directory.loadValue(offsetsTag) as ArrayLike<number | bigint> | undefined;
  const counts = await directory.loadValue(countsTag) as ArrayLike<number | bigint> | undefined;
  if (!offsets || !counts || offsets.length === 0 || offsets.length !== counts.length) {
    throw new DataError(`${path}: damaged TIFF (missing or inconsistent ${offsetsTag}/${countsTag})`);
  }
  let end = 0;
  for (let i = 0; i < offsets.length; i++) {
    end = Math.max(end, Number(offsets[i]) + Number(counts[i]));
  }
  if (end > fileSize) {
    throw new DataError(`${path}: truncated TIFF (image data runs to byte ${end}, the file has ${fileSize})`);
  }
}

/**
 * Opens a GeoTIFF lazily: reads the first image's header, georeferencing and nodata, and checks that
 * its data lies inside the file. Overviews and masks (later images) are ignored.
 * @param path the file
 * @param fileSize its size in bytes (to detect truncation)
 * @throws {DataError} for unreadable, truncated or damaged files and unsupported data types
 */
export async function openGeoTiff(path: string, fileSize: number): Promise<RasterSource> {
  await checkTiffStructure(path, fileSize);
  let tiff: GeoTIFF;
  try {
    tiff = await fromFile(path);
  } catch (error) {
    throw new DataError(`${path}: not a readable TIFF (${describeError(error)})`, { cause: error });
  }
  try {
    let image: GeoTIFFImage;
    try {
      image = await tiff.getImage(0);
    } catch (error) {
      throw new DataError(`${path}: damaged TIFF, cannot read its first image (${describeError(error)})`, {
        cause: error,
      });
    }
    const width = image.getWidth();
    const height = image.getHeight();
    const bandCount = image.getSamplesPerPixel();
    if (![width, height, bandCount].every((n) => Number.isSafeInteger(n) && n > 0)) {
      throw new DataError(`${path}: truncated or damaged TIFF (image size ${width}×${height}×${bandCount})`);
    }
    expandPerSampleTags(image, bandCount);
    const formats = new Set<string>();
    for (let sample = 0; sample < bandCount; sample++) {
      formats.add(`${image.getSampleFormat(sample)}:${image.getBitsPerSample(sample)}`);
    }
    if (formats.size > 1) {
      throw new DataError(`${path}: bands have different data types, which is not supported`);
    }
    const typeOrReason = dataTypeOf(image.getSampleFormat(0), image.getBitsPerSample(0));
    if ("unsupported" in typeOrReason) {
      throw new DataError(
        `${path}: unsupported data type ${typeOrReason.unsupported}; supported: ${DATA_TYPES.join(", ")}`,
      );
    }
    const dataType = typeOrReason.dataType;
    const directory = image.getFileDirectory();
    const photometric = directory.getValue("PhotometricInterpretation") as number | undefined;
    const compression = directory.getValue("Compression") as number | undefined;
    const jpegYCbCr = photometric === PHOTOMETRIC_YCBCR && compression === COMPRESSION_JPEG &&
      bandCount === 3;
    if (photometric === PHOTOMETRIC_YCBCR && !jpegYCbCr) {
      throw new DataError(`${path}: YCbCr colour is supported only as 3-band JPEG compression`);
    }
    await checkDataExtent(path, image, fileSize);
    const geo = geoReferenceFromTags({
      modelPixelScale: directory.getValue("ModelPixelScale"),
      modelTiepoint: directory.getValue("ModelTiepoint"),
      modelTransformation: await directory.loadValue("ModelTransformation"),
      geoKeyDirectory: directory.getValue("GeoKeyDirectory"),
      geoDoubleParams: await directory.loadValue("GeoDoubleParams"),
      geoAsciiParams: await directory.loadValue("GeoAsciiParams"),
    }, path);
    const nodata = parseNodata(directory.getValue("GDAL_NODATA") as string | undefined);
    return new GeoTiffSource(path, tiff, image, width, height, bandCount, dataType, nodata, geo, jpegYCbCr);
  } catch (error) {
    await tiff.close();
    if (error instanceof DataError) throw error;
    throw new DataError(`${path}: damaged TIFF (${describeError(error)})`, { cause: error });
  }
}
