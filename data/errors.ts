/**
 * The error family of the data layer.
 * @module
 */

/**
 * A problem with an input or output file: unreadable, truncated, not an image, an unsupported data type,
 * a band selection that does not exist, rasters that do not line up, an output that already exists.
 * The message is one line that names the file(s) and the problem, so the CLI can print it as is.
 */
export class DataError extends Error {
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

/** The message of an unknown thrown value, on one line (library errors sometimes span several). */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, " ").trim();
}
