/**
 * Importing checkpoints of the PyTorch SR3 reference (Janspiry/Image-Super-Resolution-via-Iterative-Refinement):
 * its JSON config becomes a `"reference"`-style {@link UNetConfig}, its state dict (saved as
 * safetensors) maps by name onto the UNet after stripping `denoise_fn.`, and the schedule buffers it
 * carries are checked against the schedule the config names.
 * @module
 */
import { type ParseError, parseJsonc, printParseErrorCode } from "../deps.ts";
import { DataError, describeError } from "../base/errors.ts";
import { chooseNormalization } from "../data/normalize.ts";
import { readSafetensors } from "../nn/safetensors.ts";
import { UNet, type UNetConfig } from "../nn/unet.ts";
import { newModelDefinition } from "./model_dir.ts";
import { saveCheckpoint } from "./checkpoints.ts";
import { makeBetaSchedule, SCHEDULE_NAMES, type ScheduleConfig, type ScheduleName } from "./schedule.ts";

/** The reference's schedule buffers: not UNet parameters, checked and dropped on import. */
const SCHEDULE_BUFFERS = new Set([
  "betas",
  "alphas_cumprod",
  "alphas_cumprod_prev",
  "sqrt_alphas_cumprod",
  "sqrt_one_minus_alphas_cumprod",
  "log_one_minus_alphas_cumprod",
  "sqrt_recip_alphas_cumprod",
  "sqrt_recipm1_alphas_cumprod",
  "posterior_variance",
  "posterior_log_variance_clipped",
  "posterior_mean_coef1",
  "posterior_mean_coef2",
]);

const PREFIX = "denoise_fn.";

/** A reference config's model section, as its JSON spells it. */
interface ReferenceConfig {
  model?: {
    unet?: {
      in_channel?: number;
      out_channel?: number;
      inner_channel?: number;
      norm_groups?: number | null;
      channel_multiplier?: number[];
      attn_res?: number[];
      res_blocks?: number;
      dropout?: number;
    };
    beta_schedule?: {
      train?: Partial<Record<"schedule" | "n_timestep" | "linear_start" | "linear_end", unknown>>;
    };
    diffusion?: { image_size?: number };
  };
  datasets?: { train?: { l_resolution?: number; r_resolution?: number } };
}

/**
 * The UNet and schedule a reference JSON config describes. The reference's own defaults apply where
 * keys are absent (`norm_groups` 32, `linear_start` 1e-4, `linear_end` 2e-2).
 * @throws {DataError} naming the file and the missing or invalid key
 */
