/**
 * `sr3 import-torch`: turn a checkpoint of the PyTorch SR3 reference into an sr3 model directory.
 * @module
 */
import { Command } from "../deps.ts";
import { DataError } from "../base/errors.ts";
import { pathExists } from "../data/files.ts";
import { importTorchCheckpoint } from "../diffusion/import_torch.ts";
import { initRuntime } from "../nn/tensor.ts";
import { parsePositiveInt, printJson, runCommand } from "./common.ts";

/** The `import-torch` command. */
export const importTorchCommand = new Command("import-torch")
  .description("import a PyTorch SR3 reference checkpoint (state dict saved as safetensors)")
  .argument("<weights>", "the reference's *_gen.pth state dict saved as .safetensors")
  .requiredOption(
    "--config <json>",
    "(required) the reference's JSON config (e.g. config/sr_sr3_16_128.json)",
  )
  .requiredOption("--out <dir>", "(required) new sr3 model directory")
  .option(
    "--downsample-factor <n>",
    "HR/LR factor, if the config's datasets section does not give it",
    parsePositiveInt,
  )
  .option("--json", "print a JSON report")
  .addHelpText(
    "after",
    `
Examples:
  $ python3 -c "import torch; from safetensors.torch import save_file; save_file(torch.load('I640000_E37_gen.pth'), 'gen.safetensors')"
  $ sr3 import-torch gen.safetensors --config config/sr_sr3_16_128.json --out models/ffhq-16-128`,
  )
  .action((weights, options) =>
    runCommand("import-torch", async () => {
      if (await pathExists(options.out)) throw new DataError(`${options.out}: output already exists`);
      const rt = await initRuntime();
      const report = await importTorchCheckpoint(weights, options.config, options.out, {
        downsampleFactor: options.downsampleFactor,
      });
      rt.destroy();
      if (options.json) return printJson(report);
      console.log(
        `imported ${report.parameters.toLocaleString("en")} parameters into ${options.out} ` +
          `(schedule buffers checked: ${report.scheduleBuffersChecked.length})`,
      );
    })
  );
