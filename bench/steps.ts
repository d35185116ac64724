/**
 * The step table of `deno task bench`: the SR3 UNet's training step and sampling call in sr3 next to
 * PyTorch CPU (Debian's python3-torch, with the reference BLAS and with OpenBLAS) in the same run, at
 * the batch sizes people train with.
 * @module
 */
import { readModelDefinition } from "../diffusion/model_dir.ts";
import { sr3Objective } from "../diffusion/objectives.ts";
import { buildSchedule } from "../diffusion/schedule.ts";
import { Trainer } from "../diffusion/trainer.ts";
import type { Runtime } from "../kernels/runtime.ts";
import { noGrad } from "../nn/autodiff.ts";
import { Tensor, tidy } from "../nn/tensor.ts";
import { UNet, type UNetConfig, unetConfig } from "../nn/unet.ts";
import { medianMs, syntheticBatch, type Table } from "./model.ts";

const root = new URL("..", import.meta.url).pathname;

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
