/**
 * `sr3 metrics`: quality of a raster against its high-resolution reference: PSNR and SSIM computed as
 * published SR3 numbers are, SAM, and with the scale factor ERGAS and the high-frequency energy ratio;
 * optionally with the bicubic upsampling of the low-resolution input as a baseline row.
 * @module
 */
import { basename } from "node:path";
import { Command, InvalidArgumentError } from "../deps.ts";
import { rasterMetrics } from "../data/metrics.ts";
import { type MetricPair, metricPair } from "../diffusion/evaluate.ts";
import { formatMetricsTable, parseBands, parseNumber, printJson, runCommand } from "./common.ts";

/** Parses the scale factor: a number ≥ 1 (need not be an integer, e.g. 10 m → 4 m is 2.5). */
function parseFactor(value: string): number {
  const factor = parseNumber(value);
  if (factor < 1) throw new InvalidArgumentError(`"${value}" is not a scale factor (a number ≥ 1).`);
  return factor;
}

/** The `metrics` command. */
export const metricsCommand = new Command("metrics")
  .description(
    "Quality of a raster against the high-resolution reference: PSNR and SSIM (uint8, as the SR3 paper " +
      "computes them) and SAM; with the scale factor also ERGAS and the high-frequency energy ratio " +
      "(≈0 blurred, ≈1 the reference's detail, >1 noise)",
  )
  .argument("<a>", "the raster to score (e.g. the super-resolved output)")
  .argument("<b>", "the high-resolution reference of the same size")
  .option("--bands <list>", "1-based bands to compare (default: all)", parseBands)
  .option("--factor <n>", "scale factor (4 for ×4), for ERGAS and the HF ratio", parseFactor)
  .option(
    "--lr <path>",
    "low-resolution input: also score its bicubic upsampling as a baseline (factor from the sizes if no --factor)",
  )
  .option(
    "--json",
    'print {psnr, ssim, sam, ergas, highFrequencyRatio, ..., bicubic} as JSON; identical images have "psnr": "inf"',
  )
  .addHelpText(
    "after",
    "\nExamples:\n" +
      "  $ sr3 metrics sr.tif hr.tif\n" +
      "  $ sr3 metrics sr.tif hr.tif --factor 4\n" +
      "  $ sr3 metrics sr.tif hr.tif --lr lr.tif\n" +
      "  $ sr3 metrics sr.tif hr.tif --lr lr.tif --bands 1,2,3 --json",
  )
  .action((a, b, options) =>
    runCommand("metrics", async () => {
      const result = await rasterMetrics(a, b, options.bands, {
        factor: options.factor,
        lowResolution: options.lr,
      });
      if (options.json) return printJson(result);
      const rows: [string, MetricPair][] = [[basename(a), metricPair(result)]];
      if (result.bicubic) rows.push(["bicubic", metricPair(result.bicubic)]);
      for (const line of formatMetricsTable(rows)) console.log(line);
      const factor = result.factor === undefined ? "" : `, ×${result.factor}`;
      console.log(
        `(against ${basename(b)}: ${result.width}×${result.height}, ${result.bands} bands, ` +
          `${result.scaling}${factor})`,
      );
    })
  );
