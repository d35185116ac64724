/**
 * `sr3 summary`: parameter count and a per-layer table of a model directory, an sr3 UNet config,
 * a PyTorch-reference config, or a preset.
 * @module
 */
import { Command } from "../deps.ts";
import { parseJsonc } from "../deps.ts";
import { DataError, describeError } from "../base/errors.ts";
import { pathExists } from "../data/files.ts";
import { referenceConfig } from "../diffusion/import_torch.ts";
import { readModelDefinition } from "../diffusion/model_dir.ts";
import { initRuntime } from "../nn/tensor.ts";
import {
  PRESET_NAMES,
  type PresetName,
  UNet,
  type UNetConfig,
  unetConfig,
  validateConfig,
} from "../nn/unet.ts";
import { parsePositiveInt, printJson, runCommand } from "./common.ts";

/** Resolves a model directory, a config file or a preset name to a UNet configuration. */
async function resolveConfig(target: string, bands: number, imageSize?: number): Promise<UNetConfig> {
  if ((PRESET_NAMES as readonly string[]).includes(target)) {
    return unetConfig(target as PresetName, { bands, ...(imageSize ? { imageSize } : {}) });
  }
  if ((await pathExists(`${target}/model.json`))) return (await readModelDefinition(target)).unet;
  let json: Record<string, unknown>;
  try {
    json = parseJsonc(await Deno.readTextFile(target));
  } catch (error) {
    throw new DataError(
      `${target}: not a model directory, a preset (${PRESET_NAMES.join(", ")}) or a readable JSON config (${
        describeError(error)
      })`,
    );
  }
  if (json && typeof json === "object" && "model" in json) return referenceConfig(json, target).unet;
  const config = ("unet" in json ? json.unet : json) as UNetConfig;
  try {
    validateConfig(config);
  } catch (error) {
    throw new DataError(`${target}: ${describeError(error)}`);
  }
  return config;
}

/** The `summary` command. */
export const summaryCommand = new Command("summary")
  .description("parameter count and per-layer table of a model, a config, or a preset")
  .argument("<model>", "model directory, model.json / reference config JSON, or a preset name")
  .option("--bands <n>", "bands, for a preset", parsePositiveInt, 3)
  .option("--image-size <n>", "chip size, for a preset", parsePositiveInt)
  .option("--json", "print the summary as JSON")
  .addHelpText(
    "after",
    "\nExamples:\n  $ sr3 summary models/naip\n  $ sr3 summary arcgis --image-size 256\n  $ sr3 summary sr_sr3_16_128.json --json",
  )
  .action((target, options) =>
    runCommand("summary", async () => {
      const config = await resolveConfig(target, options.bands, options.imageSize);
      const rt = await initRuntime();
      const model = UNet.createUninitialized(config);
      const layers = model.summary();
      const parameters = model.parameterCount();
      model.dispose();
      rt.destroy();
      if (options.json) return printJson({ config, parameters, layers });
      console.log(`${config.blockStyle}-style SR3 UNet: ${parameters.toLocaleString("en")} parameters`);
      console.log(
        `inner ${config.innerChannel}, groups ${config.normGroups}, mults [${config.channelMults}], ` +
          `attn [${config.attnRes}], res blocks ${config.resBlocks}, dropout ${config.dropout}, ` +
          `chip ${config.imageSize}, bands ${config.bands}`,
      );
      const rows = layers.map((l) => [
        l.name,
        l.kind,
        `${l.inChannels} → ${l.outChannels}`,
        l.inSize === null ? "—" : `${l.inSize}×${l.inSize} → ${l.outSize}×${l.outSize}`,
        l.parameters.toLocaleString("en"),
      ]);
      const header = ["layer", "kind", "channels", "size", "parameters"];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) =>
        cells.map((c, i) => (i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
      console.log(line(header));
      for (const row of rows) console.log(line(row));
    })
  );
