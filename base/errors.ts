/**
 * sr3's one error hierarchy. Every error a user can act on is an {@link Sr3Error} whose message is one
 * line naming the file, tensor or kernel, what was expected and what was found, so the CLI prints it as
 * is (exit 1) instead of a stack trace. This module sits below every layer (kernels, nn, data,
 * diffusion and cli all import it; it imports nothing), so the layering stays one way.
 * @module
 */

/** `text` with line breaks and other control characters (and the spaces around them) as one space. */
function oneLine(text: string): string {
  return Array.from(text, (c) => (c.charCodeAt(0) < 32 ? "\n" : c)).join("").replace(/\s*\n\s*/g, " ");
}

/** The base of every error whose message is the whole story for a user (one line, no stack needed). */
export class Sr3Error extends Error {
  /**
   * An sr3 error.
   * @param message one line naming what failed, the expected and the actual
   * @param options `cause`: the underlying error, kept for debugging
   */
  constructor(message: string, options?: { cause?: unknown }) {
    // One line whatever went into it (a damaged file's text fields can hold line breaks).
    super(oneLine(message), options);
    this.name = "Sr3Error";
  }
}

/** No usable WebGPU device, a lost device, or a kernel that failed to compile or validate. */
export class DeviceError extends Sr3Error {
  /**
   * A device error.
   * @param message one sentence saying what failed and what to do about it
   * @param options `cause`: the underlying error
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DeviceError";
  }
}

/** Tensor shapes that do not fit an operation; raised before any GPU work is queued. */
export class ShapeError extends Sr3Error {
  /**
   * A shape error.
   * @param message names the operation and both shapes
   */
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

/**
 * A problem with an input or output file: unreadable, truncated, not an image, an unsupported data type,
 * a band selection that does not exist, rasters that do not line up, an output that already exists, a
 * read-only or full file system. The message is one line that names the file(s) and the problem.
 */
export class DataError extends Sr3Error {
  /**
   * Creates the error.
   * @param message one line naming the file(s), what was expected and what was found
   * @param options `cause`: the underlying library error, kept for debugging
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DataError";
  }
}

/**
 * A setting that cannot work with this model or device (e.g. more sampler steps than the model's
 * noise levels, a batch larger than the adapter can hold): a usage error, found before any work starts.
 * The CLI exits 2 for it, as for a bad flag.
 */
export class UsageError extends Sr3Error {
  /**
   * A usage error.
   * @param message one line naming the setting, its value and the valid range
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Formats a shape as `[2, 3, 4]` for error messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** The message of an unknown thrown value, on one line (library errors sometimes span several). */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, " ").trim();
}

/**
 * What a file-system error means, in words a user can act on: "permission denied", "the disk is full",
 * "the file system is read-only", … (Deno's own messages carry an OS error number and the system call).
 */
export function describeFileSystemError(error: unknown): string {
  const text = describeError(error);
  const os = /os error (\d+)/.exec(text)?.[1];
  const known: Record<string, string> = {
    "2": "no such file or folder",
    "13": "permission denied",
    "17": "already exists",
    "20": "a path component is not a folder",
    "21": "is a folder, not a file",
    "28": "no space left on the device (the disk is full)",
    "30": "the file system is read-only",
    "122": "disk quota exceeded",
  };
  if (os && known[os]) return known[os]!;
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotFound) return "no such file or folder";
  if (error instanceof Deno.errors.AlreadyExists) return "already exists";
  return text;
}

/** Whether `error` came from the operating system's file system (not from sr3's own checks). */
export function isFileSystemError(error: unknown): boolean {
  const classes = [
    Deno.errors.PermissionDenied,
    Deno.errors.NotFound,
    Deno.errors.AlreadyExists,
    Deno.errors.IsADirectory,
    Deno.errors.NotADirectory,
    Deno.errors.FilesystemLoop,
    Deno.errors.WriteZero,
    Deno.errors.UnexpectedEof,
  ];
  return classes.some((kind) => error instanceof kind) ||
    (error instanceof Error && /\(os error \d+\)/.test(error.message));
}

/** A {@link DataError} for a failed file-system operation on `path`: "path: cannot <action> (<problem>)". */
export function fileSystemError(path: string, action: string, error: unknown): DataError {
  return new DataError(`${path}: cannot ${action} (${describeFileSystemError(error)})`, { cause: error });
}
