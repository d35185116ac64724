/**
 * `deno task demo`: sr3 end to end on bundled real imagery, in a few minutes on any machine.
 *
 * 1. Takes a region of a NAIP scene that the bundled model never saw in training, makes its
 *    low-resolution version (×4 coarser, antialiased bicubic), super-resolves it with the pretrained
 *    model (DDIM and DPM-Solver++), writes the GeoTIFFs, a before/after grid and metrics JSON, and
 *    prints PSNR/SSIM of SR3 and bicubic against the real high-resolution pixels, whatever they are.
 * 2. Exports training chips and trains a fresh residual model for a fixed number of steps: the mean
 *    predictor, then the UNet; checkpoints and TensorBoard logs appear, and the mean predictor is scored
 *    against bicubic on validation chips.
 * 3. Lists every output. Everything goes to `demo-output/`.
 * @module
 */
import { readRaster } from "../data/raster.ts";
import { writeHoldoutPair } from "../data/holdout.ts";
import { resizeBicubicUint8 } from "../data/resample.ts";
import { normalize } from "../data/normalize.ts";
import { imageMetrics } from "../data/metrics.ts";
import { heatmapImage, previewImage } from "../report/preview.ts";
import { imageGrid } from "../report/plot.ts";
import { encodePng } from "../report/png.ts";
import { exportTiles } from "../data/export.ts";
import { removeQuietly } from "../data/files.ts";
import { prepareData, SuperResolution } from "../diffusion/super_resolution.ts";
import { type MetricPair, metricPair } from "../diffusion/evaluate.ts";
import { formatMetricsTable } from "./common.ts";
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
  const { hr, lr, size, lrSize } = await writeHoldoutPair(
    SCENE,
    HELD_BACK,
    [0, 1, 2],
    FACTOR,
    `${OUT}/heldback`,
  );
  console.log(`high-res truth: ${OUT}/heldback_hr.tif (5 m); low-res input: ${OUT}/heldback_lr.tif (20 m)`);

  const sr = await SuperResolution.fromModel(MODEL);
  // No sampler flags: each run is one of the model's recommended presets (model.json "inference").
  const runs: { name: string; label: string; samplingType?: "mean"; preset?: "fidelity" | "perceptual" }[] = [
    { name: "mean", label: "mean predictor", samplingType: "mean" },
    { name: "fidelity", label: "SR3 fidelity", preset: "fidelity" },
    { name: "perceptual", label: "SR3 perceptual", preset: "perceptual" },
  ];
  const signed = (native: Float32Array): Float32Array =>
    normalize(native, size * size, sr.definition.normalization);
  const hrSigned = signed(hr);
  // The scene is uint8: bicubic by Pillow's 8-bit path, as sr3 metrics and the SR3 reference make it.
  const bicubic = Float32Array.from(resizeBicubicUint8(Uint8Array.from(lr), lrSize, lrSize, size, size));
  const results: Record<string, MetricPair & { seconds?: number; sampling?: string; path?: string }> = {};
  const score = (image: Float32Array) =>
    metricPair(imageMetrics(signed(image), hrSigned, size, size, { factor: FACTOR }));
  results.bicubic = score(bicubic);
  const images = [previewImage(lr, lrSize, lrSize), previewImage(bicubic, size, size)];
  let uncertainty: Float32Array | null = null;
  for (const run of runs) {
    const start = performance.now();
    const path = `${OUT}/heldback_${run.name}.tif`;
    const stdPath = run.preset === "fidelity" ? `${OUT}/heldback_uncertainty.tif` : undefined;
    const summary = await sr.predict(`${OUT}/heldback_lr.tif`, {
      outPath: path,
      preset: run.preset,
      samplingType: run.samplingType,
      uncertaintyPath: stdPath,
      seed: 1,
      overwrite: true,
    });
    const elapsed = (performance.now() - start) / 1000;
    const out = await readRaster(path);
    results[run.name] = { ...score(out.data), seconds: elapsed, sampling: summary.sampling, path };
    images.push(previewImage(out.data, size, size));
    if (stdPath) uncertainty = (await readRaster(stdPath)).data;
    console.log(`${run.label.padEnd(16)} ${path}  (${summary.sampling}, ${elapsed.toFixed(1)} s)`);
  }
  images.push(heatmapImage(uncertainty!, size, size), previewImage(hr, size, size));
  const grid = imageGrid([images], {
    columnLabels: [
      "LR (20 m)",
      "bicubic",
      "mean",
      "SR3 fidelity",
      "SR3 perceptual",
      "uncertainty",
      "HR (5 m)",
    ],
    cellSize: 160,
    title: "Held-back NAIP region, x4 super-resolution (uncertainty: std over the fidelity samples)",
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
    note: "PSNR/SSIM/SAM on uint8 RGB, no border crop (as published SR3 numbers); ERGAS with h/l = 1/4; " +
      "HF = energy above the LR Nyquist frequency relative to HR's (~0 blur, ~1 HR-like texture)",
  };
  await Deno.writeTextFile(`${OUT}/heldback_metrics.json`, JSON.stringify(report, null, 2) + "\n");
  console.log();
  for (const line of formatMetricsTable(Object.entries(results))) console.log(`  ${line}`);
  sr.dispose();
  return report;
}

