/**
 * The `./sr3` launcher as a user with only Node.js meets it: through a symlink on PATH, from a directory
 * outside the checkout, with relative paths resolved against that directory and sr3's exit codes kept.
 */
import assert from "node:assert/strict";
import { readRaster } from "../data/raster.ts";
import { RASTERS } from "./data/helpers.ts";
import { hasNode, nodeOnlyPath } from "./helpers/node_only.ts";

const launcher = new URL("../sr3", import.meta.url).pathname;

Deno.test({
  name: "./sr3 through a symlink on PATH runs from any directory on the pinned Deno, with only Node's tools",
  ignore: !hasNode,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${dir}/bin`);
      await Deno.symlink(launcher, `${dir}/bin/sr3`);
      const path = nodeOnlyPath(`${dir}/bin`);
      const run = async (args: string[]) => {
        const { code, stderr } = await new Deno.Command("sr3", {
          args,
          cwd: dir,
          env: { PATH: path },
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code, stderr: new TextDecoder().decode(stderr) };
      };
      const ok = await run([
        "degrade",
        RASTERS.naip4Band,
        "--factor",
        "4",
        "--bands",
        "1,2,3",
        "--region",
        "0,0,64,64",
        "--out",
        "small.tif",
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      const { info } = await readRaster(`${dir}/small.tif`);
      assert.deepEqual([info.width, info.height, info.bandCount], [16, 16, 3]);

      const typo = await run(["upscal", "--help"]);
      assert.equal(typo.code, 2, "a usage error keeps its exit code through npx");
      assert.match(typo.stderr, /Did you mean upscale\?/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
