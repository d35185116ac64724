/**
 * TFRecord framing, the container format of TensorBoard event files.
 *
 * Each record is: uint64 length (little-endian), uint32 masked CRC-32C of those 8 length bytes, the data,
 * uint32 masked CRC-32C of the data. Format and mask from tensorflow/core/lib/io/record_writer.cc and
 * tensorflow/core/lib/hash/crc32c.h (`Mask`: rotate right by 15 bits, add 0xa282ead8), which exist so that a
 * CRC computed over data that itself contains CRCs does not degenerate.
 *
 * @module
 */
import { crc32c } from "../deps.ts";
import { DataError } from "../base/errors.ts";

/** A TFRecord file that is truncated or fails a CRC check; the message names file, record and offset. */
export class RecordError extends DataError {
  /**
   * Creates the error.
   * @param message what was wrong, naming the file, the record index and its byte offset
   */
  constructor(message: string) {
    super(message);
    this.name = "RecordError";
  }
}

const MASK_DELTA = 0xa282ead8;
const HEADER_BYTES = 12;
const FOOTER_BYTES = 4;

/** The masked CRC-32C that TFRecord stores for `bytes`, as an unsigned 32-bit integer. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c.buf(bytes) >>> 0;
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}

/** Frames one record: length, masked CRC of the length, data, masked CRC of the data. */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const record = new Uint8Array(HEADER_BYTES + data.length + FOOTER_BYTES);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(record.subarray(0, 8)), true);
  record.set(data, HEADER_BYTES);
  view.setUint32(HEADER_BYTES + data.length, maskedCrc32c(data), true);
  return record;
}

/**
 * Splits a TFRecord byte stream into record payloads, verifying both CRCs of every record.
 *
 * @param bytes the whole file
 * @param source the file name, used in error messages
 * @throws {RecordError} on a truncated record or a CRC mismatch
 */
export function decodeRecords(bytes: Uint8Array, source: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const where = `${source}: record ${records.length} at byte ${offset}`;
    if (bytes.length - offset < HEADER_BYTES) {
      throw new RecordError(
        `${where}: truncated header (expected ${HEADER_BYTES} bytes, found ${bytes.length - offset})`,
      );
    }
    checkCrc(bytes.subarray(offset, offset + 8), view.getUint32(offset + 8, true), `${where}: length`);
    const length = view.getBigUint64(offset, true);
    const available = BigInt(bytes.length - offset - HEADER_BYTES - FOOTER_BYTES);
    if (length > available) {
      throw new RecordError(
        `${where}: truncated data (length field says ${length} bytes, file has ${available} left)`,
      );
    }
    const dataStart = offset + HEADER_BYTES;
    const dataEnd = dataStart + Number(length);
    const data = bytes.subarray(dataStart, dataEnd);
    checkCrc(data, view.getUint32(dataEnd, true), `${where}: data`);
    records.push(data);
    offset = dataEnd + FOOTER_BYTES;
  }
  return records;
}

function checkCrc(bytes: Uint8Array, stored: number, what: string): void {
  const computed = maskedCrc32c(bytes);
  if (computed !== stored) {
    throw new RecordError(`${what} CRC mismatch (stored 0x${hex(stored)}, computed 0x${hex(computed)})`);
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}
