/**
 * Property test of the raster reader: whatever malformed TIFF it is given (bytes of the header and IFD
 * overwritten, IFD entries with absurd types, counts and values, truncation anywhere), reading either
 * succeeds with consistent pixels or fails with a DataError whose message is one line naming the file.
 * Never a TypeError, a RangeError, an allocation failure or a hang.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DataError } from "../../base/errors.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { readRaster } from "../../data/raster.ts";

/** Little-endian classic TIFF: the first IFD's entries as byte offsets of their 12-byte records. */
function ifdEntries(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ifd = view.getUint32(4, true);
  const count = view.getUint16(ifd, true);
  return Array.from({ length: count }, (_, i) => ifd + 2 + 12 * i);
}

/** One way to damage a file. */
type Damage =
  | { kind: "bytes"; edits: { at: number; value: number }[] }
  | { kind: "entry"; entry: number; field: "type" | "count" | "value"; value: number }
  | { kind: "truncate"; length: number };

const interesting = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 7, 8, 16, 17, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.nat({ max: 2 ** 32 - 1 }),
);

function damage(size: number, entries: number): fc.Arbitrary<Damage> {
  return fc.oneof(
    fc.record({
      kind: fc.constant("bytes" as const),
      edits: fc.array(
        fc.record({ at: fc.nat({ max: Math.min(size, 400) - 1 }), value: fc.nat({ max: 255 }) }),
        { minLength: 1, maxLength: 8 },
      ),
    }),
    fc.record({
      kind: fc.constant("entry" as const),
      entry: fc.nat({ max: entries - 1 }),
      field: fc.constantFrom("type" as const, "count" as const, "value" as const),
      value: interesting,
    }),
    fc.record({ kind: fc.constant("truncate" as const), length: fc.nat({ max: size - 1 }) }),
  );
}

function apply(base: Uint8Array, change: Damage): Uint8Array {
  if (change.kind === "truncate") return base.slice(0, change.length);
  const bytes = base.slice();
  const view = new DataView(bytes.buffer);
  if (change.kind === "bytes") {
    for (const { at, value } of change.edits) bytes[at] = value;
  } else {
    const at = ifdEntries(base)[change.entry]!;
    if (change.field === "type") view.setUint16(at + 2, change.value & 0xffff, true);
    if (change.field === "count") view.setUint32(at + 4, change.value, true);
    if (change.field === "value") view.setUint32(at + 8, change.value, true);
  }
  return bytes;
}

Deno.test("malformed TIFF headers and values only ever give a one-line DataError", async () => {
  const dir = await Deno.makeTempDir();
  const bases: Uint8Array[] = [];
  for (const [dataType, bandCount] of [["uint8", 3], ["uint16", 1], ["float32", 2]] as const) {
    const path = `${dir}/base-${dataType}.tif`;
    const data = Float32Array.from({ length: bandCount * 12 * 10 }, (_, i) => (i * 7) % 200);
    await writeGeoTiff(path, data, { width: 12, height: 10, bandCount, dataType, nodata: 0 });
    bases.push(await Deno.readFile(path));
  }
  const path = `${dir}/damaged.tif`;
  let rejected = 0;
  const property = fc.asyncProperty(
    fc.nat({ max: bases.length - 1 }).chain((b) =>
      fc.tuple(fc.constant(b), damage(bases[b]!.length, ifdEntries(bases[b]!).length))
    ),
    async ([b, change]) => {
      await Deno.writeFile(path, apply(bases[b]!, change));
      try {
        const { info, bands, data } = await readRaster(path);
        assert.equal(data.length, bands * info.width * info.height);
      } catch (error) {
        rejected++;
        assert.ok(error instanceof DataError, `not a DataError: ${error}`);
        assert.ok(!error.message.includes("\n"), `more than one line: ${error.message}`);
        assert.ok(error.message.startsWith(path), `does not name the file: ${error.message}`);
      }
    },
  );
  await fc.assert(property, { numRuns: 400, seed: 20261205 });
  assert.ok(rejected > 100, `most damage is detected (${rejected} of 400)`);
  await Deno.remove(dir, { recursive: true });
});
