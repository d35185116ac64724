/**
 * Output-file discipline shared by every writer: refuse to replace existing outputs unless asked, write
 * under a temporary sibling name, and move into place with one atomic rename, so a failure or a crash
 * never leaves a half-written file or folder under the requested name.
 * @module
 */
import { DataError, describeError, fileSystemError } from "../base/errors.ts";

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
 * Fails when `path` exists and `overwrite` is not set, and when `overwrite` would replace something of
 * another kind: a file output never replaces a folder, and a folder output replaces only a folder that
 * `isOwnFolder` recognises as one sr3 wrote (so nothing a user made is deleted).
 * @throws {DataError} naming the path
 */
export async function assertOutputFree(
  path: string,
  overwrite = false,
  isOwnFolder?: (path: string) => Promise<boolean>,
): Promise<void> {
  const existing = await Deno.lstat(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return null;
    throw fileSystemError(path, "check the output", error);
  });
  if (!existing) return;
  if (!overwrite) {
    throw new DataError(`${path}: output already exists; refusing to replace it without --overwrite`);
  }
  if (!isOwnFolder && existing.isDirectory) {
    throw new DataError(`${path}: is a folder; --overwrite replaces a file, never a folder`);
  }
  if (isOwnFolder && !(existing.isDirectory && await isOwnFolder(path))) {
    throw new DataError(
      `${path}: --overwrite replaces only a folder sr3 wrote, and this ${
        existing.isDirectory ? "folder is not one" : "is not a folder"
      }; choose another output`,
    );
  }
}

/**
 * Checks, before any long work, that a file can be written at `path`: it is free (or `overwrite`, and a
 * file), and its folder exists and takes a new file (probed with an empty temporary file).
 * @throws {DataError} naming the path and the problem (missing folder, read-only, permission, full disk)
 */
export async function assertWritableOutput(path: string, overwrite = false): Promise<void> {
  await assertOutputFree(path, overwrite);
  const probe = temporarySibling(path, "probe");
  try {
    await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
  } catch (error) {
    throw fileSystemError(path, `write the output there (${splitPath(path).dir})`, error);
  }
  await removeQuietly(probe);
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
  // Once per folder: dead processes add no leftovers later, and an export writes thousands of chips
  // into one folder, where a scan per chip would cost quadratic time.
  if (!scannedFolders.has(dir)) {
    scannedFolders.add(dir);
    removeStalePartials(dir);
  }
  const nonce = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  const temporary = `${dir}/.${base}.${purpose}-${Deno.pid}-${nonce}.tmp`;
  live.add(temporary);
  return temporary;
}

/** Folders whose leftovers {@link temporarySibling} has already removed. */
const scannedFolders = new Set<string>();

/** Temporaries this process has made and not yet moved into place or removed. */
const live = new Set<string>();

/** `.<name>.<purpose>-<pid>-<nonce>.tmp`: the names {@link temporarySibling} gives. */
const TEMPORARY_NAME = /^\..+\.(?:partial|replaced|probe)-(\d+)-[0-9a-z]+\.tmp$/;

/** Whether process `pid` is alive; unknown (true) where /proc is missing, so nothing is removed there. */
function processAlive(pid: number): boolean {
  try {
    Deno.statSync("/proc/self");
  } catch {
    return true;
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the temporaries that processes which no longer run (killed mid-write, e.g. by `kill -9`) left
 * in `dir`. Only names sr3 gives; a live process's are kept.
 */
export function removeStalePartials(dir: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return; // a folder that does not exist (yet) holds no leftovers
  }
  for (const entry of entries) {
    const pid = Number(TEMPORARY_NAME.exec(entry.name)?.[1]);
    if (!pid || pid === Deno.pid || processAlive(pid)) continue;
    try {
      Deno.removeSync(`${dir}/${entry.name}`, { recursive: true });
    } catch {
      // Another process cleaning up at the same time: whoever gets there first removes it.
    }
  }
}

/**
 * Removes every temporary this process has not finished (for a signal handler, before exiting), so an
 * interrupted write leaves nothing behind.
 *
 * File operations the program started before the signal still run on Deno's I/O threads while this
 * blocks the JS thread: one can add a file to a folder being removed, or recreate it (a recursive mkdir
 * for the next chip). The JS thread issues nothing new meanwhile, so removing again after those have
 * settled, until a pass finds nothing left, leaves nothing behind.
 * @param pause waits between passes (default: blocks the thread for the given milliseconds); the I/O
 *   that lands during a pause is what the next pass removes
 */
export function removeLiveTemporariesSync(pause: (ms: number) => void = sleepSync): void {
  for (let pass = 0; pass < SETTLE_PASSES && live.size > 0; pass++) {
    if (pass > 0) pause(SETTLE_MS);
    // A path stays listed until a pass finds it gone: after its removal an I/O thread may recreate it,
    // and a removal that fails (a file appeared mid-way) is retried.
    for (const path of live) {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) live.delete(path);
      }
    }
  }
  live.clear();
}

/** Passes and the pause between them: I/O already in flight settles within milliseconds. */
const SETTLE_PASSES = 20;
const SETTLE_MS = 10;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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
    if (existing?.isDirectory && !(await Deno.lstat(temporary)).isDirectory) {
      throw new Error("a folder is in the way of the file; it is left as it was");
    }
    if (existing?.isDirectory) {
      const aside = temporarySibling(path, "replaced");
      await Deno.rename(path, aside);
      await Deno.rename(temporary, path);
      await removeQuietly(aside);
    } else {
      await Deno.rename(temporary, path);
    }
    live.delete(temporary);
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
  live.delete(path);
}

/** Makes sure the folder that will hold `path` exists. */
export async function ensureParentDir(path: string): Promise<void> {
  const { dir } = splitPath(path);
  await Deno.mkdir(dir, { recursive: true });
}
