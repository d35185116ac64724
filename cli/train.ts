/**
 * `sr3 train`: train an SR3 model on exported chips, with live progress, checkpoints, validation,
 * TensorBoard, and `--resume`.
 * @module
 */
import { Command, Option } from "../deps.ts";
import { pathExists } from "../data/files.ts";
import { DataError } from "../base/errors.ts";
import { DirectoryLock } from "../data/lock.ts";
import { readModelDefinition } from "../diffusion/model_dir.ts";
import { prepareNewRunDirectory } from "../diffusion/checkpoints.ts";
import { SCHEDULE_NAMES } from "../diffusion/schedule.ts";
import { SAMPLER_NAMES } from "../diffusion/samplers/mod.ts";
import { type FormulationKind, FORMULATIONS, PREDICTION_TARGETS } from "../diffusion/formulation.ts";
import { prepareData, SuperResolution } from "../diffusion/super_resolution.ts";
import { configWarnings, PRESET_NAMES, unetConfig } from "../nn/unet.ts";
import {
  parseBands,
  parseIntList,
  parseNonNegativeInt,
  parseNumberIn,
  parsePositiveInt,
  runCommand,
} from "./common.ts";

/** Exit codes after a signal-triggered checkpoint (128 + signal number, as shells report them). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** Options a resumed run takes from its checkpoint, not from the command line. */
const RUN_SETTINGS = new Set([
  "lr",
  "batchSize",
  "chipSize",
  "downsampleFactor",
  "loss",
  "ema",
  "gradClip",
  "seed",
  "preset",
  "blockStyle",
  "innerChannel",
  "normGroups",
  "channelMults",
  "attnRes",
  "resBlocks",
  "dropout",
  "schedule",
  "nTimestep",
  "linearStart",
  "linearEnd",
  "formulation",
  "predictionTarget",
  "minSnrGamma",
  "meanSteps",
  "meanLr",
  "meanFeatures",
  "meanBlocks",
  "initFrom",
]);

