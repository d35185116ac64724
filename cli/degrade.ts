/**
 * `sr3 degrade`: make the coarser version of a high-resolution raster (antialiased bicubic ×factor, the
 * resampling sr3 trains with), georeferenced, to try a model on a scene whose truth you have.
 * @module
 */
import { Command } from "../deps.ts";
import { writeDegraded } from "../data/holdout.ts";
import { parseBands, parsePositiveInt, parseRegion, printJson, runCommand } from "./common.ts";

/** The `degrade` command. */
export const degradeCommand = new Command("degrade")
  .description(
    "downsample a raster ×factor by antialiased bicubic (as training pairs are made), georeferenced",
  )
  .argument("<hr>", "high-resolution raster")
  .requiredOption("--out <lr.tif>", "(required) output GeoTIFF (refused if it exists, unless --overwrite)")
  .requiredOption("--factor <n>", "(required) downsampling factor, e.g. 4", parsePositiveInt)
  .option("--bands <list>", "1-based bands (default: all)", parseBands)
  .option(
    "--region <x,y,w,h>",
    "only this pixel window (width and height multiples of the factor)",
    parseRegion,
  )
  .option("--overwrite", "replace an existing output")
  .option("--json", "print a JSON summary")
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 degrade naip.tif --factor 4 --out naip_x4_lower.tif
  $ sr3 degrade naip.tif --factor 4 --bands 1,2,3 --region 776,0,156,720 --out heldback_20m.tif

Nodata pixels are left out of the resampling and stay nodata; integer types are rounded back.`,
  )
  .action((hr, options) =>
    runCommand("degrade", async () => {
      const result = await writeDegraded(hr, options.out, {
        factor: options.factor,
        bands: options.bands,
        region: options.region,
        overwrite: options.overwrite,
      });
      const { width, height } = result.region;
      const summary = {
        output: options.out,
        width: width / options.factor,
        height: height / options.factor,
        bands: result.bands,
        region: result.region,
      };
      if (options.json) return printJson(summary);
      console.log(
        `wrote ${options.out}: ${summary.width}×${summary.height}, ${summary.bands} bands ` +
          `(×${options.factor} coarser than ${width}×${height} of ${hr})`,
      );
    })
  );
