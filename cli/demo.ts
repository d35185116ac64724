/**
 * `deno task demo`: sr3 end to end on bundled real imagery, in a few minutes on any machine.
 *
 * 1. Takes a region of a NAIP scene that the bundled model never saw in training, makes its
 *    low-resolution version (×4 coarser, antialiased bicubic), super-resolves it with the pretrained
 *    model (DDIM and DPM-Solver++), writes the GeoTIFFs, a before/after grid and metrics JSON, and
 *    prints PSNR/SSIM of SR3 and bicubic against the real high-resolution pixels, whatever they are.
 * 2. Exports training chips and trains a fresh model for a couple of minutes: the loss falls, a
 *    checkpoint and a TensorBoard log appear.
 * 3. Lists every output. Everything goes to `demo-output/`.
 * @module
 */
import { readRaster } from "../data/raster.ts";
import { scaleGeo, windowGeo } from "../data/geo.ts";
import { writeGeoTiff } from "../data/geotiff_writer.ts";
import { resizeBicubic } from "../data/resample.ts";
import { normalize } from "../data/normalize.ts";
import { imageMetrics } from "../data/metrics.ts";
import { previewImage } from "../data/preview.ts";
import { imageGrid } from "../data/plot.ts";
import { encodePng } from "../data/png.ts";
import { exportTiles } from "../data/export.ts";
import { removeQuietly } from "../data/files.ts";
import { prepareData, SuperResolution } from "../diffusion/super_resolution.ts";
import { getRuntime } from "../nn/tensor.ts";

const root = new URL("..", import.meta.url).pathname;
const SCENE = `${root}testdata/opengeos-naip/m_4709963_se_14_1_20200831.tif`;
const MODEL = `${root}models/naip-x4`;
const OUT = "demo-output";
/** The bundled model was trained on columns 0–773 only (see models/naip-x4/README.md). */
const HELD_BACK = { x: 790, y: 340, size: 128 };
const FACTOR = 4;

function heading(text: string): void {
  console.log(`\n== ${text}`);
}

