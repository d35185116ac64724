/**
 * Error families of the kernel layer. Messages are one sentence that names the tensor or kernel,
 * what was expected and what was found, so a user can act on them without a stack trace.
 * @module
 */

/** No usable WebGPU device, a lost device, or a kernel that failed to compile or validate. */
export class DeviceError extends Error {
  /**
   * A device error.
   * @param message one sentence saying what failed and what to do about it
   */
  constructor(message: string) {
    super(message);
    this.name = "DeviceError";
  }
}

/** Tensor shapes that do not fit an operation; raised before any GPU work is queued. */
export class ShapeError extends Error {
  /**
   * A shape error.
   * @param message names the operation and both shapes
   */
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

/** Formats a shape as `[2, 3, 4]` for error messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
