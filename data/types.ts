/**
 * The shared vocabulary of the data layer: pixel data types, georeferencing and the lazily read raster.
 * @module
 */

/** Pixel data types sr3 reads and writes (GDAL's Byte, UInt16, Int16, UInt32, Int32, Float32, Float64). */
export type DataType = "uint8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";

/** Every {@link DataType}, in the order used by error messages. */
export const DATA_TYPES: readonly DataType[] = [
  "uint8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "float64",
];

/** Storage facts of one data type. */
export interface DataTypeInfo {
  /** Bytes per sample. */
  bytes: 1 | 2 | 4 | 8;
  /** TIFF SampleFormat: 1 unsigned integer, 2 signed integer, 3 IEEE float. */
  sampleFormat: 1 | 2 | 3;
  /** Whether values are integers (so conversions round and clamp). */
  integer: boolean;
  /** Smallest representable value (for floats, the most negative finite value). */
  min: number;
  /** Largest representable value. */
  max: number;
}

const DATA_TYPE_INFO: Record<DataType, DataTypeInfo> = {
  uint8: { bytes: 1, sampleFormat: 1, integer: true, min: 0, max: 255 },
  uint16: { bytes: 2, sampleFormat: 1, integer: true, min: 0, max: 65535 },
  int16: { bytes: 2, sampleFormat: 2, integer: true, min: -32768, max: 32767 },
  uint32: { bytes: 4, sampleFormat: 1, integer: true, min: 0, max: 4294967295 },
  int32: { bytes: 4, sampleFormat: 2, integer: true, min: -2147483648, max: 2147483647 },
  float32: {
    bytes: 4,
    sampleFormat: 3,
    integer: false,
    min: -3.4028234663852886e38,
    max: 3.4028234663852886e38,
  },
  float64: { bytes: 8, sampleFormat: 3, integer: false, min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
};

/** Storage facts (size, TIFF sample format, range) of a data type. */
export function dataTypeInfo(dataType: DataType): DataTypeInfo {
  return DATA_TYPE_INFO[dataType];
}

/** Whether a string names a {@link DataType} (for parsing JSON and command-line values). */
export function isDataType(value: string): value is DataType {
  return (DATA_TYPES as readonly string[]).includes(value);
}

/**
 * Converts a float to a data type's value: NaN stays NaN for floats, integers are rounded half away from
 * zero and clamped to the type's range (NaN becomes the type's minimum only if the caller did not map it
 * to nodata first).
 */
export function toDataTypeValue(value: number, dataType: DataType): number {
  const info = DATA_TYPE_INFO[dataType];
  if (!info.integer) return dataType === "float32" ? Math.fround(value) : value;
  if (Number.isNaN(value)) return info.min;
  const rounded = value < 0 ? -Math.round(-value) : Math.round(value);
  return Math.min(info.max, Math.max(info.min, rounded));
}

/**
 * The raw GeoTIFF geokeys of a file (GeoKeyDirectoryTag and its parameter tags), kept verbatim so a
 * written file carries exactly the same coordinate reference system, including user-defined ones.
 */
export interface GeoKeys {
  /** GeoKeyDirectoryTag (34735): header (version, revision, minor, count) then 4 shorts per key. */
  directory: number[];
  /** GeoDoubleParamsTag (34736), empty when absent. */
  doubleParams: number[];
  /** GeoAsciiParamsTag (34737), "" when absent; entries are terminated by "|". */
  asciiParams: string;
}

/**
 * Where a raster lies: an axis-aligned geotransform (GDAL convention: the origin is the outer corner of the
 * upper-left pixel, pixelSizeY is negative for north-up images) and the coordinate reference system.
 * Rotated or sheared transforms are refused when reading.
 */
export interface GeoReference {
  /** X coordinate of the upper-left corner of the upper-left pixel, in CRS units. */
  originX: number;
  /** Y coordinate of that corner. */
  originY: number;
  /** Pixel width in CRS units (positive). */
  pixelSizeX: number;
  /** Pixel height in CRS units: negative for north-up images (y decreases downwards). */
  pixelSizeY: number;
  /** EPSG code of the CRS (ProjectedCSTypeGeoKey or GeographicTypeGeoKey), null when user-defined. */
  epsg: number | null;
  /** The CRS exactly as stored, to be written back unchanged. */
  geoKeys: GeoKeys;
}

/** Options of {@link RasterSource.readWindow}. */
export interface ReadWindowOptions {
  /** 0-based band indices to read, in output order (default: all bands). */
  bands?: readonly number[];
}

/** The container a raster was read from. */
export type RasterFormat = "geotiff" | "png" | "jpeg";

/** The header of a raster: size, bands, data type, nodata and georeferencing. */
export interface RasterInfo {
  /** The path it was opened from (used in error messages). */
  readonly path: string;
  /** Container format. */
  readonly format: RasterFormat;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Number of bands (samples per pixel). */
  readonly bandCount: number;
  /** Data type of the stored samples. */
  readonly dataType: DataType;
  /** The nodata value (GDAL_NODATA), or null when the file declares none. */
  readonly nodata: number | null;
  /** Georeferencing, or null when the file has none (PNG, JPEG, plain TIFF). */
  readonly geo: GeoReference | null;
}

/**
 * A raster opened lazily: the header is known, pixels are decoded only for the windows asked for.
 * Close it when done (a GeoTIFF keeps a file handle open).
 */
export interface RasterSource extends RasterInfo {
  /**
   * Reads a window as band-sequential float32 (`[band][row][column]`, length bands·w·h). The window may
   * extend past the raster's edges; those pixels are filled with the nodata value, or 0 when the raster
   * has none. Values of 32-bit integer and float64 rasters are rounded to float32.
   * @throws {DataError} when a band index does not exist or the file cannot be decoded
   */
  readWindow(
    x: number,
    y: number,
    width: number,
    height: number,
    options?: ReadWindowOptions,
  ): Promise<Float32Array>;
  /** Releases the file handle. Further reads fail. */
  close(): Promise<void>;
}
