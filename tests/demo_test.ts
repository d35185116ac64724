/**
 * `deno task demo`, the README's first command, end to end in a temporary folder (it writes
 * `./demo-output`): it must finish, write what it lists, and its default output must beat bicubic on the
 * held-back region, as the README says.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

Deno.test("deno task demo runs to the end and its default output beats bicubic on the held-back region", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", `${root}deno.json`, `${root}cli/demo.ts`],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const out = `${dir}/demo-output`;
    for (
      const name of ["heldback_fidelity.tif", "heldback_uncertainty.tif", "heldback_grid.png", "fresh-model"]
    ) {
      await Deno.stat(`${out}/${name}`);
    }
    const { metrics } = JSON.parse(await Deno.readTextFile(`${out}/heldback_metrics.json`));
    assert.ok(metrics.fidelity.PSNR > metrics.bicubic.PSNR + 1, JSON.stringify(metrics));
    assert.ok(metrics.fidelity.SSIM > metrics.bicubic.SSIM, JSON.stringify(metrics));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