/** Fixed step counts, not minutes: what the demo shows must not depend on how busy the machine is. */
const FRESH = { meanSteps: 600, unetSteps: 60 };

async function trainFresh(): Promise<void> {
  heading(
    `2/3  Exporting chips and training a fresh residual model (${FRESH.meanSteps} mean-predictor steps, ` +
      `${FRESH.unetSteps} UNet steps)`,
  );
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
    formulation: "residual",
  });
  await removeQuietly(`${OUT}/fresh-model`);
  const result = await sr.fit(undefined, {
    outDir: `${OUT}/fresh-model`,
    meanSteps: FRESH.meanSteps,
    steps: FRESH.unetSteps,
    lr: 1e-3,
    logEvery: 10,
    checkpointEvery: 200,
    validateEvery: 0,
    tensorboard: `${OUT}/fresh-model/tensorboard`,
  });
  const losses = async (file: string) =>
    (await Deno.readTextFile(`${OUT}/fresh-model/${file}`)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((l) => typeof l.loss === "number");
  const stages: [string, string][] = [
    ["mean predictor (L1 on pixels)", "mean_train_log.jsonl"],
    ["UNet (L1 on v)", "train_log.jsonl"],
  ];
  for (const [what, file] of stages) {
    const log = await losses(file);
    console.log(
      `${what}: loss ${log[0].loss.toFixed(4)} (step ${log[0].step}) → ${log.at(-1).loss.toFixed(4)} ` +
        `(step ${log.at(-1).step})`,
    );
  }
  const scores = await sr.computeMetrics({ samplingType: "mean", maxChips: 64 });
  console.log(
    `its mean predictor on ${scores.chips} validation chips: PSNR ${scores.sr3.PSNR.toFixed(2)} dB, SSIM ` +
      `${scores.sr3.SSIM.toFixed(4)} (bicubic ${scores.bicubic.PSNR.toFixed(2)} dB, ${
        scores.bicubic.SSIM.toFixed(4)
      }); ` +
      `${result.stopped} in ${seconds(start)}`,
  );
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
    [`${OUT}/heldback_mean.tif`, "the mean predictor alone (GeoTIFF, 5 m, same CRS and origin)"],
    [`${OUT}/heldback_fidelity.tif`, "SR3, fidelity preset (the model's default: best PSNR/SSIM)"],
    [`${OUT}/heldback_uncertainty.tif`, "std over the fidelity samples, per pixel (float32, input units)"],
    [`${OUT}/heldback_perceptual.tif`, "SR3, perceptual preset (sharpest detail, from pure noise)"],
    [`${OUT}/heldback_grid.png`, "LR | bicubic | mean | fidelity | perceptual | uncertainty | HR"],
    [`${OUT}/heldback_metrics.json`, "PSNR/SSIM/SAM/ERGAS/HF of each, and of bicubic"],
    [`${OUT}/chips/`, "exported training chips (images/, dataset.json)"],
    [`${OUT}/fresh-model/`, "the fresh model: model.json, checkpoints/, loss curves and logs of both stages"],
    [
      `${OUT}/fresh-model/tensorboard/`,
      "TensorBoard events: tensorboard --logdir demo-output/fresh-model/tensorboard",
    ],
  ];
  for (const [path, what] of outputs) console.log(`  ${path.padEnd(44)} ${what}`);
  console.log(`\ndemo finished in ${seconds(start)} on ${getRuntime().adapter.description}`);
}
