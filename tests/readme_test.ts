/**
 * README.md's install and workflow blocks, every command in order and as written, on the bundled data: in a
 * folder laid out like the checkout (testdata/ and models/naip-x4 linked in), with HOME and PATH of a
 * machine that has only Node.js, so the `sr3` on PATH is the launcher the install block links.
 */
import assert from "node:assert/strict";
import { readRaster } from "../data/raster.ts";
import { hasNode, nodeOnlyPath } from "./helpers/node_only.ts";

const root = new URL("../", import.meta.url).pathname;

/** The commands of the first ```sh block after `marker`, backslash-continued lines joined, comments dropped. */
function shellCommands(markdown: string, marker: string): string[] {
  const from = markdown.indexOf(marker);
  assert.ok(from >= 0, `README.md has no "${marker}"`);
  const start = markdown.indexOf("```sh\n", from) + "```sh\n".length;
  const block = markdown.slice(start, markdown.indexOf("\n```", start));
  return block.replaceAll("\\\n", " ").split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

Deno.test({
  name: "README.md: the install block, then the workflow block, run as written on the bundled data",
  ignore: !hasNode,
  async fn() {
    const readme = await Deno.readTextFile(`${root}README.md`);
    const install = shellCommands(readme, "**The `sr3` command.**");
    const workflow = shellCommands(readme, "## The workflow");
    assert.ok(install.length >= 2 && workflow.length >= 7, "both blocks found");

    const checkout = await Deno.makeTempDir();
    try {
      await Deno.symlink(`${root}testdata`, `${checkout}/testdata`);
      await Deno.symlink(`${root}sr3`, `${checkout}/sr3`);
      await Deno.mkdir(`${checkout}/models`);
      await Deno.symlink(`${root}models/naip-x4`, `${checkout}/models/naip-x4`);
      await Deno.mkdir(`${checkout}/home`);
      const env = {
        HOME: `${checkout}/home`,
        PATH: nodeOnlyPath(`${checkout}/home/.local/bin`),
      };
      for (const command of [...install, ...workflow]) {
        const started = performance.now();
        const { code, stderr } = await new Deno.Command("sh", {
          args: ["-c", command],
          cwd: checkout,
          env,
          stdout: "null",
          stderr: "piped",
        }).output();
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        console.log(`${seconds.padStart(6)} s  ${command.slice(0, 100)}`);
        assert.equal(code, 0, `${command}\n${new TextDecoder().decode(stderr)}`);
      }

      await Deno.stat(`${checkout}/models/naip/model.json`);
      for (const [file, size] of [["east_5m.tif", 64], ["east_20m.tif", 16], ["east_sr.tif", 64]] as const) {
        const { info } = await readRaster(`${checkout}/${file}`);
        assert.deepEqual([info.width, info.height, info.bandCount], [size, size, 3], file);
        assert.ok(info.geo, `${file} is georeferenced`);
      }
      const std = await readRaster(`${checkout}/east_std.tif`);
      assert.equal(std.info.dataType, "float32");
    } finally {
      await Deno.remove(checkout, { recursive: true });
    }
  },
});
