/**
 * Georeferencing: the geotransform and CRS of a GeoTIFF from its tags, and the transforms sr3 needs
 * (a window's origin, a super-resolved raster's finer pixel size).
 *
 * Conventions follow GDAL so that `gdalinfo` shows the numbers we compute: the origin is the outer corner
 * of the upper-left pixel, and pixelSizeY is negative for north-up rasters.
 * @module
 */
import { DataError } from "../base/errors.ts";
import type { GeoKeys, GeoReference } from "./types.ts";

/** GeoTIFF key ids used here (GeoTIFF 1.1, OGC 19-008r4, section 7). */
const GT_MODEL_TYPE = 1024;
const GT_RASTER_TYPE = 1025;
const GEOGRAPHIC_TYPE = 2048;
const PROJECTED_CS_TYPE = 3072;
const MODEL_TYPE_PROJECTED = 1;
const MODEL_TYPE_GEOGRAPHIC = 2;
const RASTER_PIXEL_IS_AREA = 1;
const RASTER_PIXEL_IS_POINT = 2;
const USER_DEFINED = 32767;

/** The georeferencing tags of a TIFF directory, as plain numbers (each may be absent). */
export interface GeoTiffTags {
  /** ModelPixelScaleTag (33550): scale x, y, z. */
  modelPixelScale?: ArrayLike<number>;
  /** ModelTiepointTag (33922): i, j, k, x, y, z per tiepoint. */
  modelTiepoint?: ArrayLike<number>;
  /** ModelTransformationTag (34264): row-major 4×4 matrix. */
  modelTransformation?: ArrayLike<number>;
  /** GeoKeyDirectoryTag (34735). */
  geoKeyDirectory?: ArrayLike<number>;
  /** GeoDoubleParamsTag (34736). */
  geoDoubleParams?: ArrayLike<number>;
  /** GeoAsciiParamsTag (34737). */
  geoAsciiParams?: string;
}

/** Reads one key's inline value (TIFFTagLocation 0) from a GeoKeyDirectory, or undefined. */
function inlineKey(directory: readonly number[], keyId: number): number | undefined {
  const count = directory[3] ?? 0;
  for (let k = 0; k < count; k++) {
    const base = 4 + 4 * k;
    if (directory[base] === keyId && directory[base + 1] === 0) return directory[base + 3];
  }
  return undefined;
}

/** The EPSG code a GeoKeyDirectory names, or null for user-defined or missing CRSs. */
export function epsgFromGeoKeys(directory: readonly number[]): number | null {
  const modelType = inlineKey(directory, GT_MODEL_TYPE);
  const code = modelType === MODEL_TYPE_PROJECTED
    ? inlineKey(directory, PROJECTED_CS_TYPE)
    : modelType === MODEL_TYPE_GEOGRAPHIC
    ? inlineKey(directory, GEOGRAPHIC_TYPE)
    : undefined;
  return code === undefined || code === USER_DEFINED || code === 0 ? null : code;
}

/** A copy of the directory with GTRasterTypeGeoKey set to PixelIsArea (added when missing). */
function withPixelIsArea(directory: readonly number[]): number[] {
  const out = [...directory];
  const count = out[3] ?? 0;
  for (let k = 0; k < count; k++) {
    const base = 4 + 4 * k;
    if (out[base] === GT_RASTER_TYPE) {
      out[base + 1] = 0;
      out[base + 2] = 1;
      out[base + 3] = RASTER_PIXEL_IS_AREA;
      return out;
    }
  }
  // Keys must stay sorted by id; GTRasterTypeGeoKey (1025) goes after any 1024 entry.
  let insertAt = 0;
  while (insertAt < count && (out[4 + 4 * insertAt] ?? 0) < GT_RASTER_TYPE) insertAt++;
  out.splice(4 + 4 * insertAt, 0, GT_RASTER_TYPE, 0, 1, RASTER_PIXEL_IS_AREA);
  out[3] = count + 1;
  return out;
}

/**
 * Builds the georeferencing of a TIFF directory, or null when it has none. PixelIsPoint rasters are
 * converted to PixelIsArea (origin moved by half a pixel, as GDAL does) so written files are unambiguous.
 * @param tags the georeferencing tags
 * @param path the file, for error messages
 * @throws {DataError} for rotated or sheared transforms and for rasters georeferenced only by ground
 * control points
 */
