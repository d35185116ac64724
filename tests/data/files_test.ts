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

Deno.test("removeLiveTemporariesSync removes a folder again that in-flight I/O recreates after its first pass", async () => {
  const dir = await Deno.makeTempDir();
  const temporary = temporarySibling(`${dir}/chips`);
  await Deno.mkdir(`${temporary}/images`, { recursive: true });
  // A chip write in flight when the signal came: its recursive mkdir lands after the first removal pass,
  // during the pause before the next one.
  let pauses = 0;
  removeLiveTemporariesSync(() => {
    if (pauses++ === 0) Deno.mkdirSync(`${temporary}/images`, { recursive: true });
  });
  assert.ok(pauses >= 2, "a pass after the recreation found the folder gone");
  assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing left behind");
  await Deno.remove(dir, { recursive: true });
});
