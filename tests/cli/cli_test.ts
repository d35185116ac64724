/**
 * The `sr3` command as a user meets it: exit codes, one-line errors that name the file, no partial
 * outputs, `--help` with examples, georeferencing that GDAL confirms, and training that survives
 * `kill -9` and resumes.
 */
import assert from "node:assert/strict";
import { importTorchCheckpoint } from "../../diffusion/import_torch.ts";
import { readModelDefinition } from "../../diffusion/model_dir.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { readRaster } from "../../data/raster.ts";
import { scaleGeo } from "../../data/geo.ts";
import { gdalinfoJson, hasGdal, RASTERS } from "../data/helpers.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { ownLines, sr3, SR3_ARGS } from "../helpers/cli.ts";

const fixture = new URL("../../testdata/torch/", import.meta.url).pathname;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The upper-left `size`×`size` corner of the NEON orthophoto as a GeoTIFF (short runs). */
async function writeCorner(path: string, size: number): Promise<void> {
  const { info, data } = await readRaster(RASTERS.osbsLzw);
  const corner = new Float32Array(3 * size * size);
  for (let b = 0; b < 3; b++) {
    for (let y = 0; y < size; y++) {
      const from = b * info.width * info.height + y * info.width;
      corner.set(data.subarray(from, from + size), (b * size + y) * size);
    }
  }
  await writeGeoTiff(path, corner, {
    width: size,
    height: size,
    bandCount: 3,
    dataType: "uint8",
    nodata: info.nodata,
    geo: info.geo,
  });
}

/** `sr3 export` of 16-px chips from a 160×160 corner of the NEON orthophoto into `dir`/chips. */
async function exportSmallChips(dir: string): Promise<void> {
  const run = await sr3([
    "export",
    RASTERS.osbsLzw,
    "--out",
    `${dir}/chips`,
    "--chip-size",
    "16",
    "--region",
    "0,0,160,160",
  ]);
  assert.equal(run.code, 0, run.stderr);
}

/** A 3-band model (the PyTorch fixture: 16-px chips, ×4, so 4-px low-resolution tiles). */
async function makeModel(dir: string): Promise<string> {
  await withRuntime(async () => {
    await importTorchCheckpoint(
      `${fixture}ref_small.safetensors`,
      `${fixture}ref_small.config.json`,
      `${dir}/model`,
      {
        downsampleFactor: 4,
      },
    );
  });
  return `${dir}/model`;
}

