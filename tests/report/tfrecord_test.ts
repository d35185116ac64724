import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { decodeRecords, encodeRecord, maskedCrc32c, RecordError } from "../../report/tfrecord.ts";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

Deno.test("maskedCrc32c matches the CRC-32C check value masked as in crc32c.h", () => {
  // CRC-32C("123456789") = 0xe3069283 (RFC 3720 B.4); masked by hand: rotr15 + 0xa282ead8 = 0xc78ab0e5.
  assert.equal(maskedCrc32c(ascii("123456789")), 0xc78ab0e5);
});

Deno.test("encodeRecord writes the length header every TensorBoard file starts with", () => {
  // A file-version event is 24 bytes; real tfevents files begin 18 00 00 00 00 00 00 00 a3 7f 4b 22.
  const record = encodeRecord(new Uint8Array(24));
  assert.deepEqual([...record.subarray(0, 12)], [0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22]);
  assert.equal(record.length, 12 + 24 + 4);
});

Deno.test("decodeRecords returns the payloads of consecutive records, empty ones included", () => {
  const payloads = [ascii("first"), new Uint8Array(0), ascii("third record")];
  const file = new Uint8Array(payloads.reduce((n, p) => n + p.length + 16, 0));
  let offset = 0;
  for (const payload of payloads) {
    const record = encodeRecord(payload);
    file.set(record, offset);
    offset += record.length;
  }
  assert.deepEqual(decodeRecords(file, "f").map((p) => [...p]), payloads.map((p) => [...p]));
});

Deno.test("decodeRecords names the record and offset of a corrupt length, data or truncated tail", () => {
  const first = encodeRecord(ascii("ok"));
  const second = encodeRecord(ascii("payload"));
  const file = new Uint8Array([...first, ...second]);
  const at = first.length;

  const badLength = file.slice();
  badLength[at] = 0x08; // "payload" is 7 bytes long
  assert.throws(() => decodeRecords(badLength, "x.tfevents"), {
    name: "RecordError",
    message: new RegExp(`^x\\.tfevents: record 1 at byte ${at}: length CRC mismatch \\(stored 0x[0-9a-f]{8}`),
  });

  const badData = file.slice();
  badData[at + 12 + 3] = 0x00; // was "l" of "payload"
  assert.throws(() => decodeRecords(badData, "x.tfevents"), {
    message: new RegExp(`record 1 at byte ${at}: data CRC mismatch`),
  });

  assert.throws(() => decodeRecords(file.subarray(0, file.length - 1), "x.tfevents"), {
    message: new RegExp(
      `record 1 at byte ${at}: truncated data \\(length field says 7 bytes, file has 6 left\\)`,
    ),
  });
  assert.throws(() => decodeRecords(file.subarray(0, at + 5), "x.tfevents"), RecordError);
  assert.throws(
    () => decodeRecords(file.subarray(0, at + 5), "x.tfevents"),
    DataError,
    "the CLI catches DataError",
  );
});
