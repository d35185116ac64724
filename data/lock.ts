/**
 * An exclusive lock on a directory sr3 writes into (a model directory during training), so two runs
 * never interleave logs or overwrite each other's checkpoints. The lock is an advisory `flock` on
 * `<dir>/.sr3.lock`, which the operating system releases when the holder exits in any way (even
 * `kill -9`); the file also records the holder's pid, host and command so the refusal can name it.
 * A lock file whose flock is free is stale (its holder died) and is taken over.
 * @module
 */
import { DataError, fileSystemError } from "../base/errors.ts";

/** Who holds a lock (the lock file's contents). */
export interface LockHolder {
  /** Process id. */
  pid: number;
  /** Host name. */
  host: string;
  /** What the holder is doing, e.g. "sr3 train". */
  purpose: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** The lock file's name inside the locked directory. */
export const LOCK_FILE = ".sr3.lock";

/** Locks held by this process, by directory: a second acquire from the same process shares the lock. */
const held = new Map<string, { file: Deno.FsFile; count: number }>();

/** A held directory lock; {@link release} it in a `finally`. */
export class DirectoryLock {
  private released = false;

  private constructor(private readonly key: string) {}

  /**
   * Takes the lock on `dir` (creating the folder if needed) or fails with one line naming the holder.
   * @throws {DataError} when another process holds it, or the folder cannot be written
   */
  static async acquire(dir: string, purpose: string): Promise<DirectoryLock> {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (error) {
      const existing = await Deno.stat(dir).catch(() => null);
      if (existing && !existing.isDirectory) throw new DataError(`${dir}: is a file, not a folder`);
      throw fileSystemError(dir, "create the folder", error);
    }
    const key = await Deno.realPath(dir);
    const mine = held.get(key);
    if (mine) {
      mine.count++;
      return new DirectoryLock(key);
    }
    const path = `${dir}/${LOCK_FILE}`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      throw fileSystemError(path, "create the lock file", error);
    }
    if (!(await file.tryLock(true))) {
      file.close();
      const holder = await readHolder(path);
      const who = holder
        ? `${holder.purpose} (pid ${holder.pid} on ${holder.host}, since ${holder.since})`
        : "another process";
      throw new DataError(`${dir}: in use by ${who}; wait for it to finish or stop it`);
    }
    const holder: LockHolder = {
      pid: Deno.pid,
      host: Deno.hostname(),
      purpose,
      since: new Date().toISOString(),
    };
    await file.truncate(0);
    await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
    held.set(key, { file, count: 1 });
    return new DirectoryLock(key);
  }

  /** Releases the lock (idempotent); the file is emptied, not removed, so no waiter locks a deleted inode. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const entry = held.get(this.key);
    if (!entry || --entry.count > 0) return;
    held.delete(this.key);
    try {
      entry.file.truncateSync(0);
      entry.file.unlockSync();
    } finally {
      entry.file.close();
    }
  }
}

/** The holder recorded in a lock file, or null when it is empty or unreadable. */
export async function readHolder(path: string): Promise<LockHolder | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return text ? JSON.parse(text) as LockHolder : null;
  } catch {
    return null;
  }
}
