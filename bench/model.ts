/**
 * Model-level benchmarks for `deno task bench`: peak memory of a training step against what it must
 * hold, and the samplers' speed and quality on the bundled model's validation chips; plus the table
 * printing and timing helpers the step table (`steps.ts`) shares.
 * @module
 */
import { prepareData, SuperResolution } from "../diffusion/super_resolution.ts";
import { readModelDefinition } from "../diffusion/model_dir.ts";
import { sr3Objective } from "../diffusion/objectives.ts";
import { Trainer } from "../diffusion/trainer.ts";
import { buildSchedule } from "../diffusion/schedule.ts";
import { sampleValidation, scoreBatches } from "../diffusion/evaluate.ts";
import type { SamplerName } from "../diffusion/samplers/mod.ts";
import { exportTiles } from "../data/export.ts";
import type { Batch } from "../data/dataset.ts";
import type { Runtime } from "../kernels/runtime.ts";
import { backward } from "../nn/autodiff.ts";
import { Tensor, tidy } from "../nn/tensor.ts";
import { type PresetName, UNet, type UNetConfig, unetConfig } from "../nn/unet.ts";

const root = new URL("..", import.meta.url).pathname;

/** A printed table: a title, column names and rows of cells. */
export interface Table {
  /** Heading. */
  title: string;
  /** Column names. */
  columns: string[];
  /** Rows of cells. */
  rows: string[][];
  /** Lines printed under the table. */
  notes?: string[];
}

/** Prints a table with right-aligned numbers. */
export function printTable(table: Table): void {
  const all = [table.columns, ...table.rows];
  const widths = table.columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  console.log(table.title);
  for (const row of all) {
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
  }
  for (const note of table.notes ?? []) console.log(note);
  console.log();
}

/** A deterministic batch of `batch` chips for `config` (values do not change the timing). */
export function syntheticBatch(config: UNetConfig, batch: number): Batch {
  const size = config.imageSize;
  const n = batch * config.bands * size * size;
  const wave = (i: number): number => Math.sin(i * 0.37) * 0.8;
  return {
    hr: Float32Array.from({ length: n }, (_, i) => wave(i)),
    lrUp: Float32Array.from({ length: n }, (_, i) => wave(i + 3)),
    lr: new Float32Array(n / 16),
    mask: new Float32Array(batch * size * size).fill(1),
    shape: {
      batch,
      channels: config.bands,
      height: size,
      width: size,
      lrHeight: size / 4,
      lrWidth: size / 4,
    },
    names: [],
  };
}

/** Median of `runs` timings of `body`, each ended by a GPU sync, after `warmup` untimed runs. */
export async function medianMs(rt: Runtime, body: () => void, runs: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) body();
  await rt.sync();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    body();
    await rt.sync();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Bytes of one tensor list. */
const bytesOf = (tensors: readonly Tensor[]): number => tensors.reduce((n, t) => n + 4 * t.size, 0);

