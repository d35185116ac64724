/**
 * `sr3 export`: cut a high-resolution GeoTIFF (and optionally a matching low-resolution one) into
 * training chips in the "Export Tiles" layout.
 * @module
 */
import { Command } from "../deps.ts";
import { exportTiles } from "../data/export.ts";
import { ProgressLine } from "../report/progress.ts";
import { parseBands, parseNumberIn, parsePositiveInt, parseRegion, printJson, runCommand } from "./common.ts";

/** The `export` command. */
export const exportCommand = new Command("export")
  .description("cut a high-resolution raster into training chips (images/, labels/, dataset.json)")
  .argument("<hr>", "high-resolution GeoTIFF")
  .requiredOption("--out <dir>", "(required) output folder (must not exist unless --overwrite)")
  .requiredOption(
    "--chip-size <n>",
    "(required) chip size in high-resolution pixels",
    parseNumberIn({ min: 8, integer: true }),
  )
  .option("--lr <lr.tif>", "co-registered low-resolution GeoTIFF; its chips go to labels/")
  .option("--stride <n>", "step between chips (default: chip size)", parsePositiveInt)
  .option("--bands <list>", "1-based bands to export, e.g. 1,2,3 (default: all)", parseBands)
  .option(
    "--max-nodata <fraction>",
    "skip chips with more nodata than this (0–1)",
    parseNumberIn({ min: 0, max: 1 }),
    0.5,
  )
  .option(
    "--region <x,y,w,h>",
    "cut chips only inside this pixel window (e.g. hold the rest back for evaluation)",
    parseRegion,
  )
  .option("--overwrite", "replace an existing output folder")
  .option("--json", "print the summary as JSON")
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 export naip.tif --out chips --chip-size 128
  $ sr3 export naip.tif --lr landsat.tif --out pairs --chip-size 256 --stride 128 --bands 1,2,3
  $ sr3 export naip.tif --out train --chip-size 64 --region 0,0,774,723   # hold the east edge back`,
  )
  .action((hr, options) =>
    runCommand("export", async () => {
      const bar: { line: ProgressLine | null } = { line: null };
      const summary = await exportTiles({
        hrPath: hr,
        lrPath: options.lr,
        outDir: options.out,
        chipSize: options.chipSize,
        stride: options.stride,
        bands: options.bands,
        maxNodata: options.maxNodata,
        region: options.region,
        overwrite: options.overwrite,
        onProgress: (done, total) => {
          if (options.json) return;
          bar.line ??= new ProgressLine({ label: "export", unit: "chip", total });
          bar.line.update(done);
        },
      });
      bar.line?.finish();
      if (options.json) return printJson(summary.manifest);
      const m = summary.manifest;
      console.log(
        `wrote ${m.counts.chips} chips to ${summary.outDir}/images` +
          (m.factor ? ` and labels/ (×${m.factor})` : ""),
      );
      console.log(
        `skipped ${m.counts.skippedNodata} mostly-nodata chips; dataset description: ${summary.outDir}/dataset.json`,
      );
    })
  );
