/**
 * `sr3 metrics`: quality of a raster against its high-resolution reference: PSNR and SSIM computed as
 * published SR3 numbers are, SAM, and with the scale factor ERGAS and the high-frequency energy ratio;
 * optionally with the bicubic upsampling of the low-resolution input as a baseline row.
 * @module
 */
import { basename } from "node:path";
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { type ImageMetrics, rasterMetrics } from "../data/metrics.ts";
import { parseBands, parseNumber, printJson, runCommand } from "./common.ts";

/** Parses the scale factor: a number ≥ 1 (need not be an integer, e.g. 10 m → 4 m is 2.5). */
function parseFactor(value: string): number {
  const factor = parseNumber(value);
  if (factor < 1) throw new InvalidArgumentError(`"${value}" is not a scale factor (a number ≥ 1).`);
  return factor;
}

/** The table's columns: header, how wide, and how a value prints (NaN: undefined, e.g. a black image). */
const COLUMNS: {
  header: string;
  width: number;
  format: (m: ImageMetrics) => number | undefined;
  digits: number;
}[] = [
  { header: "PSNR (dB)", width: 9, format: (m) => m.psnr, digits: 2 },
  { header: "SSIM", width: 6, format: (m) => m.ssim, digits: 4 },
  { header: "SAM (°)", width: 7, format: (m) => m.sam, digits: 2 },
  { header: "ERGAS", width: 6, format: (m) => m.ergas, digits: 2 },
  { header: "HF ratio", width: 8, format: (m) => m.highFrequencyRatio, digits: 3 },
];

function formatValue(value: number, digits: number): string {
  if (Number.isNaN(value)) return "n/a";
  if (value === Infinity) return "inf";
  return value.toFixed(digits);
}

/** One row per scored image, one column per metric that was computed. */
function formatTable(rows: [string, ImageMetrics][]): string[] {
  const columns = COLUMNS.filter((column) => rows.some(([, m]) => column.format(m) !== undefined));
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const line = (label: string, cells: string[]) =>
    [label.padEnd(labelWidth), ...cells.map((cell, i) => cell.padStart(columns[i]!.width))].join("   ");
  return [
    line("", columns.map((column) => column.header)),
    ...rows.map(([label, m]) =>
      line(label, columns.map((column) => formatValue(column.format(m) ?? Number.NaN, column.digits)))
    ),
  ];
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
  .option("--json", "print {psnr, ssim, sam, ergas, highFrequencyRatio, ..., bicubic} as JSON")
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
      const rows: [string, ImageMetrics][] = [[basename(a), result]];
      if (result.bicubic) rows.push(["bicubic", result.bicubic]);
      for (const line of formatTable(rows)) console.log(line);
      const factor = result.factor === undefined ? "" : `, ×${result.factor}`;
      console.log(
        `(against ${basename(b)}: ${result.width}×${result.height}, ${result.bands} bands, ` +
          `${result.scaling}${factor})`,
      );
    })
  );
