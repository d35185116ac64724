/**
 * `sr3 eval`: PSNR/SSIM of SR3 and of plain bicubic on a dataset's validation chips, and a
 * LR | bicubic | SR3 | HR grid (arcgis `compute_metrics()` and `show_results()`).
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { readModelDefinition } from "../diffusion/model_dir.ts";
import { prepareData, SuperResolution } from "../diffusion/super_resolution.ts";
import { parseNonNegativeInt, parseNumber, parsePositiveInt, printJson, runCommand } from "./common.ts";

/** The `eval` command. */
export const evalCommand = new Command("eval")
  .description("PSNR/SSIM of SR3 vs bicubic on validation chips, plus a PNG grid LR | bicubic | SR3 | HR")
  .argument("<data-dir>", "chips (sr3 export output)")
  .requiredOption("--model <dir>", "trained model directory")
  .addOption(
    new Option("--sampling-type <name>", "sampler").choices(["ddim", "ddpm", "dpmpp"]).default("ddim"),
  )
  .option("--n-timestep <n>", "sampler steps (default: 200 for ddim, 20 for dpmpp)", parsePositiveInt)
  .option("--val-split-pct <pct>", "validation share, as when training", parseNumber, 10)
  .option("--max-chips <n>", "score at most this many validation chips", parsePositiveInt)
  .option("--seed <n>", "sampler seed", parseNonNegativeInt, 0)
  .option("--grid <png>", "where to write the grid", "eval_grid.png")
  .option("--rows <n>", "chips in the grid", parsePositiveInt, 4)
  .option("--json", "print the metrics as JSON")
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 eval chips --model models/naip
  $ sr3 eval chips --model models/naip --sampling-type dpmpp --n-timestep 20 --json`,
  )
  .action((dataDir, options) =>
    runCommand("eval", async () => {
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
      const sampling = {
        samplingType: options.samplingType as "ddim" | "ddpm" | "dpmpp",
        nTimestep: options.nTimestep,
        seed: options.seed,
      };
      const report = await sr.computeMetrics({ ...sampling, maxChips: options.maxChips });
      await sr.showResults({ ...sampling, rows: options.rows, path: options.grid });
      sr.dispose();
      if (options.json) return printJson({ ...report, grid: options.grid });
      console.log(`${report.chips} validation chips, ${report.sampling}:`);
      console.log(`  SR3      PSNR ${report.sr3.PSNR.toFixed(2)} dB   SSIM ${report.sr3.SSIM.toFixed(4)}`);
      console.log(
        `  bicubic  PSNR ${report.bicubic.PSNR.toFixed(2)} dB   SSIM ${report.bicubic.SSIM.toFixed(4)}`,
      );
      console.log(`grid: ${options.grid}`);
    })
  );
