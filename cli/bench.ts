/**
 * `sr3 bench`: the benchmark tables of `deno task bench` (kernels vs tfjs-backend-webgpu, group norm
 * and attention, the UNet's steps vs PyTorch CPU, memory, samplers) on this machine's adapter.
 * @module
 */
import { Command } from "../deps.ts";
import { runBench } from "../bench/run.ts";
import { parsePositiveInt, runCommand } from "./common.ts";

/** The `bench` command. */
export const benchCommand = new Command("bench")
  .description("benchmark kernels, the UNet's steps and the samplers on this adapter")
  .option("--only <text>", "only kernel cases whose name contains this (skips the other tables)")
  .option("--no-tfjs", "skip the tfjs-backend-webgpu comparison")
  .option("--no-model", "skip the training/sampling step and memory tables")
  .option("--no-samplers", "skip the sampler table (needs the bundled model of a checkout)")
  .option("--no-scene", "skip the whole-raster upscale table (needs the bundled model of a checkout)")
  .option("--json", "print one JSON document with every table instead of text")
  .option("--repeats <n>", "timings per case and round", parsePositiveInt, 3)
  .option("--rounds <n>", "rounds over the kernel cases", parsePositiveInt, 3)
  .addHelpText("after", "\nExamples:\n  $ sr3 bench\n  $ sr3 bench --only conv --no-tfjs")
  .action((options) =>
    runCommand("bench", () =>
      runBench({
        only: options.only ?? null,
        tfjs: options.tfjs,
        model: options.model,
        samplers: options.samplers,
        scene: options.scene,
        json: options.json ?? false,
        repeats: options.repeats,
        rounds: options.rounds,
      }))
  );
