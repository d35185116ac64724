/**
 * Byte layout of a TIFF / BigTIFF file: the header and one image file directory (IFD) with its
 * out-of-line values, and the row-order rule of the streaming writers. Used by the streaming GeoTIFF and COG
 * writers, which append pixel data first and the IFDs last.
 *
 * Why hand-written: npm:geotiff's writer builds the whole file in memory, uncompressed, and cannot write
 * GDAL_NODATA through its typed metadata, so it cannot stream a large super-resolved raster. The format
 * parts used here are TIFF 6.0 (baseline, section 2) and BigTIFF (libtiff's BigTIFF design note).
 * @module
 */

/** TIFF field types used by the writer (TIFF 6.0 section 2, BigTIFF for LONG8). */
export const FieldType = { ASCII: 2, SHORT: 3, LONG: 4, DOUBLE: 12, LONG8: 16 } as const;
/** One of {@link FieldType}'s values. */
export type FieldTypeCode = typeof FieldType[keyof typeof FieldType];

const FIELD_BYTES: Record<FieldTypeCode, number> = { 2: 1, 3: 2, 4: 4, 12: 8, 16: 8 };

/** One directory entry: a tag, its type and its values (ASCII as a string without the NUL). */
export interface TiffField {
  /** Tag number. */
  tag: number;
  /** Field type. */
  type: FieldTypeCode;
  /** Values; a string for ASCII. */
  values: readonly number[] | string;
}

/** Whether this machine stores numbers little-endian; files are written in the machine's byte order. */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Size of the file header: 8 bytes for TIFF, 16 for BigTIFF. */
export function headerSize(bigTiff: boolean): number {
  return bigTiff ? 16 : 8;
}

/** The file header pointing at the first IFD. */
export function encodeHeader(bigTiff: boolean, firstIfdOffset: number): Uint8Array {
  const bytes = new Uint8Array(headerSize(bigTiff));
  const view = new DataView(bytes.buffer);
  const order = LITTLE_ENDIAN ? 0x49 : 0x4d;
  bytes[0] = order;
  bytes[1] = order;
  if (bigTiff) {
    view.setUint16(2, 43, LITTLE_ENDIAN);
    view.setUint16(4, 8, LITTLE_ENDIAN);
    view.setUint16(6, 0, LITTLE_ENDIAN);
    view.setBigUint64(8, BigInt(firstIfdOffset), LITTLE_ENDIAN);
  } else {
    view.setUint16(2, 42, LITTLE_ENDIAN);
    view.setUint32(4, firstIfdOffset, LITTLE_ENDIAN);
  }
  return bytes;
}

function fieldCount(field: TiffField): number {
  return typeof field.values === "string" ? field.values.length + 1 : field.values.length;
}

function writeValues(view: DataView, offset: number, field: TiffField): void {
  if (typeof field.values === "string") {
    for (let i = 0; i < field.values.length; i++) {
      view.setUint8(offset + i, field.values.charCodeAt(i) & 0xff);
    }
    view.setUint8(offset + field.values.length, 0);
    return;
  }
  const size = FIELD_BYTES[field.type];
  field.values.forEach((value, i) => {
    const at = offset + i * size;
    if (field.type === FieldType.SHORT) view.setUint16(at, value, LITTLE_ENDIAN);
    else if (field.type === FieldType.LONG) view.setUint32(at, value, LITTLE_ENDIAN);
    else if (field.type === FieldType.DOUBLE) view.setFloat64(at, value, LITTLE_ENDIAN);
    else view.setBigUint64(at, BigInt(value), LITTLE_ENDIAN);
  });
}

/**
 * Encodes one IFD (entries sorted by tag, next-IFD offset 0) followed by its out-of-line values, for
 * placement at byte `ifdOffset` of the file (must be even).
 */
export function encodeIfd(fields: readonly TiffField[], ifdOffset: number, bigTiff: boolean): Uint8Array {
  const sorted = [...fields].sort((a, b) => a.tag - b.tag);
  const countBytes = bigTiff ? 8 : 2;
  const entryBytes = bigTiff ? 20 : 12;
  const inlineBytes = bigTiff ? 8 : 4;
  const directoryBytes = countBytes + sorted.length * entryBytes + (bigTiff ? 8 : 4);
  const outOfLine = sorted.map((field) => fieldCount(field) * FIELD_BYTES[field.type])
    .map((bytes) => (bytes > inlineBytes ? bytes + (bytes % 2) : 0));
  const total = directoryBytes + outOfLine.reduce((a, b) => a + b, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  if (bigTiff) view.setBigUint64(0, BigInt(sorted.length), LITTLE_ENDIAN);
  else view.setUint16(0, sorted.length, LITTLE_ENDIAN);
  let extra = directoryBytes;
  sorted.forEach((field, i) => {
    const entry = countBytes + i * entryBytes;
    view.setUint16(entry, field.tag, LITTLE_ENDIAN);
    view.setUint16(entry + 2, field.type, LITTLE_ENDIAN);
    const count = fieldCount(field);
    if (bigTiff) view.setBigUint64(entry + 4, BigInt(count), LITTLE_ENDIAN);
    else view.setUint32(entry + 4, count, LITTLE_ENDIAN);
    const valueAt = entry + (bigTiff ? 12 : 8);
    if (outOfLine[i] === 0) {
      writeValues(view, valueAt, field);
    } else {
      if (bigTiff) view.setBigUint64(valueAt, BigInt(ifdOffset + extra), LITTLE_ENDIAN);
      else view.setUint32(valueAt, ifdOffset + extra, LITTLE_ENDIAN);
      writeValues(view, extra, field);
      extra += outOfLine[i]!;
    }
  });
  return bytes;
}

/**
 * The number of whole rows in `rows` (band-sequential) appended at row `y` of a streaming writer whose
 * next row is `next`.
 * @throws {Error} after the writer finished; {@link RangeError} for partial rows, rows out of order or
 * past the height
 */
export function checkedRowCount(
  path: string,
  header: { width: number; height: number; bandCount: number },
  rows: Float32Array,
  y: number,
  next: number,
  finished: boolean,
): number {
  const { width, height, bandCount } = header;
  if (finished) throw new Error(`${path}: writer already closed`);
  const count = rows.length / (width * bandCount);
  if (!Number.isInteger(count)) {
    throw new RangeError(
      `${path}: ${rows.length} samples is not a whole number of ${width}×${bandCount} rows`,
    );
  }
  if (y !== next) {
    throw new RangeError(`${path}: rows must be written in order; expected row ${next}, got ${y}`);
  }
  if (y + count > height) {
    throw new RangeError(`${path}: rows ${y}..${y + count - 1} exceed the height ${height}`);
  }
  return count;
}
