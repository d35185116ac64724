/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then the raw
 * little-endian bytes. npm has no maintained implementation, and the format is this small, so it is
 * written here. Reading converts F16/BF16/F64 to f32 (PyTorch checkpoints come in all of them).
 * @module
 */
import { DataError } from "../base/errors.ts";

/** A named f32 array with its shape. */
export interface NamedArray {
  /** Values, row-major. */
  data: Float32Array;
  /** Shape. */
  shape: number[];
}

/** Thrown for files that are not valid safetensors (a {@link DataError}: one line naming the file). */
export class SafetensorsError extends DataError {
  /** @param message names the file and the problem */
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Encodes tensors (and string metadata) as safetensors bytes; tensors are laid out in the given order. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, NamedArray>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, { data, shape }] of tensors) {
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const { data } of tensors.values()) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

function toFloat32(dtype: string, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / BYTES[dtype]!;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case "F32":
        out[i] = view.getFloat32(4 * i, true);
        break;
      case "F64":
        out[i] = view.getFloat64(8 * i, true);
        break;
      case "BF16":
        out[i] = new Float32Array(new Uint32Array([view.getUint16(2 * i, true) << 16]).buffer)[0]!;
        break;
      case "F16":
        out[i] = view.getFloat16(2 * i, true);
        break;
    }
  }
  return out;
}

/** Decodes safetensors bytes; `source` names the file in errors. */
export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const fail = (problem: string): never => {
    throw new SafetensorsError(`${source}: not a valid safetensors file (${problem})`);
  };
  if (bytes.byteLength < 8) fail("shorter than its 8-byte header length");
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) fail(`header length ${headerLength} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return fail("header is not JSON");
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, NamedArray>();
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const entry = value as HeaderEntry;
    const size = BYTES[entry.dtype];
    if (!size) fail(`tensor ${name} has unsupported dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * size! || dataStart + end > bytes.byteLength) {
      fail(
        `tensor ${name} data range [${begin}, ${end}) does not match shape [${entry.shape}] or the file size`,
      );
    }
    const raw = bytes.slice(dataStart + begin, dataStart + end);
    tensors.set(name, { data: toFloat32(entry.dtype, raw), shape: entry.shape });
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}

/** Reads a safetensors file. */
export async function readSafetensors(
  path: string,
): Promise<{ tensors: Map<string, NamedArray>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new SafetensorsError(`${path}: cannot read (${(error as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
