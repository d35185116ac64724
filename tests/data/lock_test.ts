/** Directory locks: one holder at a time, the refusal names it, and a dead holder's lock is taken over. */
import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { DirectoryLock, LOCK_FILE, readHolder } from "../../data/lock.ts";

const lockModule = new URL("../../data/lock.ts", import.meta.url).href;

/** A child process that takes the lock on `dir`, prints "locked", and waits to be killed. */
function holder(dir: string): Deno.ChildProcess {
  const script = `import { DirectoryLock } from "${lockModule}";
await DirectoryLock.acquire(${JSON.stringify(dir)}, "sr3 train");
console.log("locked");
await new Promise(() => setInterval(() => {}, 1000));`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function waitForLine(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /locked/);
  reader.releaseLock();
}

Deno.test("a second process is refused with the holder's pid and host; a killed holder's lock is stale", async () => {
  const dir = await Deno.makeTempDir();
  const child = holder(dir);
  await waitForLine(child);
  await assert.rejects(
    () => DirectoryLock.acquire(dir, "sr3 train"),
    (e: Error) =>
      e instanceof DataError &&
      e.message.includes(`sr3 train (pid ${child.pid} on ${Deno.hostname()}`) && !e.message.includes("\n"),
  );
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
  // The holder died without releasing: its record is still in the file, but the OS freed the lock.
  assert.equal((await readHolder(`${dir}/${LOCK_FILE}`))?.pid, child.pid);
  const lock = await DirectoryLock.acquire(dir, "sr3 train");
  assert.equal((await readHolder(`${dir}/${LOCK_FILE}`))?.pid, Deno.pid);
  lock.release();
  assert.equal(await readHolder(`${dir}/${LOCK_FILE}`), null, "released: the record is cleared");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a process shares its own lock (fit() inside sr3 train) and releases on the last release", async () => {
  const dir = await Deno.makeTempDir();
  const outer = await DirectoryLock.acquire(dir, "sr3 train");
  const inner = await DirectoryLock.acquire(dir, "sr3 train");
  inner.release();
  inner.release(); // idempotent
  assert.equal((await readHolder(`${dir}/${LOCK_FILE}`))?.pid, Deno.pid, "still held by the outer lock");
  outer.release();
  assert.equal(await readHolder(`${dir}/${LOCK_FILE}`), null);
  await Deno.writeTextFile(`${dir}/file`, "x");
  await assert.rejects(() => DirectoryLock.acquire(`${dir}/file`, "sr3 train"), /is a file, not a folder/);
  await Deno.remove(dir, { recursive: true });
});
