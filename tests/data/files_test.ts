/** Output-file discipline: leftovers of dead processes are removed on the next write, a live one's kept. */
import assert from "node:assert/strict";
import { removeLiveTemporariesSync, removeStalePartials, temporarySibling } from "../../data/files.ts";

Deno.test("a write removes the partials that killed processes left, and keeps a live process's", async () => {
  const dir = await Deno.makeTempDir();
  const ended = new Deno.Command(Deno.execPath(), { args: ["eval", ""] }).spawn();
  await ended.status;
  const running = new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 30000))"],
  }).spawn();
  const dead = `${dir}/.out.tif.partial-${ended.pid}-k2x9.tmp`;
  const deadFolder = `${dir}/.chips.partial-${ended.pid}-a1.tmp`;
  const alive = `${dir}/.other.tif.partial-${running.pid}-zz.tmp`;
  const unrelated = `${dir}/.notes.partial-${ended.pid}.txt`;
  await Deno.writeTextFile(dead, "half a GeoTIFF");
  await Deno.mkdir(`${deadFolder}/images`, { recursive: true });
  await Deno.writeTextFile(alive, "being written");
  await Deno.writeTextFile(unrelated, "a user's file");
  const temporary = temporarySibling(`${dir}/out.tif`);
  const left = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`).sort();
  assert.deepEqual(left, [alive, unrelated].sort(), "the dead process's file and folder are gone");
  assert.ok(temporary.startsWith(`${dir}/.out.tif.partial-${Deno.pid}-`));
  running.kill("SIGKILL");
  await running.status;
  removeStalePartials(dir);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`), [unrelated]);
  removeStalePartials(`${dir}/missing`); // no folder, nothing to do
  await Deno.remove(dir, { recursive: true });
});

Deno.test("removeLiveTemporariesSync removes a folder again that an I/O thread recreates after its first pass", async () => {
  const dir = await Deno.makeTempDir();
  const temporary = temporarySibling(`${dir}/chips`);
  await Deno.mkdir(`${temporary}/images`, { recursive: true });
  // Stands in for a chip write in flight when the signal came: its recursive mkdir lands 3 ms after
  // the handler's first removal pass.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    URL.createObjectURL(
      new Blob([
        `self.onmessage = ({ data: { flag, path } }) => {
          Atomics.wait(flag, 0, 0);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3);
          Deno.mkdirSync(path, { recursive: true });
          self.postMessage("done");
        };`,
      ], { type: "text/javascript" }),
    ),
    { type: "module" },
  );
  const done = new Promise((resolve) => worker.onmessage = resolve);
  worker.postMessage({ flag, path: `${temporary}/images` });
  await new Promise((r) => setTimeout(r, 100)); // the worker is waiting on the flag
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  removeLiveTemporariesSync();
  await done;
  worker.terminate();
  assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing left behind");
  await Deno.remove(dir, { recursive: true });
});
