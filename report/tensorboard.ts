/**
 * TensorBoard event files: a writer for scalars and images, and a reader that checks what was written.
 *
 * Messages are encoded with the field numbers of tensorflow/core/util/event.proto (Event: wall_time = 1,
 * step = 2, file_version = 3, summary = 5, session_log = 7; SessionLog: status = 1, START = 1) and
 * tensorflow/core/framework/summary.proto (Summary: value = 1; Summary.Value: tag = 1, simple_value = 2,
 * image = 4; Summary.Image: height = 1, width = 2, colorspace = 3, encoded_image_string = 4).
 *
 * @module
 */
import { BinaryReader, BinaryWriter, WireType } from "../deps.ts";
import { join } from "node:path";
import { DataError } from "../base/errors.ts";
import { decodeRecords, encodeRecord } from "./tfrecord.ts";

/** The version string TensorBoard expects in the first event of a file. */
export const FILE_VERSION = "brain.Event:2";

/** One decoded entry of an event file; an Event whose Summary holds several values yields one entry each. */
export type TensorBoardEntry =
  | { kind: "fileVersion"; wallTime: number; step: number; fileVersion: string }
  | { kind: "scalar"; wallTime: number; step: number; tag: string; value: number }
  | { kind: "image"; wallTime: number; step: number; tag: string; image: EventImage }
  | { kind: "sessionStart"; wallTime: number; step: number };

/** An image as stored in a Summary.Image: its size, TensorBoard colorspace code and PNG bytes. */
export interface EventImage {
  /** pixels */
  width: number;
  /** pixels */
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (summary.proto) */
  colorspace: number;
  /** the encoded PNG file */
  png: Uint8Array;
}

/** Options for {@linkcode TensorBoardWriter.open}. */
export interface TensorBoardWriterOptions {
  /** Host name in the file name; defaults to `Deno.hostname()`. */
  hostname?: string;
}

/**
 * Appends events to `events.out.tfevents.<unix-seconds>.<hostname>` in a log directory.
 *
 * Every event is written to the file as soon as it is added (one write call per event). Training logs at
 * most every few steps, so the cost is negligible, a live TensorBoard sees each point as it arrives, and a
 * crash or kill loses nothing that was added.
 */
export class TensorBoardWriter {
  /** Path of the event file being written. */
  readonly path: string;
  #file: Deno.FsFile | null;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Creates `logDir` if needed and starts a new event file in it, whose first event is the file version.
   * A second writer opened in the same second gets a `.1`, `.2`, … suffix instead of overwriting.
   */
  static open(logDir: string, options: TensorBoardWriterOptions = {}): TensorBoardWriter {
    Deno.mkdirSync(logDir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    const base = join(logDir, `events.out.tfevents.${seconds}.${options.hostname ?? Deno.hostname()}`);
    for (let attempt = 0;; attempt++) {
      const path = attempt === 0 ? base : `${base}.${attempt}`;
      try {
        const writer = new TensorBoardWriter(path, Deno.openSync(path, { write: true, createNew: true }));
        writer.#append(
          encodeEvent(
            wallTimeNow(),
            0,
            (event) => event.tag(3, WireType.LengthDelimited).string(FILE_VERSION),
          ),
        );
        return writer;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
  }

  /** Adds one scalar (stored as a float32 `simple_value`, as TensorBoard does). */
  addScalar(tag: string, value: number, step: number): void {
    this.addScalars({ [tag]: value }, step);
  }

  /** Adds several scalars that belong to the same step, in one event. */
  addScalars(values: Record<string, number>, step: number): void {
    this.#append(encodeEvent(wallTimeNow(), step, (event) => {
      writeSummary(event, Object.entries(values), (value, scalar) => {
        value.tag(2, WireType.Bit32).float(scalar);
      });
    }));
  }

  /**
   * Adds a PNG image; its width, height and colorspace are read from the PNG header.
   *
   * @throws {DataError} if `png` is not a PNG file
   */
  addImage(tag: string, png: Uint8Array, step: number): void {
    const header = readPngHeader(png, tag);
    this.#append(encodeEvent(wallTimeNow(), step, (event) => {
      writeSummary(event, [[tag, png]], (value, bytes) => {
        value.tag(4, WireType.LengthDelimited).fork()
          .tag(1, WireType.Varint).int32(header.height)
          .tag(2, WireType.Varint).int32(header.width)
          .tag(3, WireType.Varint).int32(header.colorspace)
          .tag(4, WireType.LengthDelimited).bytes(bytes)
          .join();
      });
    }));
  }

  /**
   * Marks a (re)start of training at `step` (SessionLog START). TensorBoard's event accumulator then drops
   * points of this run whose step is at or after `step` (its "purge orphaned data" rule for restarts after a
   * crash), so a resumed run does not draw two overlapping curves.
   */
  addSessionStart(step: number): void {
    this.#append(encodeEvent(wallTimeNow(), step, (event) => {
      event.tag(7, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int32(1).join();
    }));
  }

  /** Closes the file; later adds throw. Closing twice is harmless. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  #append(event: Uint8Array): void {
    if (this.#file === null) throw new DataError(`${this.path}: event file writer is closed`);
    const record = encodeRecord(event);
    let written = 0;
    while (written < record.length) written += this.#file.writeSync(record.subarray(written));
  }
}

/** Event file names in `logDir` (not recursive), sorted as TensorBoard reads them. */
export function listEventFiles(logDir: string): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(logDir)) {
    if (entry.isFile && entry.name.includes("tfevents")) names.push(join(logDir, entry.name));
  }
  return names.sort();
}

