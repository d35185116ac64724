/**
 * `sr3 metrics`: PSNR and SSIM of two rasters of equal size, computed as published SR3 numbers are.
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { rasterMetrics } from "../data/metrics.ts";
import { parseBands, printJson, runCommand } from "./common.ts";

/** The `metrics` command. */
export const metricsCommand = new Command("metrics")
  .description("PSNR and SSIM of two rasters of equal size (uint8 RGB as the SR3 paper computes them)")
  .argument("<a>", "first raster (e.g. the super-resolved output)")
  .argument("<b>", "second raster (e.g. the high-resolution reference)")
  .option("--bands <list>", "1-based bands to compare (default: all)", parseBands)
  .option("--json", "print {psnr, ssim, ...} as JSON")
  .addHelpText(
    "after",
    "\nExamples:\n  $ sr3 metrics sr.tif hr.tif\n  $ sr3 metrics sr.tif hr.tif --bands 1,2,3 --json",
  )
  .action((a, b, options) =>
    runCommand("metrics", async () => {
      const result = await rasterMetrics(a, b, options.bands);
      if (options.json) return printJson(result);
      console.log(
        `PSNR ${result.psnr.toFixed(2)} dB   SSIM ${
          result.ssim.toFixed(4)
        }   (${result.width}×${result.height}, ${result.bands} bands)`,
      );
    })
  );
