/**
 * A structural check of a TIFF's header and first image file directory (IFD) before npm:geotiff parses
 * it: every entry's field type must exist and every value must lie inside the file. A damaged entry that
 * declares billions of values would otherwise make the parser allocate gigabytes or never return.
 * TIFF 6.0 section 2 (classic) and the BigTIFF design note (8-byte offsets and counts).
 * @module
 */
import { DataError } from "../base/errors.ts";

/** Bytes per value of each TIFF field type (1 BYTE … 12 DOUBLE, 13 IFD, 16–18 BigTIFF's 8-byte ones). */
const TYPE_BYTES: Readonly<Record<number, number>> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return bytes.subarray(0, filled);
}

/**
 * Checks the header and first IFD of the TIFF at `path` (`fileSize` bytes long).
 * @throws {DataError} naming the file and the first inconsistency found
 */
export async function checkTiffStructure(path: string, fileSize: number): Promise<void> {
  const damaged = (problem: string): never => {
    throw new DataError(`${path}: damaged TIFF (${problem})`);
  };
  const file = await Deno.open(path);
  try {
    const head = await readAt(file, 0, 16);
    if (head.length < 8) damaged(`${fileSize} bytes are too few for a TIFF header`);
    const little = head[0] === 0x49;
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const magic = view.getUint16(2, little);
    if (magic !== 42 && magic !== 43) damaged(`version ${magic} is neither TIFF (42) nor BigTIFF (43)`);
    const big = magic === 43;
    if (big && head.length < 16) damaged("the BigTIFF header is cut short");
    const ifd = big ? Number(view.getBigUint64(8, little)) : view.getUint32(4, little);
    const countSize = big ? 8 : 2;
    const entrySize = big ? 20 : 12;
    const inline = big ? 8 : 4;
    if (ifd < 8 || ifd + countSize > fileSize) {
      damaged(`the first directory at byte ${ifd} is outside the file`);
    }
    const countBytes = await readAt(file, ifd, countSize);
    const countView = new DataView(countBytes.buffer, countBytes.byteOffset, countBytes.byteLength);
    const entries = big ? Number(countView.getBigUint64(0, little)) : countView.getUint16(0, little);
    if (entries === 0) damaged("the first directory has no entries");
    if (ifd + countSize + entries * entrySize > fileSize) {
      damaged(`the first directory's ${entries} entries run past the end of the file`);
    }
    const table = await readAt(file, ifd + countSize, entries * entrySize);
    const entryView = new DataView(table.buffer, table.byteOffset, table.byteLength);
    for (let i = 0; i < entries; i++) {
      const at = i * entrySize;
      const tag = entryView.getUint16(at, little);
      const type = entryView.getUint16(at + 2, little);
      const count = big
        ? Number(entryView.getBigUint64(at + 4, little))
        : entryView.getUint32(at + 4, little);
      const bytesPerValue = TYPE_BYTES[type];
      if (bytesPerValue === undefined) damaged(`tag ${tag} has unknown field type ${type}`);
      const size = count * bytesPerValue!;
      if (size <= inline) continue;
      const offset = big
        ? Number(entryView.getBigUint64(at + 4 + 8, little))
        : entryView.getUint32(at + 8, little);
      if (offset + size > fileSize) {
        damaged(
          `tag ${tag}'s ${count} values (${size} bytes at byte ${offset}) run past the end of the file`,
        );
      }
    }
  } finally {
    file.close();
  }
}