export function referenceConfig(
  json: unknown,
  source: string,
): { unet: UNetConfig; schedule: ScheduleConfig; downsampleFactor: number | null } {
  const fail = (problem: string): never => {
    throw new DataError(`${source}: ${problem}`);
  };
  const model = (json as ReferenceConfig)?.model;
  const unet = model?.unet;
  if (!unet) fail('has no "model.unet" section (is it a config of the PyTorch SR3 reference?)');
  const need = (key: string, value: unknown): number => {
    if (typeof value !== "number") fail(`"model.unet.${key}" must be a number, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const bands = need("out_channel", unet!.out_channel);
  if (need("in_channel", unet!.in_channel) !== 2 * bands) {
    fail(
      `in_channel ${
        unet!.in_channel
      } must be 2 × out_channel (${bands}): SR3 conditions on the upsampled image`,
    );
  }
  const imageSize = model?.diffusion?.image_size;
  if (typeof imageSize !== "number") fail('"model.diffusion.image_size" must be a number');
  const train = model?.beta_schedule?.train ?? {};
  const scheduleName = train.schedule ?? "linear";
  if (!SCHEDULE_NAMES.includes(scheduleName as ScheduleName)) {
    fail(`unknown schedule ${JSON.stringify(scheduleName)}`);
  }
  return {
    unet: {
      bands,
      innerChannel: need("inner_channel", unet!.inner_channel),
      normGroups: unet!.norm_groups ?? 32,
      channelMults: unet!.channel_multiplier ?? fail('"model.unet.channel_multiplier" is missing'),
      attnRes: unet!.attn_res ?? [],
      resBlocks: need("res_blocks", unet!.res_blocks),
      dropout: unet!.dropout ?? 0,
      imageSize: imageSize!,
      blockStyle: "reference",
    },
    schedule: {
      schedule: scheduleName as ScheduleName,
      nTimestep: Number(train.n_timestep ?? 2000),
      linearStart: Number(train.linear_start ?? 1e-4),
      linearEnd: Number(train.linear_end ?? 2e-2),
    },
    downsampleFactor: resolutionFactor((json as ReferenceConfig).datasets?.train),
  };
}

function resolutionFactor(
  train: { l_resolution?: number; r_resolution?: number } | undefined,
): number | null {
  const low = train?.l_resolution;
  const high = train?.r_resolution;
  if (typeof low !== "number" || typeof high !== "number" || high % low !== 0) return null;
  return high / low;
}

/** What an import did. */
export interface ImportReport {
  /** UNet parameters loaded. */
  parameters: number;
  /** Schedule buffers found and checked against the config. */
  scheduleBuffersChecked: string[];
}

/**
 * Imports a reference checkpoint (state dict as safetensors) and its JSON config into a new sr3 model
 * directory. Missing, unexpected and mis-shaped keys are listed together in one error.
 */
export async function importTorchCheckpoint(
  weightsPath: string,
  configPath: string,
  outDir: string,
  options: { downsampleFactor?: number } = {},
): Promise<ImportReport> {
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch (error) {
    throw new DataError(`${configPath}: cannot read the config (${describeError(error)})`);
  }
  // The reference's configs are JSON with // comments.
  const errors: ParseError[] = [];
  const configJson: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new DataError(
      `${configPath}: not valid JSON (${printParseErrorCode(first.error)} at offset ${first.offset})`,
    );
  }
  const { unet, schedule, downsampleFactor: configFactor } = referenceConfig(configJson, configPath);
  const downsampleFactor = options.downsampleFactor ?? configFactor;
  if (!downsampleFactor) {
    throw new DataError(
      `${configPath}: "datasets.train.l_resolution"/"r_resolution" do not give the downsample factor; pass it explicitly`,
    );
  }
  const tensors = (await readSafetensors(weightsPath)).tensors;
  const weights = new Map<string, { data: Float32Array; shape: number[] }>();
  const checked: string[] = [];
  const betas = makeBetaSchedule(
    schedule.schedule,
    schedule.nTimestep,
    schedule.linearStart,
    schedule.linearEnd,
  );
  for (const [key, value] of tensors) {
    if (SCHEDULE_BUFFERS.has(key)) {
      if (key === "betas") {
        const worst = value.data.reduce((w, v, i) => Math.max(w, Math.abs(v - (betas[i] ?? NaN))), 0);
        if (value.data.length !== betas.length || !(worst <= 1e-6 + 1e-5 * schedule.linearEnd)) {
          throw new DataError(
            `${weightsPath}: its "betas" buffer (${value.data.length} steps) does not match the ${schedule.schedule} ` +
              `schedule of ${configPath} (${betas.length} steps, ${schedule.linearStart} → ${schedule.linearEnd})`,
          );
        }
      }
      checked.push(key);
      continue;
    }
    weights.set(key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key, value);
  }
  const model = UNet.createUninitialized(unet);
  try {
    model.loadParameters(weights, weightsPath);
    const definition = newModelDefinition({
      unet,
      schedule,
      downsampleFactor,
      normalization: chooseNormalization("uint8", unet.bands),
      batchSize: 1,
    });
    await saveCheckpoint(outDir, definition, 0, { weights, ema: null, optimizer: null, state: null });
    return { parameters: model.parameterCount(), scheduleBuffersChecked: checked };
  } finally {
    model.dispose();
  }
}
