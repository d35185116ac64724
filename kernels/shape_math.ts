/**
 * Shape arithmetic shared by the kernel dispatchers: broadcasting, strides, and the 4-D padding
 * the flat kernels use.
 * @module
 */
import { formatShape, ShapeError } from "../base/errors.ts";

/** What a kernel needs of a tensor: its buffer and shape (nn's Tensor satisfies this). */
export interface TensorRef {
  /** Storage buffer holding at least `size` f32 values, row-major. */
  readonly buffer: GPUBuffer;
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
}

/** Row-major strides of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i]!;
  }
  return strides;
}

/** The NumPy broadcast of two shapes. @throws {ShapeError} naming both shapes when they do not broadcast */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out.push(Math.max(da, db));
  }
  return out;
}

/** Left-pads `shape` with ones to rank 4. @throws {ShapeError} above rank 4 */
export function padTo4(shape: readonly number[], what: string): [number, number, number, number] {
  if (shape.length > 4) throw new ShapeError(`${what}: rank ${shape.length} ${formatShape(shape)} exceeds 4`);
  const padded = [1, 1, 1, 1, ...shape].slice(-4);
  return [padded[0]!, padded[1]!, padded[2]!, padded[3]!];
}

/**
 * Strides (rank 4) that read an operand of `shape` broadcast to `outShape`: 0 along broadcast
 * dimensions.
 */
export function broadcastStrides4(
  shape: readonly number[],
  outShape: readonly number[],
  what: string,
): number[] {
  const padded = padTo4(shape, what);
  const out = padTo4(outShape, what);
  const strides = contiguousStrides(padded);
  return padded.map((d, i) => (d === 1 && out[i] !== 1 ? 0 : strides[i]!));
}

/** True when two shapes are identical. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** @throws {ShapeError} unless `actual` equals `expected`. */
export function expectShape(actual: readonly number[], expected: readonly number[], what: string): void {
  if (!sameShape(actual, expected)) {
    throw new ShapeError(`${what}: expected shape ${formatShape(expected)}, got ${formatShape(actual)}`);
  }
}
