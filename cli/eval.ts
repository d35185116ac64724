/**
 * `sr3 eval`: PSNR/SSIM of SR3 and of plain bicubic on a dataset's validation chips, and a
 * LR | bicubic | SR3 | HR grid (arcgis `compute_metrics()` and `show_results()`).
 * @module
 */
import { Command, Option } from "../deps.ts";
import { INFERENCE_PRESETS, type InferencePreset } from "../diffusion/inference.ts";
import type { MetricPair } from "../diffusion/evaluate.ts";
import { assertWritableOutput } from "../data/files.ts";
import { readModelDefinition } from "../diffusion/model_dir.ts";
import { prepareData, SuperResolution } from "../diffusion/super_resolution.ts";
import { formatMetricsTable, parseNumberIn, parsePositiveInt, printJson, runCommand } from "./common.ts";
import {
  presetOption,
  samplerOption,
  samplesOption,
  samplingFlags,
  seedOption,
  startOption,
  stepsOption,
} from "./sampling.ts";

/** The `eval` command. */
export const evalCommand = new Command("eval")
  .description("PSNR/SSIM of SR3 vs bicubic on validation chips, plus a PNG grid LR | bicubic | SR3 | HR")
  .argument("<data-dir>", "chips (sr3 export output)")
  .requiredOption("--model <dir>", "(required) trained model directory")
  .addOption(presetOption())
  .addOption(samplerOption())
  .addOption(stepsOption())
  .addOption(startOption())
  .addOption(samplesOption())
  .option(
    "--val-split-pct <pct>",
    "validation share, as when training",
    parseNumberIn({ min: 0, max: 100, maxExclusive: true }),
    10,
  )
  .option("--max-chips <n>", "score at most this many validation chips", parsePositiveInt)
  .addOption(seedOption())
  .option("--grid <png>", "where to write the grid", "eval_grid.png")
  .option("--overwrite", "replace an existing grid file")
  .option("--rows <n>", "chips in the grid", parsePositiveInt, 4)
  .option("--json", "print the metrics as JSON")
  .addOption(
    new Option(
      "--record <preset>",
      "after scoring, store these sampler settings as the model's preset in model.json",
    )
      .choices(Object.keys(INFERENCE_PRESETS) as InferencePreset[]),
  )
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 eval chips --model models/naip-x4
  $ sr3 eval chips --model models/naip-x4 --preset perceptual --max-chips 32
  $ sr3 eval chips --model models/naip --sampling-type dpmpp --sampling-steps 20 --json
  $ sr3 eval chips --model models/naip --preset fidelity --start-noise-level 0.3 --samples 8 --record fidelity

Bicubic is always scored on the same chips (and, for residual models, the mean predictor alone).`,
  )
  .action((dataDir, options) =>
    runCommand("eval", async () => {
      // Before hours of sampling: the grid must be writable where asked.
      await assertWritableOutput(options.grid, options.overwrite);
      const definition = await readModelDefinition(options.model);
      const data = await prepareData(dataDir, {
        chipSize: definition.unet.imageSize,
        downsampleFactor: definition.downsampleFactor,
        valSplitPct: options.valSplitPct,
        seed: definition.training?.seed ?? 0,
        normalization: definition.normalization,
        batchSize: definition.BatchSize,
      });
      const sr = await SuperResolution.fromModel(options.model, data, { resume: false });
      const sampling = { ...samplingFlags(options), preset: options.preset };
      const report = await sr.computeMetrics({ ...sampling, maxChips: options.maxChips });
      await sr.showResults({ ...sampling, rows: options.rows, path: options.grid });
      if (options.record) {
        await sr.recordPreset(options.model, options.record, sr.sampling(options.preset, sampling));
      }
      sr.dispose();
      if (options.json) {
        return printJson({ ...report, grid: options.grid });
      }
      console.log(`${report.chips} validation chips, ${report.sampling}:`);
      const rows: [string, MetricPair][] = [["SR3", report.sr3]];
      if (report.mean) rows.push(["mean", report.mean]);
      rows.push(["bicubic", report.bicubic]);
      for (const line of formatMetricsTable(rows)) console.log(`  ${line}`);
      console.log(`grid: ${options.grid}`);
      if (options.record) {
        console.log(`recorded as the "${options.record}" preset in ${options.model}/model.json`);
      }
    })
  );
