import assert from "node:assert/strict";
import { planScenes, readInputList } from "../../data/scenes.ts";
import { withTempDir } from "./helpers.ts";

Deno.test("scenes: one input keeps --out and the row shard; several go to a folder, a shard takes every N-th", () =>
  withTempDir(async (dir) => {
    assert.deepEqual(await planScenes(["a.tif"], "a_sr.tif", { index: 1, count: 3 }), [
      { input: "a.tif", out: "a_sr.tif", shard: { index: 1, count: 3 } },
    ]);
    await Deno.mkdir(`${dir}/scenes`);
    await Deno.writeTextFile(
      `${dir}/scenes/list.txt`,
      "# county scenes\n2019.tif\n\n  2020.tif  # leaf-off\n/data/2021.png\n",
    );
    assert.deepEqual(await readInputList(`${dir}/scenes/list.txt`), [
      `${dir}/scenes/2019.tif`,
      `${dir}/scenes/2020.tif`,
      "/data/2021.png",
    ]);
    const all = await planScenes([`${dir}/scenes/list.txt`, "x/2022.tif"], "sr");
    assert.deepEqual(all.map((s) => s.out), ["sr/2019.tif", "sr/2020.tif", "sr/2021.tif", "sr/2022.tif"]);
    assert.ok(all.every((s) => s.shard === undefined));
    const second = await planScenes([`${dir}/scenes/list.txt`, "x/2022.tif"], "sr", { index: 1, count: 2 });
    assert.deepEqual(second.map((s) => s.input), [`${dir}/scenes/2020.tif`, "x/2022.tif"]);
    assert.equal((await planScenes([`${dir}/scenes/list.txt`], "sr", { index: 0, count: 9 })).length, 1);
    await assert.rejects(
      planScenes(["a/s.tif", "b/s.png"], "sr"),
      /a\/s\.tif and b\/s\.png would both write sr\/s\.tif/,
    );
    await assert.rejects(
      planScenes(["out/s.tif", "t.tif"], "out"),
      /out\/s\.tif: its output would replace it/,
    );
    await Deno.writeTextFile(`${dir}/empty.txt`, "# nothing yet\n");
    await assert.rejects(
      planScenes([`${dir}/empty.txt`], "sr"),
      /empty\.txt: the input list names no rasters/,
    );
    await assert.rejects(planScenes([`${dir}/none.txt`], "sr"), /none\.txt: cannot read the input list/);
  }));
