/**
 * Nothing lost, nothing crashes, as a user meets it: bad numbers are usage errors that state the valid
 * range, outputs are checked before long work, a model directory takes one run at a time, and every
 * file-system fault is one line naming the path.
 */
import assert from "node:assert/strict";
import { exportTiles } from "../../data/export.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { LOCK_FILE, readHolder } from "../../data/lock.ts";
import { readModelDefinition } from "../../diffusion/model_dir.ts";
import { RASTERS } from "../data/helpers.ts";
import { gpuTest } from "../helpers/gpu.ts";
import { makeTinyModel } from "../helpers/tiny_model.ts";
import { ownLines, sr3, SR3_ARGS } from "../helpers/cli.ts";

Deno.test("numeric flags outside their range are usage errors (exit 2) that state the range", async () => {
  const dir = await Deno.makeTempDir();
  const cases: [string[], RegExp][] = [
    [["train", dir, "--out", `${dir}/m`, "--lr", "-1"], /--lr.*"-1" is out of range: expected a number > 0/],
    [["train", dir, "--out", `${dir}/m`, "--grad-clip", "-1"], /--grad-clip.*expected a number > 0/],
    [["train", dir, "--out", `${dir}/m`, "--linear-end", "2"], /--linear-end.*expected a number in \(0, 1\]/],
    [["train", dir, "--out", `${dir}/m`, "--max-minutes", "-1"], /--max-minutes.*expected a number > 0/],
    [["train", dir, "--out", `${dir}/m`, "--chip-size", "3"], /--chip-size.*expected an integer ≥ 8/],
    [["upscale", "in.tif", "--model", dir, "--out", `${dir}/o.tif`, "--eta", "-1"], /--eta.*in \[0, 1\]/],
    [
      ["upscale", "in.tif", "--model", dir, "--out", `${dir}/o.tif`, "--start-noise-level", "1.5"],
      /--start-noise-level.*in \(0, 1\)/,
    ],
  ];
  for (const [args, message] of cases) {
    const run = await sr3(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
  assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was created");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("outputs are checked before the work: eval --grid, train --out naming a file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/grid.png`, "an earlier grid");
  await Deno.writeTextFile(`${dir}/model-file`, "not a folder");
  const cases: [string[], RegExp][] = [
    [
      ["eval", `${dir}/none`, "--model", `${dir}/none`, "--grid", `${dir}/missing/grid.png`],
      /missing\/grid\.png: cannot write the output there .*no such file or folder/,
    ],
    [
      ["eval", `${dir}/none`, "--model", `${dir}/none`, "--grid", `${dir}/grid.png`],
      /grid\.png: output already exists; refusing to replace it without --overwrite/,
    ],
    [["train", `${dir}/none`, "--out", `${dir}/model-file`], /model-file: is a file, not a folder/],
  ];
  for (const [args, message] of cases) {
    const run = await sr3(args);
    const lines = ownLines(run.stderr);
    assert.equal(run.code, 1, `${args.join(" ")}: ${run.stderr}`);
    assert.equal(lines.length, 1, `one line, got ${JSON.stringify(run.stderr)}`);
    assert.match(lines[0]!, message);
  }
  assert.equal(await Deno.readTextFile(`${dir}/grid.png`), "an earlier grid");
  assert.equal(await Deno.readTextFile(`${dir}/model-file`), "not a folder");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a second sr3 train into the same model directory is refused with the holder's pid", async () => {
  const dir = await Deno.makeTempDir();
  await exportTiles({
    hrPath: RASTERS.osbsLzw,
    outDir: `${dir}/chips`,
    chipSize: 16,
    region: { x: 0, y: 0, width: 64, height: 64 },
  });
  const args = ["train", `${dir}/chips`, "--out", `${dir}/model`, "--chip-size", "16", "--steps", "100000"];
  const first = new Deno.Command(Deno.execPath(), {
    args: [...SR3_ARGS, ...args, "--downsample-factor", "4"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 60_000;
  while (!(await readHolder(`${dir}/model/${LOCK_FILE}`)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const second = await sr3([...args, "--downsample-factor", "4"]);
  first.kill("SIGKILL");
  await first.status;
  assert.equal(second.code, 1, second.stderr);
  const lines = ownLines(second.stderr);
  assert.equal(lines.length, 1, second.stderr);
  assert.match(lines[0]!, new RegExp(`model: in use by sr3 train \\(pid ${first.pid} on `));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SIGTERM during sr3 export removes its partial folder and exits 143", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...SR3_ARGS,
      "export",
      RASTERS.naip4Band,
      "--out",
      `${dir}/chips`,
      "--chip-size",
      "8",
      "--stride",
      "2",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const partial = () => [...Deno.readDirSync(dir)].some((e) => e.name.startsWith(".chips.partial-"));
  const deadline = Date.now() + 60_000;
  while (!partial() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(partial(), "export started writing");
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGTERM");
  const status = await child.status;
  assert.equal(status.code, 143);
  assert.deepEqual([...Deno.readDirSync(dir)], [], "no partial folder left");
  await Deno.remove(dir, { recursive: true });
});

Deno.test('without XDG_RUNTIME_DIR a successful command prints no line starting with "error"', async () => {
  const env = { ...Deno.env.toObject() };
  delete env.XDG_RUNTIME_DIR;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...SR3_ARGS, "info"],
    clearEnv: true,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(stderr).split("\n");
  assert.equal(code, 0);
  assert.deepEqual(lines.filter((line) => /^\s*error/i.test(line)), []);
});

Deno.test('metrics: identical images report psnr "inf" in JSON; all-nodata rasters are refused', async () => {
  const dir = await Deno.makeTempDir();
  const same = await sr3(["metrics", RASTERS.osbsLzw, RASTERS.osbsLzw, "--json"]);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(JSON.parse(same.stdout).psnr, "inf");
  const nan = `${dir}/nan.tif`;
  await writeGeoTiff(nan, new Float32Array(16 * 16).fill(NaN), {
    width: 16,
    height: 16,
    bandCount: 1,
    dataType: "float32",
  });
  const refused = await sr3(["metrics", nan, nan]);
  assert.equal(refused.code, 1);
  assert.match(ownLines(refused.stderr)[0]!, /nan\.tif: every pixel is nodata \(or NaN\/Inf\)/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("settings the model or adapter cannot take are usage errors before any work", gpuTest, async () => {
  const dir = await Deno.makeTempDir();
  const model = await makeTinyModel(dir);
  const T = (await readModelDefinition(model)).schedule.nTimestep;
  const upscale = ["upscale", RASTERS.osbsLzw, "--model", model, "--out", `${dir}/out.tif`];
  const cases: [string[], RegExp][] = [
    [
      ["--sampling-steps", String(T + 1)],
      new RegExp(`--sampling-steps ${T + 1}: this model has ${T} noise levels; use 1 to ${T}`),
    ],
    [
      ["--batch-size", "100000"],
      /--batch-size 100000: one sampler call needs more than \d+ MiB .* use --batch-size 1 to \d+/,
    ],
  ];
  for (const [flags, message] of cases) {
    const run = await sr3([...upscale, ...flags]);
    assert.equal(run.code, 2, run.stderr);
    const lines = ownLines(run.stderr);
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, message);
  }
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model"], "no output started");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--bands names a missing band as the user counts it (from 1)", async () => {
  const run = await sr3(["metrics", RASTERS.osbsLzw, RASTERS.osbsLzw, "--bands", "1,2,9"]);
  assert.equal(run.code, 1);
  assert.match(
    ownLines(run.stderr)[0]!,
    /OSBS_029\.tif: band 9 \(index 8\) does not exist; the file has 3 bands/,
  );
});