Deno.test("bad inputs get one line naming the file, exit 1, and no output file", gpuTest, async () => {
  const dir = await Deno.makeTempDir();
  const model = await makeModel(dir);
  const out = `${dir}/out.tif`;
  const text = `${dir}/notes.tif`;
  await Deno.writeTextFile(text, "this is not a TIFF\n");
  const truncated = `${dir}/truncated.tif`;
  await Deno.writeFile(truncated, (await Deno.readFile(RASTERS.osbsLzw)).slice(0, 3000));
  const tiny = `${dir}/tiny.tif`;
  await writeGeoTiff(tiny, new Float32Array(3 * 3 * 3).fill(90), {
    width: 3,
    height: 3,
    bandCount: 3,
    dataType: "uint8",
  });
  const empty = `${dir}/nodata.tif`;
  await writeGeoTiff(empty, new Float32Array(3 * 16 * 16), {
    width: 16,
    height: 16,
    bandCount: 3,
    dataType: "uint8",
    nodata: 0,
  });
  // A low-resolution raster whose pixels are 3.5× the high-resolution ones: no integer factor.
  const coarse = `${dir}/coarse.tif`;
  const naip = await readRaster(RASTERS.naip4Band, [0, 1, 2]);
  await writeGeoTiff(coarse, naip.data.subarray(0, 3 * 40 * 40), {
    width: 40,
    height: 40,
    bandCount: 3,
    dataType: "uint8",
    geo: scaleGeo(naip.info.geo!, 1 / 3.5),
  });
  const cases: [string, string[], RegExp][] = [
    ["non-TIFF", ["upscale", text, "--model", model, "--out", out], /notes\.tif/],
    ["truncated", ["upscale", truncated, "--model", model, "--out", out], /truncated\.tif/],
    [
      "band count",
      ["upscale", RASTERS.naip4Band, "--model", model, "--out", out],
      /expects 3 bands, the raster gives 4; choose them with --bands/,
    ],
    ["smaller than a tile", ["upscale", tiny, "--model", model, "--out", out], /tiny\.tif.*smaller than/],
    ["all nodata", ["upscale", empty, "--model", model, "--out", out], /nodata\.tif.*nodata/],
    [
      "missing model",
      ["upscale", RASTERS.osbsLzw, "--model", `${dir}/none`, "--out", out],
      /none\/model\.json/,
    ],
    ["bad metrics pair", ["metrics", RASTERS.osbsLzw, RASTERS.naip4Band], /OSBS_029\.tif and .*m_4709963/],
    [
      "LR/HR not an integer factor",
      [
        "export",
        RASTERS.naip4Band,
        "--lr",
        coarse,
        "--bands",
        "1,2,3",
        "--out",
        `${dir}/chips`,
        "--chip-size",
        "64",
      ],
      /m_4709963.*coarse\.tif: pixel sizes .* do not differ by one integer factor/,
    ],
  ];
  for (const [what, args, message] of cases) {
    const run = await sr3(args);
    const lines = ownLines(run.stderr);
    assert.equal(run.code, 1, `${what}: exit code (stderr: ${run.stderr})`);
    assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(lines)}`);
    assert.match(lines[0]!, message, what);
    assert.equal(await exists(out), false, `${what}: no output file`);
  }
  assert.equal(await exists(`${dir}/chips`), false, "no half-written chips folder");
  // An existing output is refused unless --overwrite, and left untouched.
  await Deno.writeTextFile(out, "keep me");
  const refused = await sr3(["upscale", RASTERS.osbsLzw, "--model", model, "--out", out]);
  assert.equal(refused.code, 1);
  assert.match(ownLines(refused.stderr)[0]!, /out\.tif: output already exists/);
  assert.equal(await Deno.readTextFile(out), "keep me");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("usage errors exit 2 with a suggestion; every command's --help has examples", async () => {
  for (const args of [["upscal"], ["upscal", "--help"]]) {
    const typo = await sr3(args);
    assert.equal(typo.code, 2, args.join(" "));
    assert.match(typo.stderr, /Did you mean upscale\?/);
  }
  const badNumber = await sr3(["export", RASTERS.osbsLzw, "--out", "/tmp/x", "--chip-size", "big"]);
  assert.equal(badNumber.code, 2);
  assert.match(badNumber.stderr, /"big" is not a number/);
  for (
    const command of [
      "info",
      "export",
      "degrade",
      "train",
      "upscale",
      "eval",
      "metrics",
      "summary",
      "import-torch",
    ]
  ) {
    const help = await sr3([command, "--help"]);
    assert.equal(help.code, 0, `${command} --help`);
    assert.match(help.stdout, /Examples:\n(\s+\$ .*\n)*\s+\$ sr3 /, `${command} --help shows examples`);
  }
});

Deno.test(
  {
    name: "upscale keeps the CRS and origin and divides the pixel size (gdalinfo)",
    ignore: !hasGdal,
    ...gpuTest,
  },
  async () => {
    const dir = await Deno.makeTempDir();
    const model = await makeModel(dir);
    const input = `${dir}/lr.tif`;
    await writeCorner(input, 24); // a short run
    const run = await sr3([
      "upscale",
      input,
      "--model",
      model,
      "--out",
      `${dir}/sr.tif`,
      "--sampling-type",
      "dpmpp",
      "--sampling-steps",
      "3",
      "--batch-size",
      "64",
      "--json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const source = await gdalinfoJson(input);
    const result = await gdalinfoJson(`${dir}/sr.tif`);
    assert.deepEqual(result.size, [96, 96]);
    assert.equal(result.coordinateSystem?.wkt, source.coordinateSystem?.wkt);
    const [ox, px, , oy, , py] = source.geoTransform as [number, number, number, number, number, number];
    const [rx, rpx, , ry, , rpy] = result.geoTransform as [number, number, number, number, number, number];
    assert.deepEqual([rx, ry], [ox, oy], "same origin");
    assert.ok(Math.abs(rpx - px / 4) < 1e-12 && Math.abs(rpy - py / 4) < 1e-12, "pixel size divided by 4");
    assert.equal(result.bands.length, 3);
    assert.equal(result.bands[0]!.type, "Byte");
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "sr3 train survives kill -9 and SIGINT, and --resume continues from the last checkpoint",
  gpuTest,
  async () => {
    const dir = await Deno.makeTempDir();
    await exportSmallChips(dir);
    const args = [
      "train",
      `${dir}/chips`,
      "--out",
      `${dir}/model`,
      "--inner-channel",
      "8",
      "--norm-groups",
      "4",
      "--channel-mults",
      "1,2",
      "--attn-res",
      "8",
      "--downsample-factor",
      "4",
      "--batch-size",
      "2",
      "--log-every",
      "2",
      "--checkpoint-every",
      "4",
      "--validate-every",
      "0",
    ];
    // kill -9 once a checkpoint exists: model.json must name a complete checkpoint.
    const child = new Deno.Command(Deno.execPath(), {
      args: [...SR3_ARGS, ...args, "--steps", "100000"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 120_000;
    while (!(await exists(`${dir}/model/model.json`)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill("SIGKILL");
    await child.status;
    const killed = await readModelDefinition(`${dir}/model`);
    assert.ok(
      killed.training!.step >= 4 && killed.training!.step % 4 === 0,
      `checkpoint at ${killed.training!.step}`,
    );
    assert.ok(await exists(`${dir}/model/${killed.checkpoint}/optimizer.safetensors`));

    // --resume continues; SIGINT finishes the step, checkpoints and exits 130.
    const resumed = new Deno.Command(Deno.execPath(), {
      args: [...SR3_ARGS, ...args, "--resume", "--steps", "100000"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const waitFor = killed.training!.step + 4;
    while (Date.now() < deadline + 60_000) {
      const step = (await readModelDefinition(`${dir}/model`)).training!.step;
      if (step >= waitFor) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    resumed.kill("SIGINT");
    const [status, stderr] = await Promise.all([resumed.status, new Response(resumed.stderr).text()]);
    assert.equal(status.code, 130, "exit 130 after SIGINT");
    assert.match(
      stderr,
      /warning: --batch-size, --downsample-factor, --inner-channel, .* ignored: --resume continues with the checkpoint's settings/,
      "knobs given again on --resume are named as ignored",
    );
    const after = await readModelDefinition(`${dir}/model`);
    assert.ok(after.training!.step > killed.training!.step, `resumed past ${killed.training!.step}`);
    const steps = (await Deno.readTextFile(`${dir}/model/train_log.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l).step
    );
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b), "no step logged twice after the resume");
    assert.equal(new Set(steps).size, steps.length);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("metrics --lr scores a bicubic baseline row (factor from the sizes); --factor must be ≥ 1", async () => {
  const dir = await Deno.makeTempDir();
  const n = 48;
  const hr = Float32Array.from({ length: 3 * n * n }, (_, i) => (i * 37 + ((i * i) % 101)) % 256);
  const lr = Float32Array.from({ length: 3 * (n / 4) ** 2 }, (_, i) => (i * 11) % 256);
  const header = { bandCount: 3, dataType: "uint8" as const };
  await writeGeoTiff(`${dir}/hr.tif`, hr, { ...header, width: n, height: n });
  await writeGeoTiff(`${dir}/lr.tif`, lr, { ...header, width: n / 4, height: n / 4 });
  const json = await sr3(["metrics", `${dir}/hr.tif`, `${dir}/hr.tif`, "--lr", `${dir}/lr.tif`, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.deepEqual([result.factor, result.sam, result.ergas, result.highFrequencyRatio], [4, 0, 0, 1]);
  assert.deepEqual(Object.keys(result.bicubic), ["psnr", "ssim", "sam", "ergas", "highFrequencyRatio"]);
  const text = await sr3(["metrics", `${dir}/hr.tif`, `${dir}/hr.tif`, "--lr", `${dir}/lr.tif`]);
  assert.match(
    text.stdout,
    /PSNR \(dB\) +SSIM +SAM \(°\) +ERGAS +HF ratio\nhr\.tif +inf +1\.0000 +0\.00 +0\.00 +1\.000\nbicubic /,
  );
  const badFactor = await sr3(["metrics", `${dir}/hr.tif`, `${dir}/hr.tif`, "--factor", "0.5"]);
  assert.equal(badFactor.code, 2);
  assert.match(badFactor.stderr, /"0\.5" is not a scale factor/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test(
  "a residual model from sr3 train upscales with its default preset and writes the uncertainty map",
  gpuTest,
  async () => {
    const dir = await Deno.makeTempDir();
    await exportSmallChips(dir);
    const small = ["--inner-channel", "8", "--norm-groups", "4", "--channel-mults", "1,2", "--attn-res", "8"];
    const train = await sr3([
      "train",
      `${dir}/chips`,
      "--out",
      `${dir}/model`,
      ...small,
      "--downsample-factor",
      "4",
      "--formulation",
      "residual",
      "--mean-steps",
      "4",
      "--mean-features",
      "4",
      "--mean-blocks",
      "1",
      "--steps",
      "2",
      "--validate-every",
      "0",
    ]);
    assert.equal(train.code, 0, train.stderr);
    const definition = await readModelDefinition(`${dir}/model`);
    assert.equal(definition.formulation?.kind, "residual");
    assert.equal(definition.inference?.preset, "fidelity");

    const input = `${dir}/lr.tif`;
    await writeCorner(input, 16);
    const run = await sr3([
      "upscale",
      input,
      "--model",
      `${dir}/model`,
      "--out",
      `${dir}/sr.tif`,
      "--uncertainty",
      `${dir}/std.tif`,
      "--batch-size",
      "64",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /ddim 10 from 0\.5 x4/, "the model's fidelity preset ran");
    const std = await readRaster(`${dir}/std.tif`);
    assert.deepEqual([std.info.width, std.info.height, std.info.dataType], [64, 64, "float32"]);
    assert.deepEqual(
      std.info.geo,
      (await readRaster(`${dir}/sr.tif`)).info.geo,
      "georeferenced like the output",
    );
    assert.ok(
      std.data.some((v) => v > 0) && std.data.every((v) => v >= 0 || v === -1),
      "a spread, in input units",
    );

    // Settings measured with eval are recorded as a preset, and upscale then runs them by default.
    const evaluated = await sr3([
      "eval",
      `${dir}/chips`,
      "--model",
      `${dir}/model`,
      "--sampling-steps",
      "2",
      "--samples",
      "2",
      "--max-chips",
      "2",
      "--rows",
      "1",
      "--grid",
      `${dir}/grid.png`,
      "--record",
      "fidelity",
    ]);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.deepEqual((await readModelDefinition(`${dir}/model`)).inference?.presets.fidelity, {
      samplingType: "ddim",
      samplingSteps: 2,
      startNoiseLevel: 0.5,
      samples: 2,
    });

    // The mean alone has no spread to map: one line, exit 1, nothing written.
    const refused = await sr3([
      "upscale",
      input,
      "--model",
      `${dir}/model`,
      "--out",
      `${dir}/mean.tif`,
      "--sampling-type",
      "mean",
      "--uncertainty",
      `${dir}/mean_std.tif`,
    ]);
    assert.equal(refused.code, 1);
    assert.equal(ownLines(refused.stderr).length, 1, refused.stderr);
    assert.ok(!(await exists(`${dir}/mean.tif`)) && !(await exists(`${dir}/mean_std.tif`)));
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("degrade writes the ×factor coarser window, georeferenced; bad windows get one line", async () => {
  const dir = await Deno.makeTempDir();
  const run = await sr3([
    "degrade",
    RASTERS.osbsLzw,
    "--factor",
    "4",
    "--region",
    "8,16,64,32",
    "--out",
    `${dir}/lr.tif`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const source = await readRaster(RASTERS.osbsLzw);
  const lr = await readRaster(`${dir}/lr.tif`);
  assert.deepEqual([lr.info.width, lr.info.height, lr.info.dataType], [16, 8, source.info.dataType]);
  const g = source.info.geo!;
  assert.deepEqual(lr.info.geo, {
    ...scaleGeo(
      { ...g, originX: g.originX + 8 * g.pixelSizeX, originY: g.originY + 16 * g.pixelSizeY },
      1 / 4,
    ),
  });
  for (const region of ["390,0,16,16", "0,0,30,32"]) {
    const bad = await sr3([
      "degrade",
      RASTERS.osbsLzw,
      "--factor",
      "4",
      "--region",
      region,
      "--out",
      `${dir}/bad.tif`,
    ]);
    assert.equal(bad.code, 1, region);
    assert.equal(ownLines(bad.stderr).length, 1, bad.stderr);
    assert.ok(!(await exists(`${dir}/bad.tif`)));
  }
  await Deno.remove(dir, { recursive: true });
});
