/**
 * Checkpoints of a model directory (see `model_dir.ts` for the layout): written into a temporary folder
 * and renamed into place, then model.json is pointed at them, then older checkpoints of the same run are
 * pruned; a diverged run rolls model.json back to its last finite checkpoint. Also reads them back, for
 * resuming and for inference.
 * @module
 */
import { DataError, describeError, describeFileSystemError, fileSystemError } from "../base/errors.ts";
import {
  ensureParentDir,
  moveIntoPlace,
  pathExists,
  removeQuietly,
  temporarySibling,
} from "../data/files.ts";
import type { Tensor } from "../nn/tensor.ts";
import { decodeSafetensors, encodeSafetensors, type NamedArray } from "../nn/safetensors.ts";
import type { Module } from "../nn/module.ts";
import type { TrainingStage } from "./fit.ts";
import {
  fail,
  type ModelDefinition,
  readModelDefinition,
  writeAtomic,
  writeModelDefinition,
} from "./model_dir.ts";

/** What a checkpoint holds. */
export interface CheckpointContents {
  /** Model weights by parameter name. */
  weights: Map<string, NamedArray>;
  /** EMA weights by parameter name, if kept. */
  ema: Map<string, NamedArray> | null;
  /** Optimizer tensors (`m.<param>`, `v.<param>`), if saved. */
  optimizer: Map<string, NamedArray> | null;
  /** Trainer state (JSON), if saved. */
  state: Record<string, unknown> | null;
}

/** The folder name of the checkpoint at `step` (mean-predictor checkpoints of residual models: `mean-step-…`). */
export function checkpointName(step: number, stage: TrainingStage = "diffusion"): string {
  return `checkpoints/${stage === "mean" ? "mean-" : ""}step-${String(step).padStart(8, "0")}`;
}

/** Checkpoint folders in training order: a residual model's mean stage comes before its diffusion stage. */
function checkpointOrder(name: string): number {
  const match = /^(mean-)?step-(\d{8})$/.exec(name);
  return match ? (match[1] ? 0 : 1e9) + Number(match[2]) : -1;
}

/** Host copies of a module's parameters (or of a name → tensor map), by name (one readback for all). */
export async function readParameters(
  model: Module | ReadonlyMap<string, Tensor>,
): Promise<Map<string, NamedArray>> {
  const named = [...("namedParameters" in model ? model.namedParameters() : model)];
  const values = await Promise.all(named.map(([, t]) => t.read()));
  return new Map(named.map(([name, t], i) => [name, { data: values[i]!, shape: [...t.shape] }]));
}

/**
 * Writes a checkpoint folder atomically, points model.json at it, then prunes all but the newest
 * `keep` checkpoints. Returns the checkpoint's relative path.
 */
export async function saveCheckpoint(
  dir: string,
  definition: ModelDefinition,
  step: number,
  contents: CheckpointContents,
  keep = 2,
  stage: TrainingStage = "diffusion",
): Promise<string> {
  const name = checkpointName(step, stage);
  const target = `${dir}/${name}`;
  const broken = nonFiniteTensor(contents);
  if (broken) {
    throw new DataError(`${target}: not written: ${broken} holds non-finite values (training diverged)`);
  }
  const modelFile = `${name}/${contents.ema ? "ema" : "weights"}.safetensors`;
  const pointing = { ...definition, ModelFile: modelFile, checkpoint: name };
  await ensureParentDir(target);
  const temporary = temporarySibling(target);
  try {
    await Deno.mkdir(temporary, { recursive: true });
    // model.json as it will name this checkpoint, so a later roll-back can point at it again.
    await Deno.writeTextFile(`${temporary}/model.json`, JSON.stringify(pointing, null, 2) + "\n");
    await Deno.writeFile(`${temporary}/weights.safetensors`, encodeSafetensors(contents.weights));
    if (contents.ema) await Deno.writeFile(`${temporary}/ema.safetensors`, encodeSafetensors(contents.ema));
    if (contents.optimizer) {
      await Deno.writeFile(`${temporary}/optimizer.safetensors`, encodeSafetensors(contents.optimizer));
    }
    if (contents.state) {
      await Deno.writeTextFile(`${temporary}/state.json`, JSON.stringify(contents.state, null, 2) + "\n");
    }
    await moveIntoPlace(temporary, target);
    await writeModelDefinition(dir, pointing);
  } catch (error) {
    await removeQuietly(temporary);
    // model.json is replaced atomically and only after the new folder is complete: it still names the
    // previous checkpoint, which nothing here touched.
    const previous = definition.checkpoint
      ? `model.json still names the previous checkpoint (${definition.checkpoint}), which is intact`
      : "no earlier checkpoint exists";
    throw new DataError(
      `${target}: cannot write the checkpoint (${describeFileSystemError(error)}); ${previous}`,
      { cause: error },
    );
  }
  // Prune only this run's lineage: checkpoints before the new one. A folder with a later step is not
  // ours (an older run's), and the new one is what model.json now names.
  const newest = checkpointOrder(name.slice("checkpoints/".length));
  const lineage = (await listCheckpoints(dir)).filter((c) => checkpointOrder(c) <= newest);
  for (const old of lineage.slice(0, Math.max(0, lineage.length - keep))) {
    await removeQuietly(`${dir}/checkpoints/${old}`);
  }
  return name;
}