function seconds(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

async function upscaleHeldBack(): Promise<Record<string, unknown>> {
  heading(
    `1/3  Super-resolving a held-back ${HELD_BACK.size}×${HELD_BACK.size} region of a NAIP scene (×${FACTOR})`,
  );
  const scene = await readRaster(SCENE, [0, 1, 2]);
  const { width } = scene.info;
  const { x, y, size } = HELD_BACK;
  const hr = new Float32Array(3 * size * size);
  for (let b = 0; b < 3; b++) {
    for (let row = 0; row < size; row++) {
      const from = b * scene.info.width * scene.info.height + (y + row) * width + x;
      hr.set(scene.data.subarray(from, from + size), b * size * size + row * size);
    }
  }
  const geo = windowGeo(scene.info.geo!, x, y);
  const lrSize = size / FACTOR;
  const lr = resizeBicubic(hr, size, size, lrSize, lrSize).map((v) =>
    Math.min(255, Math.max(0, Math.round(v)))
  );
  const header = { bandCount: 3, dataType: "uint8" as const, nodata: scene.info.nodata };
  await writeGeoTiff(`${OUT}/heldback_hr.tif`, hr, { ...header, width: size, height: size, geo }, {
    overwrite: true,
  });
  await writeGeoTiff(`${OUT}/heldback_lr.tif`, lr, {
    ...header,
    width: lrSize,
    height: lrSize,
    geo: scaleGeo(geo, 1 / FACTOR),
  }, { overwrite: true });
  console.log(`high-res truth: ${OUT}/heldback_hr.tif (5 m); low-res input: ${OUT}/heldback_lr.tif (20 m)`);

  const sr = await SuperResolution.fromModel(MODEL);
  const runs = [
    { name: "ddim", label: "SR3 DDIM-50", samplingType: "ddim" as const, nTimestep: 50 },
    { name: "dpmpp", label: "SR3 DPM-Solver++-20", samplingType: "dpmpp" as const, nTimestep: 20 },
    // A truncated start: the bicubic image noised to √ᾱ = 0.5 instead of pure noise (README, Samplers).
    {
      name: "dpmpp_from_0.5",
      label: "SR3 DPM++-20 from g=0.5",
      samplingType: "dpmpp" as const,
      nTimestep: 20,
      startNoiseLevel: 0.5,
    },
  ];
  const signed = (native: Float32Array): Float32Array =>
    normalize(native, size * size, sr.definition.normalization);
  const hrSigned = signed(hr);
  const bicubic = resizeBicubic(lr, lrSize, lrSize, size, size);
  const results: Record<string, { PSNR: number; SSIM: number; seconds?: number; path?: string }> = {};
  const bicubicMetrics = imageMetrics(signed(bicubic), hrSigned, size, size);
  results.bicubic = { PSNR: bicubicMetrics.psnr, SSIM: bicubicMetrics.ssim };
  const images = [previewImage(lr, lrSize, lrSize), previewImage(bicubic, size, size)];
  for (const run of runs) {
    const start = performance.now();
    const path = `${OUT}/heldback_sr_${run.name}.tif`;
    await sr.predict(`${OUT}/heldback_lr.tif`, {
      outPath: path,
      samplingType: run.samplingType,
      nTimestep: run.nTimestep,
      startNoiseLevel: run.startNoiseLevel,
      batchSize: 64,
      seed: 1,
      overwrite: true,
    });
    const elapsed = (performance.now() - start) / 1000;
    const out = await readRaster(path);
    const m = imageMetrics(signed(out.data), hrSigned, size, size);
    results[run.name] = { PSNR: m.psnr, SSIM: m.ssim, seconds: elapsed, path };
    images.push(previewImage(out.data, size, size));
    console.log(`${run.label.padEnd(24)} ${path}  (${elapsed.toFixed(1)} s)`);
  }
  images.push(previewImage(hr, size, size));
  const grid = imageGrid([images], {
    columnLabels: ["LR (20 m)", "bicubic", ...runs.map((r) => r.label), "HR (5 m)"],
    cellSize: 192,
    title: "Held-back NAIP region, x4 super-resolution (g: start noise level)",
  });
  await Deno.writeFile(`${OUT}/heldback_grid.png`, encodePng(grid));
  const report = {
    region: {
      ...HELD_BACK,
      raster: "testdata/opengeos-naip/m_4709963_se_14_1_20200831.tif",
      bands: [1, 2, 3],
    },
    factor: FACTOR,
    model: "models/naip-x4",
    metrics: results,
    note: "PSNR/SSIM on uint8 RGB, no border crop (as published SR3 numbers); SR3 is stochastic and trades " +
      "PSNR for sharper detail, so bicubic often scores higher on PSNR",
  };
  await Deno.writeTextFile(`${OUT}/heldback_metrics.json`, JSON.stringify(report, null, 2) + "\n");
  console.log("\n                        PSNR (dB)   SSIM");
  for (const [name, m] of Object.entries(results)) {
    console.log(`  ${name.padEnd(20)} ${m.PSNR.toFixed(2).padStart(9)}   ${m.SSIM.toFixed(4)}`);
  }
  sr.dispose();
  return report;
}

async function trainFresh(): Promise<void> {
  heading("2/3  Exporting chips and training a fresh model for two minutes");
  const start = performance.now();
  await exportTiles({
    hrPath: SCENE,
    outDir: `${OUT}/chips`,
    chipSize: 32,
    stride: 32,
    bands: [0, 1, 2],
    region: { x: 0, y: 0, width: 774, height: 723 },
    overwrite: true,
  });
  console.log(`exported chips to ${OUT}/chips in ${seconds(start)}`);
  const data = await prepareData(`${OUT}/chips`, { downsampleFactor: FACTOR, batchSize: 8, valSplitPct: 5 });
  const sr = await SuperResolution.create(data, {
    preset: "tiny",
    innerChannel: 16,
    channelMults: [1, 2],
    attnRes: [16],
    seed: 7,
  });
  await removeQuietly(`${OUT}/fresh-model`);
  const result = await sr.fit(undefined, {
    outDir: `${OUT}/fresh-model`,
    steps: 100_000,
    maxSeconds: 120,
    lr: 1e-3,
    logEvery: 10,
    checkpointEvery: 100,
    validateEvery: 0,
    tensorboard: `${OUT}/fresh-model/tensorboard`,
  });
  const log = (await Deno.readTextFile(`${OUT}/fresh-model/train_log.jsonl`)).trim().split("\n")
    .map((l) => JSON.parse(l)).filter((l) => typeof l.loss === "number");
  const first = log[0];
  const last = log.at(-1);
  if (first && last) {
    console.log(
      `loss fell from ${first.loss.toFixed(3)} (step ${first.step}) to ${last.loss.toFixed(3)} ` +
        `(step ${last.step}) in ${seconds(start)}; stopped: ${result.stopped}`,
    );
  }
  sr.dispose();
}

if (import.meta.main) {
  const start = performance.now();
  await Deno.mkdir(OUT, { recursive: true });
  await upscaleHeldBack();
  await trainFresh();
  heading("3/3  Outputs");
  const outputs: [string, string][] = [
    [`${OUT}/heldback_hr.tif`, "high-resolution truth of the held-back region (GeoTIFF, 5 m)"],
    [`${OUT}/heldback_lr.tif`, "its ×4 low-resolution input (GeoTIFF, 20 m)"],
    [`${OUT}/heldback_sr_ddim.tif`, "SR3 output, DDIM 50 steps (GeoTIFF, 5 m, same CRS and origin)"],
    [`${OUT}/heldback_sr_dpmpp.tif`, "SR3 output, DPM-Solver++ 20 steps"],
    [`${OUT}/heldback_sr_dpmpp_from_0.5.tif`, "SR3 output, DPM-Solver++ 20 steps from the noised bicubic"],
    [`${OUT}/heldback_grid.png`, "LR | bicubic | SR3 | HR side by side"],
    [`${OUT}/heldback_metrics.json`, "PSNR/SSIM of SR3 and bicubic"],
    [`${OUT}/chips/`, "exported training chips (images/, dataset.json)"],
    [`${OUT}/fresh-model/`, "the freshly trained model: model.json, checkpoints/, loss.png, train_log.jsonl"],
    [
      `${OUT}/fresh-model/tensorboard/`,
      "TensorBoard events: tensorboard --logdir demo-output/fresh-model/tensorboard",
    ],
  ];
  for (const [path, what] of outputs) console.log(`  ${path.padEnd(44)} ${what}`);
  console.log(`\ndemo finished in ${seconds(start)} on ${getRuntime().adapter.description}`);
}