/** Peak device memory of a training step against parameters + optimizer state + saved activations. */
export async function memoryTable(rt: Runtime): Promise<Table> {
  const rows: string[][] = [];
  const cases: [PresetName, number][] = [["tiny", 32], ["arcgis", 64]];
  for (const [preset, imageSize] of cases) {
    const config = unetConfig(preset, { imageSize, attnRes: preset === "arcgis" ? [16] : [8] });
    // Values do not change memory; skipping orthogonal init keeps the 141M-parameter case quick.
    const model = UNet.createUninitialized(config);
    const schedule = buildSchedule({
      schedule: "linear",
      nTimestep: 2000,
      linearStart: 1e-6,
      linearEnd: 1e-2,
    });
    const trainer = new Trainer(sr3Objective(model, schedule), {});
    const batch = syntheticBatch(config, 1);
    trainer.trainStep(batch);
    await rt.sync();
    rt.trimPool();
    // Saved activations: what a forward pass with the tape keeps alive until its backward.
    const persistent = rt.memory().persistentBytes;
    // Buffers and textures: a fused norm + conv saves its activation as a packed texture.
    const live = (): number => rt.memory().liveBytes + rt.memory().liveTextureBytes;
    const liveBefore = live();
    let activations = 0;
    tidy(() => {
      const x = Tensor.fromArray(new Float32Array(2 * config.bands * imageSize * imageSize), [
        1,
        2 * config.bands,
        imageSize,
        imageSize,
      ]);
      const y = model.forward(x, Tensor.fromArray([0.5], [1]));
      activations = live() - liveBefore;
      backward(y, Tensor.full(y.shape, 1e-3));
      trainer.optimizer.zeroGrad();
    });
    await rt.sync();
    rt.trimPool();
    rt.resetPeak();
    trainer.trainStep(batch);
    await rt.sync();
    const peak = rt.memory().peakAllocatedBytes;
    const params = bytesOf(model.parameters());
    const needed = persistent + activations;
    rows.push([
      `${preset} (${imageSize}×${imageSize})`,
      mib(params),
      mib(persistent - params),
      mib(activations),
      mib(peak),
      `${(peak / needed).toFixed(2)}×`,
    ]);
    trainer.dispose();
    model.dispose();
    rt.trimPool();
  }
  return {
    title: "Peak device memory of one training step (batch 1)",
    columns: [
      "preset",
      "parameters",
      "Adam + EMA + ring",
      "saved activations",
      "peak in step",
      "peak / needed",
    ],
    rows,
    notes: [
      "needed = parameters + optimizer/EMA state + activations saved for backward; arcgis at 64×64 keeps the run short",
    ],
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Speed and quality of every sampler on validation chips of the bundled model's scene (null outside a checkout). */
export async function samplerTable(
  rt: Runtime,
  options: { chips?: number; ddpm?: boolean } = {},
): Promise<Table | null> {
  const modelDir = `${root}models/naip-x4`;
  try {
    await Deno.stat(`${modelDir}/model.json`);
  } catch {
    console.log(`(sampler table skipped: the bundled model ${modelDir} is only in a checkout)\n`);
    return null;
  }
  const definition = await readModelDefinition(modelDir);
  const dir = await Deno.makeTempDir();
  await exportTiles({
    hrPath: `${root}testdata/opengeos-naip/m_4709963_se_14_1_20200831.tif`,
    outDir: `${dir}/chips`,
    chipSize: definition.unet.imageSize,
    bands: [0, 1, 2],
    region: { x: 0, y: 0, width: 774, height: 723 },
  });
  const data = await prepareData(`${dir}/chips`, {
    downsampleFactor: definition.downsampleFactor,
    normalization: definition.normalization,
    batchSize: 16,
    valSplitPct: 10,
    seed: definition.training?.seed ?? 0,
  });
  const sr = await SuperResolution.fromModel(modelDir, data, { resume: false });
  const chips = options.chips ?? 32;
  type Run = {
    name: string;
    samplingType: SamplerName;
    steps?: number;
    startNoiseLevel?: number;
  };
  const runs: Run[] = [
    { name: "DDIM", samplingType: "ddim", steps: 200 },
    { name: "DDIM", samplingType: "ddim", steps: 50 },
    { name: "DPM-Solver++(2M)", samplingType: "dpmpp", steps: 20 },
    { name: "DPM-Solver++(2M)", samplingType: "dpmpp", steps: 10 },
    // A truncated start (the bicubic image noised to √ᾱ = 0.5) skips the noisiest part of the trajectory.
    { name: "DPM-Solver++(2M) from γ = 0.5", samplingType: "dpmpp", steps: 20, startNoiseLevel: 0.5 },
  ];
  if (options.ddpm) runs.push({ name: "DDPM", samplingType: "ddpm" });
  const rows: string[][] = [];
  let bicubic: string[] | null = null;
  for (const { name, samplingType, steps, startNoiseLevel } of runs) {
    const reads = rt.counters().readbacks;
    const start = performance.now();
    const batches = await sampleValidation(sr.parts, data.dataset, {
      samplingType,
      samplingSteps: steps,
      startNoiseLevel,
      seed: 1,
      maxChips: chips,
      batchSize: 16,
    });
    const seconds = (performance.now() - start) / 1000;
    const readsPerCall = (rt.counters().readbacks - reads) / batches.length;
    const score = scoreBatches(batches, name);
    rows.push([
      name,
      String(steps ?? definition.schedule.nTimestep),
      seconds.toFixed(1),
      score.sr3.PSNR.toFixed(2),
      score.sr3.SSIM.toFixed(4),
      String(readsPerCall),
    ]);
    bicubic ??= ["bicubic", "0", "", score.bicubic.PSNR.toFixed(2), score.bicubic.SSIM.toFixed(4), ""];
  }
  rows.push(bicubic!);
  sr.dispose();
  await Deno.remove(dir, { recursive: true });
  return {
    title: `Samplers on ${chips} validation chips of the bundled model (models/naip-x4, ×4, 32×32 HR)`,
    columns: ["sampler", "calls", "seconds", "PSNR dB", "SSIM", "readbacks/loop"],
    rows,
    notes: ["PSNR/SSIM on uint8 RGB, no border crop, mean over chips; 16 chips per sampler loop"],
  };
}
