/**
 * Model-level benchmarks for `deno task bench`: the SR3 UNet's training and sampling steps next to
 * PyTorch on the same CPU (when Debian's python3-torch is installed), GPU→CPU syncs inside the hot
 * loops, peak memory of a training step against what it must hold, and the samplers' speed and
 * quality on the bundled model's validation chips.
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
import { backward, noGrad } from "../nn/autodiff.ts";
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

function syntheticBatch(config: UNetConfig, batch: number): Batch {
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
async function medianMs(rt: Runtime, body: () => void, runs: number, warmup = 2): Promise<number> {
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

interface TorchTimes {
  train_step_ms: number;
  sample_step_ms: number;
  forward_gflop_per_image: number;
  blas: string;
  torch: string;
}

async function torchTimes(
  blas: "reference" | "openblas",
  batch: number,
  channelMults: readonly number[],
): Promise<TorchTimes | null> {
  try {
    const command = new Deno.Command("/usr/bin/python3", {
      args: [
        `${root}bench/torch_unet.py`,
        ...[
          "--config",
          "tiny",
          "--blas",
          blas,
          "--batch",
          String(batch),
          "--channel-mults",
          channelMults.join(","),
        ],
      ],
      stdout: "piped",
      stderr: "null",
    });
    const { code, stdout } = await command.output();
    if (code !== 0) return null;
    const line = new TextDecoder().decode(stdout).trim().split("\n").at(-1)!;
    return JSON.parse(line) as TorchTimes;
  } catch {
    return null;
  }
}

/** One model configuration at one batch size, as the step table times it. */
interface StepCase {
  name: string;
  config: UNetConfig;
  batch: number;
}

/** The tiny preset at batch 1 and 8, and the bundled model's configuration at batch 8 when in a checkout. */
async function stepCases(): Promise<StepCase[]> {
  const tiny = unetConfig("tiny", { blockStyle: "reference", imageSize: 32 });
  const cases: StepCase[] = [
    { name: "tiny", config: tiny, batch: 1 },
    { name: "tiny", config: tiny, batch: 8 },
  ];
  try {
    const { unet } = await readModelDefinition(`${root}models/naip-x4`);
    cases.push({ name: "bundled (models/naip-x4)", config: unet, batch: 8 });
  } catch {
    // Outside a checkout there is no bundled model: the tiny rows still run.
  }
  return cases;
}

/** sr3's training step and sampling call (one network evaluation) of one case, median milliseconds. */
async function sr3StepMs(
  rt: Runtime,
  c: StepCase,
): Promise<{ train: number; sample: number; reads: number }> {
  const model = UNet.create(c.config, 0);
  const schedule = buildSchedule({ schedule: "linear", nTimestep: 2000, linearStart: 1e-6, linearEnd: 1e-2 });
  const trainer = new Trainer(sr3Objective(model, schedule), { gradClip: null });
  const batch = syntheticBatch(c.config, c.batch);
  const readsBefore = rt.counters().readbacks;
  const train = await medianMs(rt, () => trainer.trainStep(batch), c.batch > 1 ? 6 : 10);
  const reads = rt.counters().readbacks - readsBefore;
  const size = c.config.imageSize;
  const input = Tensor.fromArray(new Float32Array(c.batch * 2 * c.config.bands * size * size).fill(0.1), [
    c.batch,
    2 * c.config.bands,
    size,
    size,
  ]);
  const levels = Tensor.fromArray(new Array(c.batch).fill(0.5), [c.batch]);
  model.setTraining(false);
  const sample = await medianMs(rt, () => noGrad(() => tidy(() => void model.forward(input, levels))), 10);
  for (const t of [input, levels]) t.dispose();
  trainer.dispose();
  model.dispose();
  return { train, sample, reads };
}

/**
 * Training step and sampling call of the tiny preset (reference style, 32×32) at batch 1 and 8 and of
 * the bundled model's configuration at batch 8: sr3 next to PyTorch CPU with Debian's reference BLAS
 * and with OpenBLAS, all in this run. GFLOP/s counts a training step as three forward passes.
 */
export async function stepTable(rt: Runtime): Promise<Table> {
  const rows: string[][] = [];
  let reads = 0;
  let measuredTorch = false;
  for (const c of await stepCases()) {
    const sr3 = await sr3StepMs(rt, c);
    reads += sr3.reads;
    const torch = {
      reference: await torchTimes("reference", c.batch, c.config.channelMults),
      openblas: await torchTimes("openblas", c.batch, c.config.channelMults),
    };
    measuredTorch ||= Boolean(torch.reference || torch.openblas);
    const gflop = torch.reference?.forward_gflop_per_image ?? torch.openblas?.forward_gflop_per_image;
    const rate = (ms: number, passes: number): string =>
      gflop === undefined ? "" : ((passes * gflop * c.batch) / ms * 1000).toFixed(1);
    const label = `${c.name}, batch ${c.batch}`;
    rows.push([
      `${label}: sr3 (WebGPU)`,
      sr3.train.toFixed(0),
      sr3.sample.toFixed(0),
      (c.batch / sr3.train * 1000).toFixed(1),
      rate(sr3.train, 3),
      rate(sr3.sample, 1),
      "",
      "",
    ]);
    for (
      const [name, t] of [["PyTorch CPU, reference BLAS", torch.reference], [
        "PyTorch CPU, OpenBLAS",
        torch.openblas,
      ]] as const
    ) {
      if (!t) continue;
      rows.push([
        `${label}: ${name}`,
        t.train_step_ms.toFixed(0),
        t.sample_step_ms.toFixed(0),
        (c.batch / t.train_step_ms * 1000).toFixed(1),
        rate(t.train_step_ms, 3),
        rate(t.sample_step_ms, 1),
        `${(sr3.train / t.train_step_ms).toFixed(2)}×`,
        `${(sr3.sample / t.sample_step_ms).toFixed(2)}×`,
      ]);
    }
  }
  return {
    title: "SR3 UNet training step (forward + L1 + backward + Adam) and sampling call, 32×32 HR",
    columns: [
      "",
      "train ms",
      "sample ms",
      "train img/s",
      "train GFLOP/s",
      "sample GFLOP/s",
      "sr3/this train",
      "sr3/this sample",
    ],
    rows,
    notes: [
      `GPU→CPU readbacks during the timed training steps: ${reads} (losses stay on the GPU until a logging interval)`,
      measuredTorch
        ? "PyTorch 1.13: bench/torch_unet.py, the reference UNet in float32 (reference block style; the bundled " +
          "row uses its channel_mults), median of 20 runs, 2 threads; OpenBLAS is Debian's, unpacked into ~/.cache"
        : "PyTorch not measured: install Debian's python3-torch to add it",
    ],
  };
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
    const liveBefore = rt.memory().liveBytes;
    let activations = 0;
    tidy(() => {
      const x = Tensor.fromArray(new Float32Array(2 * config.bands * imageSize * imageSize), [
        1,
        2 * config.bands,
        imageSize,
        imageSize,
      ]);
      const y = model.forward(x, Tensor.fromArray([0.5], [1]));
      activations = rt.memory().liveBytes - liveBefore;
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
