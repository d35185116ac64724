/**
 * Output-file discipline shared by every writer: refuse to replace existing outputs unless asked, write
 * under a temporary sibling name, and move into place with one atomic rename, so a failure or a crash
 * never leaves a half-written file or folder under the requested name.
 * @module
 */
import { DataError, describeError } from "../base/errors.ts";

/** Options for creating an output file or folder. */
export interface OutputOptions {
  /** Replace an existing output (atomically, once the new one is complete). Default false. */
  overwrite?: boolean;
}

/** Whether anything exists at `path` (file, folder or link). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return false;
    throw error;
  }
}

/**
 * Fails when `path` exists and `overwrite` is not set.
 * @throws {DataError} naming the path
 */
export async function assertOutputFree(path: string, overwrite = false): Promise<void> {
  if (!overwrite && await pathExists(path)) {
    throw new DataError(`${path}: output already exists; refusing to replace it without overwrite`);
  }
}

function splitPath(path: string): { dir: string; base: string } {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  return slash < 0
    ? { dir: ".", base: trimmed }
    : { dir: trimmed.slice(0, slash) || "/", base: trimmed.slice(slash + 1) };
}

/**
 * A hidden temporary name next to `path` (same folder, so the final rename stays on one file system).
 * Ends in `.tmp`, which the repository's .gitignore ignores.
 */
export function temporarySibling(path: string, purpose = "partial"): string {
  const { dir, base } = splitPath(path);
  const nonce = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return `${dir}/.${base}.${purpose}-${Deno.pid}-${nonce}.tmp`;
}

/**
 * Moves a finished temporary file or folder to its final name. A file replaces an existing file
 * atomically; an existing folder is first moved aside and deleted after the new one is in place.
 * @throws {DataError} when the rename fails (e.g. the destination's folder was removed meanwhile)
 */
export async function moveIntoPlace(temporary: string, path: string): Promise<void> {
  try {
    const existing = await Deno.lstat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    });
    if (existing?.isDirectory) {
      const aside = temporarySibling(path, "replaced");
      await Deno.rename(path, aside);
      await Deno.rename(temporary, path);
      await Deno.remove(aside, { recursive: true });
    } else {
      await Deno.rename(temporary, path);
    }
  } catch (error) {
    throw new DataError(`${path}: cannot move the finished output into place (${describeError(error)})`, {
      cause: error,
    });
  }
}

/** Removes a temporary file or folder, ignoring one that is already gone. */
export async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Makes sure the folder that will hold `path` exists. */
export async function ensureParentDir(path: string): Promise<void> {
  const { dir } = splitPath(path);
  await Deno.mkdir(dir, { recursive: true });
}
