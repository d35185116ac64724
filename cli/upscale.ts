/**
 * `sr3 upscale`: super-resolve a whole low-resolution raster with a trained model, tile by tile, into
 * a georeferenced GeoTIFF.
 * @module
 */
import { Command } from "../deps.ts";
import { ProgressLine } from "../report/progress.ts";
import { loadModel } from "../diffusion/super_resolution.ts";
import { parseShard } from "../data/shard.ts";
import { planScenes } from "../data/scenes.ts";
import { DataError } from "../base/errors.ts";
import {
  parseBands,
  parseNonNegativeInt,
  parseNumberIn,
  parsePositiveInt,
  printJson,
  runCommand,
} from "./common.ts";
import {
  presetOption,
  samplerOption,
  samplesOption,
  samplingFlags,
  seedOption,
  startOption,
  stepsOption,
} from "./sampling.ts";

/** The `upscale` command. */
export const upscaleCommand = new Command("upscale")
  .description("super-resolve a whole raster into a georeferenced GeoTIFF (tiles blended, nodata kept)")
  .argument("<lr...>", "low-resolution raster(s) (GeoTIFF, PNG or JPEG), or .txt files listing them")
  .requiredOption("--model <dir>", "(required) trained model directory")
  .requiredOption(
    "--out <out.tif>",
    "(required) output GeoTIFF (refused if it exists, unless --overwrite); with several inputs, a folder",
  )
  .addOption(presetOption())
  .addOption(samplerOption())
  .addOption(stepsOption())
  .addOption(startOption())
  .addOption(samplesOption())
  .option(
    "--uncertainty <std.tif>",
    "also write the per-pixel standard deviation over the samples (--samples ≥ 2)",
  )
  .option("--eta <eta>", "DDIM stochasticity (0 = deterministic)", parseNumberIn({ min: 0, max: 1 }))
  .option(
    "--tile-size <px>",
    "tile side in low-resolution pixels (default: the preset's, else chosen for the raster: 1–4 training chips)",
    parsePositiveInt,
  )
  .option(
    "--padding <px>",
    "tile overlap in low-resolution pixels (default: the model's)",
    parseNonNegativeInt,
  )
  .option(
    "--batch-size <n>",
    "tiles per sampler call (default: as many as fill one sampler run)",
    parsePositiveInt,
  )
  .addOption(seedOption())
  .option("--bands <list>", "1-based input bands (default: all)", parseBands)
  .option(
    "--stretch",
    "map the input's own per-band range to the model's and keep the input's units and data type " +
      "(16-bit or float imagery and a uint8 model)",
  )
  .option("--color-correction", "match each tile's low frequencies to the input (counters colour drift)")
  .option("--overwrite", "replace an existing output")
  .option("--cog", "write a Cloud-Optimized GeoTIFF (512-px tiles, DEFLATE, internal overviews)")
  .option(
    "--shard <K/N|slurm|k8s>",
    "do only shard K of N (0-based) into OUT.parts/ for sr3 mosaic; slurm/k8s read K and N from the job's environment",
  )
  .option("--json", "print a JSON summary")
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 upscale landsat.tif --model models/l8 --out landsat_x4.tif
  $ sr3 upscale scene.tif --model models/naip-x4 --out scene_sr.tif --uncertainty scene_std.tif
  $ sr3 upscale scene.tif --model models/naip-x4 --out scene_sharp.tif --preset perceptual
  $ sr3 upscale scene.tif --model models/naip --out scene_sr.tif --sampling-type dpmpp --sampling-steps 20
  $ sr3 upscale scene.tif --model models/naip --out scene_sr.tif --shard 0/4   (then 1/4 … 3/4, sr3 mosaic)
  $ sr3 upscale scenes.txt --model models/naip --out sr/ --shard slurm   (one set of scenes per array task)

Without sampler flags the model's recommended preset runs (model.json "inference"); flags override it.

Tiles overlap by 2×padding and are cross-faded with a raised-cosine window, so SR3's independent
samples leave no seams. The output keeps the CRS and origin; the pixel size is divided by the model's factor.

Several inputs (or .txt lists, one path per line) write <name>.tif each into the --out folder; --shard
then takes every N-th scene from K. One input under --shard writes rows K of N to OUT.parts/ instead.`,
  )
  .action((inputs, options) =>
    runCommand("upscale", async () => {
      const shard = options.shard === undefined ? undefined : parseShard(options.shard);
      const scenes = await planScenes(inputs, options.out, shard);
      if (options.uncertainty && scenes.length > 1) throw new DataError(`--uncertainty takes a single input`);
      if (scenes.length === 0) {
        return console.log(`shard ${shard!.index}/${shard!.count}: no scenes fall to it`);
      }
      const sr = await loadModel(options.model);
      for (const scene of scenes) {
        const bar: { line: ProgressLine | null } = { line: null };
        const summary = await sr.predict(scene.input, {
          outPath: scene.out,
          ...samplingFlags(options),
          preset: options.preset,
          uncertaintyPath: options.uncertainty,
          tileSize: options.tileSize,
          padding: options.padding,
          batchSize: options.batchSize,
          bands: options.bands,
          colorCorrection: options.colorCorrection,
          overwrite: options.overwrite,
          shard: scene.shard,
          cog: options.cog,
          onWarning: (message) => console.error(`warning: ${message}`),
          stretch: options.stretch,
          onTiles: (done, total) => {
            if (options.json) return;
            bar.line ??= new ProgressLine({ label: "upscale", unit: "tile", total });
            bar.line.update(done);
          },
        });
        bar.line?.finish();
        if (options.json) {
          printJson(summary);
          continue;
        }
        if (summary.manifestPath) console.log(`shard manifest: ${summary.manifestPath}`);
        console.log(
          `wrote ${summary.outputPath}: ${summary.width}×${summary.height}, ${summary.bands} bands ` +
            `(${summary.tiles} tiles, ${summary.skippedTiles} all-nodata tiles skipped; ${summary.sampling})`,
        );
        if (options.uncertainty) console.log(`uncertainty (std over samples): ${options.uncertainty}`);
      }
      sr.dispose();
    })
  );