/** The `train` command. */
export const trainCommand = new Command("train")
  .description("train an SR3 model on a folder of chips (sr3 export output, or any images)")
  .argument("<data-dir>", "chips: images/ (and labels/) as written by sr3 export")
  .requiredOption("--out <model-dir>", "(required) model directory (checkpoints, model.json, logs)")
  .option("--resume", "continue the run in --out from its last checkpoint")
  .option("--overwrite", "start a new run in an --out that holds another run (its checkpoints are removed)")
  .option("--epochs <n>", "epochs to train (default 1 unless --steps)", parsePositiveInt)
  .option("--steps <n>", "optimizer steps to train (overrides --epochs)", parsePositiveInt)
  .option(
    "--max-minutes <m>",
    "stop with a checkpoint after this many minutes",
    parseNumberIn({ min: 0, minExclusive: true }),
  )
  .option("--lr <rate>", "Adam learning rate", parseNumberIn({ min: 0, minExclusive: true }), 1e-4)
  .option("--batch-size <n>", "chips per step", parsePositiveInt, 4)
  .option(
    "--chip-size <n>",
    "training chip size (default: dataset.json's)",
    parseNumberIn({ min: 8, integer: true }),
  )
  .option("--downsample-factor <n>", "HR/LR factor when there is no labels/ folder", parsePositiveInt)
  .option(
    "--val-split-pct <pct>",
    "percentage of chips held out for validation",
    parseNumberIn({ min: 0, max: 100, maxExclusive: true }),
    10,
  )
  .option("--bands <list>", "1-based bands to train on (default: all)", parseBands)
  .addOption(
    new Option("--preset <name>", "start from a preset's knobs").choices(PRESET_NAMES).default("tiny"),
  )
  .addOption(
    new Option("--block-style <style>", "paper-style or PyTorch-reference blocks").choices([
      "sr3",
      "reference",
    ]),
  )
  .option("--inner-channel <n>", "base channel count", parsePositiveInt)
  .option("--norm-groups <n>", "GroupNorm groups", parsePositiveInt)
  .option("--channel-mults <list>", "channel multiplier per level, e.g. 1,2,4,4,8,8", parseIntList)
  .option("--attn-res <list>", "feature-map sizes that get self-attention, e.g. 16", parseIntList)
  .option("--res-blocks <n>", "residual blocks per level", parsePositiveInt)
  .option(
    "--dropout <p>",
    "dropout in each residual block",
    parseNumberIn({ min: 0, max: 1, maxExclusive: true }),
  )
  .addOption(new Option("--schedule <name>", "noise schedule").choices(SCHEDULE_NAMES).default("linear"))
  .option("--n-timestep <n>", "training noise levels T", parsePositiveInt, 2000)
  .option(
    "--linear-start <beta>",
    "first β of linear-family schedules",
    parseNumberIn({ min: 0, max: 1, minExclusive: true, maxExclusive: true }),
    1e-6,
  )
  .option(
    "--linear-end <beta>",
    "last β of linear-family schedules",
    parseNumberIn({ min: 0, max: 1, minExclusive: true }),
    1e-2,
  )
  .addOption(
    new Option("--formulation <kind>", Object.entries(FORMULATIONS).map(([k, v]) => `${k}: ${v}`).join("; "))
      .choices(Object.keys(FORMULATIONS) as FormulationKind[])
      .default("sr3" as FormulationKind),
  )
  .addOption(
    new Option("--prediction-target <t>", "what the UNet predicts (default eps for sr3, v for residual)")
      .choices(PREDICTION_TARGETS),
  )
  .option(
    "--min-snr-gamma <g>",
    "Min-SNR-γ loss weighting (default: none for sr3, 5 for residual)",
    parseNumberIn({ min: 0, minExclusive: true }),
  )
  .option("--init-from <model-dir>", "start the UNet from another model's weights (same knobs; fine-tuning)")
  .option("--mean-steps <n>", "residual: mean-predictor steps before the UNet trains", parsePositiveInt, 2000)
  .option(
    "--mean-lr <rate>",
    "residual: the mean predictor's Adam learning rate",
    parseNumberIn({ min: 0, minExclusive: true }),
    1e-3,
  )
  .option("--mean-features <n>", "residual: mean-predictor feature channels", parsePositiveInt, 32)
  .option("--mean-blocks <n>", "residual: mean-predictor residual blocks", parseNonNegativeInt, 4)
  .addOption(new Option("--loss <kind>", "loss on the prediction").choices(["l1", "l2"]).default("l1"))
  .option("--ema <decay>", "EMA decay of the weights", parseNumberIn({ min: 0, max: 1 }), 0.999)
  .option("--no-ema", "keep no EMA of the weights")
  .option(
    "--grad-clip <norm>",
    "clip the global gradient norm",
    parseNumberIn({ min: 0, minExclusive: true }),
    1,
  )
  .option("--seed <n>", "seed of initialisation, noise, data order", parseNonNegativeInt, 0)
  .option("--tensorboard <logdir>", "write TensorBoard event files here")
  .option("--log-every <n>", "read the loss and log every n steps", parsePositiveInt, 10)
  .option("--checkpoint-every <n>", "checkpoint every n steps", parsePositiveInt, 500)
  .option("--keep-checkpoints <n>", "checkpoints kept on disk (newest)", parsePositiveInt, 2)
  .option(
    "--validate-every <n>",
    "validate (PSNR/SSIM, grid PNG) every n steps; 0 = never",
    parseNonNegativeInt,
    1000,
  )
  .addOption(
    new Option("--sampling-type <name>", "sampler for validation (default: the model's default preset)")
      .choices(SAMPLER_NAMES),
  )
  .option("--sampling-steps <n>", "sampler steps for validation (with --sampling-type)", parsePositiveInt, 50)
  .addHelpText(
    "after",
    `
Examples:
  $ sr3 train chips --out models/naip --preset tiny --steps 2000 --tensorboard runs/naip
  $ sr3 train chips --out models/naip --resume --steps 1000
  $ sr3 train chips --out models/naip-res --formulation residual --mean-steps 3000 --steps 5000
  $ sr3 train pairs --out models/l8 --preset sr3-64-512 --chip-size 256 --epochs 200 --lr 1e-5

Ctrl-C (or SIGTERM) finishes the current step, writes a checkpoint and exits 130 (143); --resume continues.`,
  )
  .action((dataDir, options, command) =>
    runCommand("train", async () => {
      // Held for the whole command (fit() shares it): a second run into --out is refused at once.
      const lock = await DirectoryLock.acquire(options.out, "sr3 train");
      const hasModel = await pathExists(`${options.out}/model.json`);
      let sr: SuperResolution;
      if (options.resume) {
        if (!hasModel) throw new DataError(`${options.out}: no model.json to resume from`);
        const ignored = command.options
          .filter((o) =>
            RUN_SETTINGS.has(o.attributeName()) && command.getOptionValueSource(o.attributeName()) === "cli"
          )
          .map((o) => o.long);
        if (ignored.length > 0) {
          console.error(
            `warning: ${ignored.join(", ")} ignored: --resume continues with the checkpoint's settings`,
          );
        }
        const definition = await readModelDefinition(options.out);
        const data = await prepareData(dataDir, {
          chipSize: definition.unet.imageSize,
          downsampleFactor: definition.downsampleFactor,
          valSplitPct: options.valSplitPct,
          seed: definition.training?.seed ?? options.seed,
          bands: options.bands,
          normalization: definition.normalization,
          batchSize: definition.training?.batchSize ?? options.batchSize,
        });
        sr = await SuperResolution.fromModel(options.out, data, { resume: true });
        console.error(`resuming ${options.out} at step ${definition.training?.step ?? 0}`);
      } else {
        await prepareNewRunDirectory(options.out, options.overwrite);
        const data = await prepareData(dataDir, {
          chipSize: options.chipSize,
          downsampleFactor: options.downsampleFactor,
          valSplitPct: options.valSplitPct,
          seed: options.seed,
          bands: options.bands,
          batchSize: options.batchSize,
        });
        const knobs = {
          blockStyle: options.blockStyle as "sr3" | "reference" | undefined,
          innerChannel: options.innerChannel,
          normGroups: options.normGroups,
          channelMults: options.channelMults,
          attnRes: options.attnRes,
          resBlocks: options.resBlocks,
          dropout: options.dropout,
        };
        for (
          const warning of configWarnings(unetConfig(options.preset, { imageSize: data.dataset.chipSize }))
        ) {
          if (!knobs.attnRes) console.error(`warning: ${warning}`);
        }
        sr = await SuperResolution.create(data, {
          preset: options.preset,
          ...knobs,
          schedule: options.schedule,
          nTimestep: options.nTimestep,
          linearStart: options.linearStart,
          linearEnd: options.linearEnd,
          seed: options.seed,
          formulation: options.formulation,
          predictionTarget: options.predictionTarget,
          minSnrGamma: options.minSnrGamma,
          meanNet: { features: options.meanFeatures, blocks: options.meanBlocks },
          initFrom: options.initFrom,
        });
        const d = sr.definition;
        if (sr.meanNet) {
          console.error(
            `residual formulation: a ${sr.meanNet.parameterCount().toLocaleString("en")}-parameter mean ` +
              `predictor trains for ${options.meanSteps} steps first, then the UNet diffuses HR − mean`,
          );
        }
        console.error(
          `training ${d.unet.blockStyle}-style SR3 (${options.preset} preset, ${
            sr.model.parameterCount().toLocaleString("en")
          } ` +
            `parameters) on ${data.dataset.trainNames.length} chips of ${d.unet.imageSize} px, ×${d.downsampleFactor}; ` +
            `${data.dataset.valNames.length} held out for validation`,
        );
      }
      const result = await sr.fit(options.epochs, {
        outDir: options.out,
        steps: options.steps,
        meanSteps: options.meanSteps,
        meanLr: options.meanLr,
        maxSeconds: options.maxMinutes === undefined ? undefined : options.maxMinutes * 60,
        lr: options.lr,
        loss: options.loss as "l1" | "l2",
        emaDecay: options.ema === false ? null : options.ema,
        gradClip: options.gradClip,
        seed: options.seed,
        tensorboard: options.tensorboard,
        logEvery: options.logEvery,
        checkpointEvery: options.checkpointEvery,
        keepCheckpoints: options.keepCheckpoints,
        validateEvery: options.validateEvery,
        validationSampling: options.samplingType
          ? { samplingType: options.samplingType, samplingSteps: options.samplingSteps }
          : undefined,
      });
      console.error(
        `step ${result.step}: ${result.stopped}; checkpoint in ${options.out}/${sr.definition.checkpoint}` +
          (result.loss !== null ? `, smoothed loss ${result.loss.toFixed(4)}` : ""),
      );
      sr.dispose();
      lock.release();
      if (result.stopped === "SIGINT" || result.stopped === "SIGTERM") Deno.exit(SIGNAL_EXIT[result.stopped]);
      if (result.stopped === "non-finite") Deno.exit(1);
    })
  );
