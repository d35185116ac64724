/**
 * `sr3 mosaic`: join the parts of a sharded `sr3 upscale --shard` run into a VRT or a Cloud-Optimized
 * GeoTIFF, after checking that they are complete and belong together.
 * @module
 */
import { Command } from "../deps.ts";
import { writeMosaic } from "../data/mosaic.ts";
import { parsePositiveInt, printJson, runCommand } from "./common.ts";

/** The `mosaic` command. */
export const mosaicCommand = new Command("mosaic")
  .description("join the parts of sr3 upscale --shard into a GDAL VRT or a Cloud-Optimized GeoTIFF")
  .argument("<parts>", "the parts folder (OUT.parts, written by sr3 upscale --out OUT --shard K/N)")
  .requiredOption("--out <out.vrt|out.tif>", "(required) .vrt: a VRT over the parts; .tif: a COG")
  .option("--block-size <px>", "COG tile side, a multiple of 16", parsePositiveInt, 512)
  .option("--overwrite", "replace an existing output")
  .option("--json", "print a JSON summary")
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 mosaic scene_sr.tif.parts --out scene_sr.vrt
  $ sr3 mosaic scene_sr.tif.parts --out scene_sr.tif

Every part's manifest must name the same input, model and settings, and the parts must cover the
output rows with no gap or overlap; otherwise the missing or mismatched shards are named and the exit
code is 1, so a scheduler can rerun just those.`,
  )
  .action((parts, options) =>
    runCommand("mosaic", async () => {
      const summary = await writeMosaic(parts, options.out, {
        overwrite: options.overwrite,
        blockSize: options.blockSize,
      });
      if (options.json) return printJson(summary);
      console.log(
        `wrote ${summary.outputPath} (${summary.format === "vrt" ? "VRT" : "Cloud-Optimized GeoTIFF"}): ` +
          `${summary.width}×${summary.height}, ${summary.bands} bands from ${summary.parts} parts`,
      );
    })
  );