export function geoReferenceFromTags(tags: GeoTiffTags, path: string): GeoReference | null {
  let originX: number;
  let originY: number;
  let pixelSizeX: number;
  let pixelSizeY: number;
  if (tags.modelTransformation && tags.modelTransformation.length >= 16) {
    const m = Array.from(tags.modelTransformation);
    if (m[1] !== 0 || m[4] !== 0) {
      throw new DataError(
        `${path}: rotated or sheared geotransform (ModelTransformation terms ${m[1]}, ${
          m[4]
        }) is not supported; ` +
          "warp it north-up first (gdalwarp)",
      );
    }
    [originX, pixelSizeX, originY, pixelSizeY] = [m[3]!, m[0]!, m[7]!, m[5]!];
  } else if (tags.modelTiepoint && tags.modelTiepoint.length >= 6) {
    const tie = Array.from(tags.modelTiepoint);
    const scale = tags.modelPixelScale ? Array.from(tags.modelPixelScale) : undefined;
    if (!scale || scale.length < 2 || tie.length > 6) {
      throw new DataError(
        `${path}: georeferenced by ${tie.length / 6} ground control points without a pixel scale; ` +
          "only an affine geotransform is supported (gdalwarp it first)",
      );
    }
    pixelSizeX = scale[0]!;
    pixelSizeY = -scale[1]!;
    originX = tie[3]! - tie[0]! * pixelSizeX;
    originY = tie[4]! - tie[1]! * pixelSizeY;
  } else {
    return null;
  }
  if (!(pixelSizeX > 0) || pixelSizeY === 0 || !Number.isFinite(pixelSizeY)) {
    throw new DataError(`${path}: invalid pixel size (${pixelSizeX}, ${pixelSizeY}) in the geotransform`);
  }
  const directory = tags.geoKeyDirectory ? Array.from(tags.geoKeyDirectory) : [1, 1, 0, 0];
  if (inlineKey(directory, GT_RASTER_TYPE) === RASTER_PIXEL_IS_POINT) {
    originX -= pixelSizeX / 2;
    originY -= pixelSizeY / 2;
  }
  const geoKeys: GeoKeys = {
    directory: withPixelIsArea(directory),
    doubleParams: tags.geoDoubleParams ? Array.from(tags.geoDoubleParams) : [],
    // Strip the terminating NULs; the writer adds one back.
    asciiParams: (tags.geoAsciiParams ?? "").replace(/\0+$/, ""),
  };
  return { originX, originY, pixelSizeX, pixelSizeY, epsg: epsgFromGeoKeys(directory), geoKeys };
}

/**
 * The georeferencing of a raster super-resolved by `factor`: the same origin and CRS, pixels `factor` times
 * smaller (the caller multiplies the size by `factor`).
 */
export function scaleGeo(geo: GeoReference, factor: number): GeoReference {
  if (!(factor > 0)) throw new RangeError(`scaleGeo: factor must be positive, got ${factor}`);
  return { ...geo, pixelSizeX: geo.pixelSizeX / factor, pixelSizeY: geo.pixelSizeY / factor };
}

/** The georeferencing of the window whose upper-left pixel is (x, y) of a raster with `geo`. */
export function windowGeo(geo: GeoReference, x: number, y: number): GeoReference {
  return { ...geo, originX: geo.originX + x * geo.pixelSizeX, originY: geo.originY + y * geo.pixelSizeY };
}

/** Whether two georeferenced rasters use the same CRS (same EPSG code, or identical geokeys). */
export function sameCrs(a: GeoReference, b: GeoReference): boolean {
  if (a.epsg !== null && b.epsg !== null) return a.epsg === b.epsg;
  return JSON.stringify(a.geoKeys) === JSON.stringify(b.geoKeys);
}

/** A short CRS label for messages and dataset.json: "EPSG:32618", or "user-defined". */
export function crsLabel(geo: GeoReference | null): string {
  if (!geo) return "none";
  return geo.epsg === null ? "user-defined" : `EPSG:${geo.epsg}`;
}