/** The first weight or EMA tensor with a NaN or ±Inf, as "weights.<name>", or null when all are finite. */
function nonFiniteTensor(contents: CheckpointContents): string | null {
  for (const [kind, tensors] of [["weights", contents.weights], ["ema", contents.ema]] as const) {
    for (const [name, { data }] of tensors ?? []) {
      if (!data.every(Number.isFinite)) return `${kind}.${name}`;
    }
  }
  return null;
}

/**
 * Drops the checkpoints of `stage` from `step` on (their weights gave non-finite losses) and points
 * model.json back at the newest older checkpoint of the lineage, or at none when there is none.
 * Returns the checkpoint model.json now names.
 */
export async function rollBackCheckpoints(
  dir: string,
  step: number,
  stage: TrainingStage = "diffusion",
): Promise<string | null> {
  if (!(await pathExists(`${dir}/model.json`))) return null;
  const from = checkpointOrder(checkpointName(step, stage).slice("checkpoints/".length));
  const all = await listCheckpoints(dir);
  const current = await readModelDefinition(dir);
  const named = current.checkpoint ? checkpointOrder(current.checkpoint.slice("checkpoints/".length)) : -1;
  const lineage = all.filter((c) => checkpointOrder(c) <= named);
  const good = lineage.filter((c) => checkpointOrder(c) < from);
  let fallback: string | null = null;
  for (const candidate of good.reverse()) {
    const snapshot = `${dir}/checkpoints/${candidate}/model.json`;
    if (await pathExists(snapshot)) {
      await writeAtomic(`${dir}/model.json`, await Deno.readFile(snapshot));
      fallback = `checkpoints/${candidate}`;
      break;
    }
  }
  if (!fallback) await writeModelDefinition(dir, { ...current, ModelFile: "", checkpoint: null });
  for (const bad of lineage.filter((c) => checkpointOrder(c) >= from)) {
    await removeQuietly(`${dir}/checkpoints/${bad}`);
  }
  return fallback;
}

/** The checkpoint folders in `dir`/checkpoints (sr3's names only), in training order. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${dir}/checkpoints`)) {
      if (entry.isDirectory && checkpointOrder(entry.name) >= 0) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw fileSystemError(`${dir}/checkpoints`, "list the checkpoints", error);
  }
  return names.sort((a, b) => checkpointOrder(a) - checkpointOrder(b));
}

/**
 * Makes `dir` ready for a new training run: a directory holding another run's model.json or checkpoints
 * is refused unless `overwrite`, which removes exactly those (sr3's own files), nothing else.
 * @throws {DataError} naming the directory and what it holds
 */
export async function prepareNewRunDirectory(dir: string, overwrite = false): Promise<void> {
  const checkpoints = await listCheckpoints(dir);
  const hasModel = await pathExists(`${dir}/model.json`);
  if (checkpoints.length === 0 && !hasModel) return;
  if (!overwrite) {
    const what = checkpoints.length > 0
      ? `${checkpoints.length} checkpoint(s) of another run (${checkpoints.at(-1)})`
      : "another model's model.json";
    throw new DataError(
      `${dir}: holds ${what}; pass --resume to continue it, --overwrite to replace it, or choose another --out`,
    );
  }
  await removeQuietly(`${dir}/model.json`);
  for (const name of checkpoints) await removeQuietly(`${dir}/checkpoints/${name}`);
}

async function readTensors(path: string): Promise<Map<string, NamedArray>> {
  try {
    return decodeSafetensors(await Deno.readFile(path), path).tensors;
  } catch (error) {
    if (error instanceof DataError) throw error;
    return fail(path, `cannot read (${describeError(error)})`);
  }
}

/** Reads the weights inference should use (model.json's ModelFile). */
export async function readInferenceWeights(
  dir: string,
  definition: ModelDefinition,
): Promise<Map<string, NamedArray>> {
  if (!definition.ModelFile) {
    fail(`${dir}/model.json`, "names no weights (no good checkpoint was written); train the model first");
  }
  return await readTensors(`${dir}/${definition.ModelFile}`);
}

/** Reads everything in model.json's current checkpoint (for resuming). */
export async function readCheckpoint(dir: string, definition: ModelDefinition): Promise<CheckpointContents> {
  if (!definition.checkpoint) fail(`${dir}/model.json`, "names no checkpoint to resume from");
  const base = `${dir}/${definition.checkpoint}`;
  const optional = async <T>(path: string, read: (p: string) => Promise<T>): Promise<T | null> =>
    (await pathExists(path)) ? await read(path) : null;
  return {
    weights: await readTensors(`${base}/weights.safetensors`),
    ema: await optional(`${base}/ema.safetensors`, readTensors),
    optimizer: await optional(`${base}/optimizer.safetensors`, readTensors),
    state: await optional(`${base}/state.json`, async (p) => {
      try {
        return JSON.parse(await Deno.readTextFile(p)) as Record<string, unknown>;
      } catch (error) {
        return fail(p, `is not valid JSON (${describeError(error)})`);
      }
    }),
  };
}
