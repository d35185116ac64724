import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { encodePngBytes } from "../../deps.ts";
import { FILE_VERSION, listEventFiles, readEventFile, TensorBoardWriter } from "../../report/tensorboard.ts";

/** A 3×2 RGBA PNG with distinct pixels. */
function samplePng(): Uint8Array {
  const data = new Uint8Array(3 * 2 * 4).map((_, i) => (i * 37) % 256);
  return encodePngBytes({ width: 3, height: 2, data, channels: 4, depth: 8 });
}

async function withLogDir(run: (logDir: string) => Promise<void> | void): Promise<void> {
  const logDir = await Deno.makeTempDir({ prefix: "sr3_tb_" });
  try {
    await run(logDir);
  } finally {
    await Deno.remove(logDir, { recursive: true });
  }
}

Deno.test("TensorBoardWriter writes scalars and an image that readEventFile reads back", async () => {
  await withLogDir(async (logDir) => {
    const before = Date.now() / 1000;
    const writer = TensorBoardWriter.open(logDir, { hostname: "testhost" });
    const png = samplePng();
    writer.addScalars({ "train/loss": 0.1234, "train/lr": 1e-4 }, 10);
    writer.addScalar("train/loss", -2.5, 20);
    writer.addImage("val/grid", png, 20);
    writer.addSessionStart(15);
    writer.close();
    const after = Date.now() / 1000;

    assert.match(basename(writer.path), /^events\.out\.tfevents\.\d{10}\.testhost$/);
    const seconds = Number(basename(writer.path).split(".")[3]);
    assert.ok(seconds >= Math.floor(before) && seconds <= after);

    const entries = await readEventFile(writer.path);
    for (const entry of entries) assert.ok(entry.wallTime >= before && entry.wallTime <= after);
    const withoutTime = entries.map(({ wallTime: _, ...rest }) => rest);
    assert.deepEqual(
      withoutTime,
      [
        { kind: "fileVersion", step: 0, fileVersion: FILE_VERSION },
        { kind: "scalar", step: 10, tag: "train/loss", value: Math.fround(0.1234) },
        { kind: "scalar", step: 10, tag: "train/lr", value: Math.fround(1e-4) },
        { kind: "scalar", step: 20, tag: "train/loss", value: -2.5 },
        { kind: "image", step: 20, tag: "val/grid", image: { width: 3, height: 2, colorspace: 4, png } },
        { kind: "sessionStart", step: 15 },
      ],
    );
  });
});

Deno.test("a scalar event has the wire layout of event.proto and summary.proto, decoded by hand", async () => {
  await withLogDir(async (logDir) => {
    const writer = TensorBoardWriter.open(logDir, { hostname: "h" });
    writer.addScalar("loss", 0.5, 300);
    writer.close();
    const file = await Deno.readFile(writer.path);
    const view = new DataView(file.buffer);
    const firstLength = Number(view.getBigUint64(0, true));
    const start = 12 + firstLength + 4; // second record
    const length = Number(view.getBigUint64(start, true));
    const event = [...file.subarray(start + 12, start + 12 + length)];

    // Event.wall_time: field 1, wire type 1 (64-bit) → tag 0x09, then a little-endian double.
    assert.equal(event[0], 0x09);
    const wallTime = new DataView(new Uint8Array(event.slice(1, 9)).buffer).getFloat64(0, true);
    assert.ok(Math.abs(wallTime - Date.now() / 1000) < 60);
    // Event.step: field 2, varint → 0x10; 300 = 0b10_0101100 → varint ac 02.
    assert.deepEqual(event.slice(9, 12), [0x10, 0xac, 0x02]);
    // Event.summary: field 5, length-delimited → 0x2a, length 13.
    // Summary.value: field 1 → 0x0a, length 11; Value.tag: field 1 → 0x0a, 4, "loss";
    // Value.simple_value: field 2, wire type 5 (32-bit) → 0x15, float32 0.5 = 00 00 00 3f.
    assert.deepEqual(event.slice(12), [
      0x2a,
      13,
      0x0a,
      11,
      0x0a,
      4,
      ..."loss".split("").map((c) => c.charCodeAt(0)),
      0x15,
      0,
      0,
      0,
      0x3f,
    ]);

    // The first record is Event { wall_time, file_version (field 3 → 0x1a) = "brain.Event:2" }.
    const first = [...file.subarray(12, 12 + firstLength)];
    assert.deepEqual(first.slice(9), [0x1a, 13, ...new TextEncoder().encode("brain.Event:2")]);
  });
});

Deno.test("readEventFile rejects a corrupted byte with the file, record and offset", async () => {
  await withLogDir(async (logDir) => {
    const writer = TensorBoardWriter.open(logDir, { hostname: "h" });
    writer.addScalar("loss", 0.5, 1);
    writer.close();
    const file = await Deno.readFile(writer.path);
    file[file.length - 6] = (file[file.length - 6] ?? 0) ^ 0xff; // inside the scalar's float
    await Deno.writeFile(writer.path, file);
    await assert.rejects(() => readEventFile(writer.path), {
      name: "RecordError",
      message: new RegExp(`^${writer.path.replaceAll(".", "\\.")}: record 1 at byte 40: data CRC mismatch`),
    });
  });
});

Deno.test("every event reaches the file before close, and a closed writer refuses more", async () => {
  await withLogDir(async (logDir) => {
    const writer = TensorBoardWriter.open(logDir, { hostname: "h" });
    writer.addScalar("loss", 1, 1);
    const live = await readEventFile(writer.path);
    assert.deepEqual(live.map((entry) => entry.kind), ["fileVersion", "scalar"]);
    writer.close();
    writer.close();
    assert.throws(() => writer.addScalar("loss", 1, 2), { message: /event file writer is closed/ });
  });
});

Deno.test("writers opened in the same second get distinct files, listed in order", async () => {
  await withLogDir((logDir) => {
    const writers = [0, 1, 2].map(() => TensorBoardWriter.open(join(logDir, "run"), { hostname: "h" }));
    for (const writer of writers) writer.close();
    const paths = writers.map((writer) => writer.path);
    assert.equal(new Set(paths).size, 3);
    assert.deepEqual(listEventFiles(join(logDir, "run")), [...paths].sort());
  });
});

Deno.test("addImage rejects bytes that are not a PNG", async () => {
  await withLogDir((logDir) => {
    const writer = TensorBoardWriter.open(logDir, { hostname: "h" });
    try {
      assert.throws(() => writer.addImage("grid", new Uint8Array(40), 1), {
        message: /image "grid": expected PNG bytes with an IHDR header, got 40 other bytes/,
      });
    } finally {
      writer.close();
    }
  });
});
