/**
 * PNG and JPEG chips (npm:fast-png, npm:jpeg-js) behind the same {@link RasterSource} interface as
 * GeoTIFFs. They carry no georeferencing and no nodata; an alpha channel is kept as a band.
 * @module
 */
import { convertIndexedToRgb, decodePng, jpeg } from "../deps.ts";
import { DataError, describeError } from "../base/errors.ts";
import { checkBands } from "./geotiff_source.ts";
import type { DataType, RasterFormat, RasterSource, ReadWindowOptions } from "./types.ts";

/** A fully decoded, pixel-interleaved image held in memory. */
class DecodedImageSource implements RasterSource {
  readonly nodata = null;
  readonly geo = null;

  constructor(
    readonly path: string,
    readonly format: RasterFormat,
    readonly width: number,
    readonly height: number,
    readonly bandCount: number,
    readonly dataType: DataType,
    private readonly interleaved: Uint8Array | Uint8ClampedArray | Uint16Array,
  ) {}

  readWindow(
    x: number,
    y: number,
    width: number,
    height: number,
    options: ReadWindowOptions = {},
  ): Promise<Float32Array> {
    const bands = checkBands(this.path, this.bandCount, options.bands);
    const out = new Float32Array(bands.length * width * height);
    for (let b = 0; b < bands.length; b++) {
      const band = bands[b]!;
      for (let row = 0; row < height; row++) {
        const sourceRow = y + row;
        if (sourceRow < 0 || sourceRow >= this.height) continue;
        const outRow = (b * height + row) * width;
        for (let col = 0; col < width; col++) {
          const sourceCol = x + col;
          if (sourceCol < 0 || sourceCol >= this.width) continue;
          out[outRow + col] = this.interleaved[(sourceRow * this.width + sourceCol) * this.bandCount + band]!;
        }
      }
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Decodes a PNG file's bytes (8- or 16-bit; palette images expand to RGB/RGBA).
 * @throws {DataError} for corrupt files and 1/2/4-bit grey images
 */
export function openPngBytes(path: string, bytes: Uint8Array): RasterSource {
  let png;
  try {
    png = decodePng(bytes);
  } catch (error) {
    throw new DataError(`${path}: corrupt or truncated PNG (${describeError(error)})`, { cause: error });
  }
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const channels = rgb.length / (png.width * png.height);
    return new DecodedImageSource(path, "png", png.width, png.height, channels, "uint8", rgb);
  }
  if (png.depth !== 8 && png.depth !== 16) {
    throw new DataError(`${path}: unsupported data type ${png.depth}-bit PNG; supported: 8- and 16-bit`);
  }
  const dataType: DataType = png.depth === 16 ? "uint16" : "uint8";
  return new DecodedImageSource(path, "png", png.width, png.height, png.channels, dataType, png.data);
}

/**
 * Decodes a baseline or progressive JPEG file's bytes to 8-bit grey or RGB.
 * @throws {DataError} for corrupt or truncated files
 */
export function openJpegBytes(path: string, bytes: Uint8Array): RasterSource {
  let image;
  try {
    image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048 });
  } catch (error) {
    throw new DataError(`${path}: corrupt or truncated JPEG (${describeError(error)})`, { cause: error });
  }
  const channels = image.data.length / (image.width * image.height);
  if (!Number.isInteger(channels) || channels < 1) {
    throw new DataError(
      `${path}: corrupt JPEG (decoded ${image.data.length} bytes for ${image.width}×${image.height})`,
    );
  }
  return new DecodedImageSource(path, "jpeg", image.width, image.height, channels, "uint8", image.data);
}