/**
 * Reads an event file, verifying both CRCs of every record, and decodes scalars, images, file versions and
 * session starts. Other event and summary kinds (graphs, histograms, tensors) are skipped.
 *
 * @throws {RecordError} on a truncated record or a CRC mismatch, naming the file, record and offset
 */
export async function readEventFile(path: string): Promise<TensorBoardEntry[]> {
  return decodeEventFile(await Deno.readFile(path), path);
}

/** {@linkcode readEventFile} on bytes already in memory; `source` names them in error messages. */
export function decodeEventFile(bytes: Uint8Array, source: string): TensorBoardEntry[] {
  return decodeRecords(bytes, source).flatMap((record) => decodeEvent(record));
}

function wallTimeNow(): number {
  return Date.now() / 1000;
}

function encodeEvent(
  wallTime: number,
  step: number,
  writePayload: (event: BinaryWriter) => void,
): Uint8Array {
  const event = new BinaryWriter();
  event.tag(1, WireType.Bit64).double(wallTime);
  if (step !== 0) event.tag(2, WireType.Varint).int64(step);
  writePayload(event);
  return event.finish();
}

function writeSummary<T>(
  event: BinaryWriter,
  entries: [string, T][],
  writeValue: (value: BinaryWriter, item: T) => void,
): void {
  event.tag(5, WireType.LengthDelimited).fork();
  for (const [tag, item] of entries) {
    event.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(tag);
    writeValue(event, item);
    event.join();
  }
  event.join();
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** PNG colour type (IHDR byte 9) to TensorBoard colorspace; a palette image decodes to RGB. */
const COLORSPACE_BY_PNG_COLOR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

function readPngHeader(png: Uint8Array, tag: string): { width: number; height: number; colorspace: number } {
  const isPng = png.length >= 26 && PNG_SIGNATURE.every((byte, i) => png[i] === byte);
  const colorspace = isPng ? COLORSPACE_BY_PNG_COLOR_TYPE[png[25] ?? -1] : undefined;
  if (colorspace === undefined) {
    throw new DataError(
      `image "${tag}": expected PNG bytes with an IHDR header, got ${png.length} other bytes`,
    );
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20), colorspace };
}

function decodeEvent(bytes: Uint8Array): TensorBoardEntry[] {
  const reader = new BinaryReader(bytes);
  let wallTime = 0;
  let step = 0;
  const payloads: ((wallTime: number, step: number) => TensorBoardEntry)[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Bit64) wallTime = reader.double();
    else if (field === 2 && wireType === WireType.Varint) step = Number(reader.int64());
    else if (field === 3 && wireType === WireType.LengthDelimited) {
      const fileVersion = reader.string();
      payloads.push((wallTime, step) => ({ kind: "fileVersion", wallTime, step, fileVersion }));
    } else if (field === 5 && wireType === WireType.LengthDelimited) {
      for (const value of decodeSummary(reader.bytes())) {
        payloads.push((wallTime, step) => ({ wallTime, step, ...value }));
      }
    } else if (field === 7 && wireType === WireType.LengthDelimited) {
      if (decodeSessionStatus(reader.bytes()) === 1) {
        payloads.push((wallTime, step) => ({ kind: "sessionStart", wallTime, step }));
      }
    } else reader.skip(wireType, field);
  }
  // wall_time and step may follow the payload on the wire, so entries are built once the event is read.
  return payloads.map((build) => build(wallTime, step));
}

type SummaryValue =
  | { kind: "scalar"; tag: string; value: number }
  | { kind: "image"; tag: string; image: EventImage };

function decodeSummary(bytes: Uint8Array): SummaryValue[] {
  const reader = new BinaryReader(bytes);
  const values: SummaryValue[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 1 || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    const value = decodeSummaryValue(reader.bytes());
    if (value !== null) values.push(value);
  }
  return values;
}

function decodeSummaryValue(bytes: Uint8Array): SummaryValue | null {
  const reader = new BinaryReader(bytes);
  let tag = "";
  let scalar: number | null = null;
  let image: EventImage | null = null;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) tag = reader.string();
    else if (field === 2 && wireType === WireType.Bit32) scalar = reader.float();
    else if (field === 4 && wireType === WireType.LengthDelimited) image = decodeImage(reader.bytes());
    else reader.skip(wireType, field);
  }
  if (scalar !== null) return { kind: "scalar", tag, value: scalar };
  if (image !== null) return { kind: "image", tag, image };
  return null;
}

function decodeImage(bytes: Uint8Array): EventImage {
  const reader = new BinaryReader(bytes);
  const image: EventImage = { width: 0, height: 0, colorspace: 0, png: new Uint8Array(0) };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) image.height = reader.int32();
    else if (field === 2 && wireType === WireType.Varint) image.width = reader.int32();
    else if (field === 3 && wireType === WireType.Varint) image.colorspace = reader.int32();
    else if (field === 4 && wireType === WireType.LengthDelimited) image.png = reader.bytes();
    else reader.skip(wireType, field);
  }
  return image;
}

function decodeSessionStatus(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes);
  let status = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) status = reader.int32();
    else reader.skip(wireType, field);
  }
  return status;
}
