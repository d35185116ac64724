/**
 * Loading a folder of chips into memory: an Export Tiles folder (`images/`, optional `labels/`,
 * `dataset.json`) or any folder tree of GeoTIFF/PNG/JPEG images. Chips are kept in their native data type
 * (a uint8 chip costs one byte per sample).
 * @module
 */
import { DataError, describeError } from "../base/errors.ts";
import type { DatasetManifest } from "./export.ts";
import { pathExists } from "./files.ts";
import { readRaster } from "./raster.ts";
import type { DataType } from "./types.ts";

/** Samples of one chip in its native type, band-sequential. */
export type NativeSamples =
  | Uint8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

const NATIVE_ARRAY: Record<DataType, { from(values: ArrayLike<number>): NativeSamples }> = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** One image of a chip folder, loaded. */
export interface LoadedImage {
  /** Path relative to the folder the images came from (also the label's name). */
  name: string;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Band-sequential samples (selected bands only). */
  samples: NativeSamples;
  /** The file's nodata value, or null. */
  nodata: number | null;
}

/** A loaded chip folder. */
export interface ChipFolder {
  /** The folder given. */
  root: string;
  /** High-resolution images, sorted by name. */
  images: LoadedImage[];
  /** Matching low-resolution images (same names and order), or null without labels/. */
  labels: LoadedImage[] | null;
  /** Bands per image after selection. */
  bandCount: number;
  /** Data type of the images. */
  dataType: DataType;
  /** Data type of the labels, or null. */
  labelDataType: DataType | null;
  /** The parsed dataset.json, or null when the folder has none. */
  manifest: DatasetManifest | null;
}

const IMAGE_EXTENSIONS = /\.(tif|tiff|png|jpg|jpeg)$/i;

async function listImages(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const name = prefix + entry.name;
    if (entry.isDirectory) names.push(...await listImages(`${dir}/${entry.name}`, `${name}/`));
    else if (entry.isFile && IMAGE_EXTENSIONS.test(entry.name)) names.push(name);
  }
  return names.sort();
}

async function loadImages(
  dir: string,
  names: readonly string[],
  bands: readonly number[] | undefined,
  role: string,
): Promise<{ images: LoadedImage[]; dataType: DataType }> {
  const images: LoadedImage[] = [];
  let first: { path: string; dataType: DataType; bandCount: number } | null = null;
  for (const name of names) {
    const path = `${dir}/${name}`;
    if (!(await pathExists(path))) throw new DataError(`${path}: ${role} for ${name} is missing`);
    const raster = await readRaster(path, bands);
    const { dataType, bandCount, width, height, nodata } = raster.info;
    first ??= { path, dataType, bandCount };
    if (dataType !== first.dataType || bandCount !== first.bandCount) {
      throw new DataError(
        `${path}: ${bandCount} ${dataType} bands, but ${first.path} has ${first.bandCount} ${first.dataType} bands`,
      );
    }
    images.push({ name, width, height, samples: NATIVE_ARRAY[dataType].from(raster.data), nodata });
  }
  return { images, dataType: first!.dataType };
}

async function readManifest(path: string): Promise<DatasetManifest | null> {
  if (!(await pathExists(path))) return null;
  try {
    const manifest = JSON.parse(await Deno.readTextFile(path)) as DatasetManifest;
    if (manifest.format !== "sr3-export-tiles") {
      throw new Error(`format is ${JSON.stringify(manifest.format)}`);
    }
    return manifest;
  } catch (error) {
    throw new DataError(`${path}: not an sr3 dataset.json (${describeError(error)})`, { cause: error });
  }
}

/**
 * Loads every image of a chip folder (and its labels) into memory.
 * @param root an Export Tiles folder or any folder containing .tif/.tiff/.png/.jpg/.jpeg images (searched
 * recursively)
 * @param bands 0-based bands to keep (default all)
 * @throws {DataError} when the folder is missing or has no images, a label is missing, images differ in
 * band count or data type, or a file cannot be read
 */
export async function loadChipFolder(root: string, bands?: readonly number[]): Promise<ChipFolder> {
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(root)).isDirectory;
  } catch (error) {
    throw new DataError(`${root}: cannot open the dataset folder (${describeError(error)})`, {
      cause: error,
    });
  }
  if (!isDirectory) throw new DataError(`${root}: not a folder`);
  const exported = await pathExists(`${root}/images`);
  const imagesDir = exported ? `${root}/images` : root;
  const labelsDir = exported && (await pathExists(`${root}/labels`)) ? `${root}/labels` : null;
  const manifest = exported ? await readManifest(`${root}/dataset.json`) : null;
  const names = await listImages(imagesDir);
  if (names.length === 0) throw new DataError(`${imagesDir}: no .tif, .png or .jpg images found`);
  const { images, dataType } = await loadImages(imagesDir, names, bands, "image");
  const labels = labelsDir ? await loadImages(labelsDir, names, bands, "the label") : null;
  return {
    root,
    images,
    labels: labels?.images ?? null,
    bandCount: images[0]!.samples.length / (images[0]!.width * images[0]!.height),
    dataType,
    labelDataType: labels?.dataType ?? null,
    manifest,
  };
}
