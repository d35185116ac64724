/**
 * PNG encoding (npm:fast-png) of 8-bit RGBA images, the common currency of previews and plot grids, and of
 * grey/RGB/RGBA images at 8 or 16 bits. Files are written atomically like every other output.
 * @module
 */
import { encodePngBytes } from "../deps.ts";
import { DataError, describeError } from "../base/errors.ts";
import {
  assertOutputFree,
  ensureParentDir,
  moveIntoPlace,
  type OutputOptions,
  removeQuietly,
  temporarySibling,
} from "../data/files.ts";

/** An 8-bit RGBA image, row-major, 4 bytes per pixel (what previews and plot grids produce). */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, length width·height·4. */
  data: Uint8Array;
}

/** A pixel-interleaved image with 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels at 8 or 16 bits. */
export interface PngImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel. */
  channels: 1 | 2 | 3 | 4;
  /** Bits per channel. */
  depth: 8 | 16;
  /** Interleaved samples: Uint8Array for depth 8, Uint16Array for depth 16. */
  data: Uint8Array | Uint16Array;
}

/** Encodes an {@link RgbaImage} or a {@link PngImage} as PNG bytes. */
export function encodePng(image: RgbaImage | PngImage): Uint8Array {
  const channels = "channels" in image ? image.channels : 4;
  const depth = "depth" in image ? image.depth : 8;
  if (image.data.length !== image.width * image.height * channels) {
    throw new RangeError(
      `encodePng: ${image.data.length} samples for ${image.width}×${image.height}×${channels}`,
    );
  }
  if ((depth === 16) !== (image.data instanceof Uint16Array)) {
    throw new RangeError(
      `encodePng: depth ${depth} needs ${depth === 16 ? "Uint16Array" : "Uint8Array"} data`,
    );
  }
  return encodePngBytes({ width: image.width, height: image.height, data: image.data, channels, depth });
}

/**
 * Writes a PNG atomically (temporary name, then rename).
 * @throws {DataError} when the output exists (without `overwrite`) or cannot be written
 */
export async function writePng(
  path: string,
  image: RgbaImage | PngImage,
  options: OutputOptions = {},
): Promise<void> {
  const bytes = encodePng(image);
  await assertOutputFree(path, options.overwrite);
  const temporary = temporarySibling(path);
  try {
    await ensureParentDir(path);
    await Deno.writeFile(temporary, bytes, { createNew: true });
    await moveIntoPlace(temporary, path);
  } catch (error) {
    await removeQuietly(temporary);
    if (error instanceof DataError) throw error;
    throw new DataError(`${path}: cannot write PNG (${describeError(error)})`, { cause: error });
  }
}
