/**
 * Sharded whole-raster upscaling: which rows shard K of N writes, where its part and manifest go, and
 * how K and N come from a scheduler (Slurm job arrays, Kubernetes Indexed Jobs).
 *
 * Shard K of N owns the output rows of low-resolution rows [⌊K·H/N⌋, ⌊(K+1)·H/N⌋) and samples every tile
 * that touches them, neighbours included, so its part equals those rows of a single run (tile noise is
 * seeded by tile position, diffusion/tile_noise.ts). It writes `OUT.parts/part-K-of-N.tif` and then
 * `part-K-of-N.json`, each atomically; the manifest names the input, model, settings and window, and
 * the part's checksum, so `sr3 mosaic` can prove the parts belong together. A rerun of a failed shard
 * removes its old manifest first and rewrites only its own two files.
 * @module
 */
import { createHash } from "node:crypto";
import { DataError, describeError } from "../base/errors.ts";
import { moveIntoPlace, removeQuietly, temporarySibling } from "./files.ts";
import type { RowWindow } from "./tiling.ts";
import { openRaster } from "./raster.ts";
import type { UpscaleSummary } from "./upscale.ts";
import { SR3_VERSION } from "../kernels/version.ts";

/** Shard `index` (0-based, like Kubernetes' JOB_COMPLETION_INDEX) of `count`. */
export interface ShardSpec {
  /** 0 … count − 1. */
  index: number;
  /** Number of shards. */
  count: number;
}

/** The environment variable a Kubernetes Indexed Job sets, and the one sr3 reads its completions from. */
export const K8S_ENV = { index: "JOB_COMPLETION_INDEX", count: "SR3_SHARD_COUNT" } as const;

function wholeNumber(text: string | undefined, what: string): number {
  if (text === undefined || text === "") throw new DataError(`--shard: ${what} is not set`);
  if (!/^\d+$/.test(text.trim())) throw new DataError(`--shard: ${what} is "${text}", not a whole number`);
  return Number(text.trim());
}

function checked(spec: ShardSpec, source: string): ShardSpec {
  if (spec.count < 1) throw new DataError(`--shard ${source}: the shard count must be at least 1`);
  if (spec.index >= spec.count) {
    throw new DataError(`--shard ${source}: index ${spec.index} is not below the count ${spec.count}`);
  }
  return spec;
}

/**
 * Parses `--shard`: "K/N", "slurm" (K = (SLURM_ARRAY_TASK_ID − MIN) / STEP, N from MIN, MAX and STEP,
 * checked against SLURM_ARRAY_TASK_COUNT) or "k8s" (K = JOB_COMPLETION_INDEX, N = SR3_SHARD_COUNT).
 * @param env the environment to read (default the process's)
 * @throws {DataError} naming the missing or inconsistent variable
 */
export function parseShard(text: string, env: Record<string, string> = Deno.env.toObject()): ShardSpec {
  const fraction = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (fraction) return checked({ index: Number(fraction[1]), count: Number(fraction[2]) }, text);
  if (text === "k8s") {
    const index = wholeNumber(
      env[K8S_ENV.index],
      `${K8S_ENV.index} (set by a Job with completionMode: Indexed)`,
    );
    return checked({ index, count: wholeNumber(env[K8S_ENV.count], K8S_ENV.count) }, text);
  }
  if (text === "slurm") {
    const id = wholeNumber(env.SLURM_ARRAY_TASK_ID, "SLURM_ARRAY_TASK_ID (submit with sbatch --array)");
    const min = wholeNumber(env.SLURM_ARRAY_TASK_MIN, "SLURM_ARRAY_TASK_MIN");
    const max = wholeNumber(env.SLURM_ARRAY_TASK_MAX, "SLURM_ARRAY_TASK_MAX");
    const step = env.SLURM_ARRAY_TASK_STEP
      ? wholeNumber(env.SLURM_ARRAY_TASK_STEP, "SLURM_ARRAY_TASK_STEP")
      : 1;
    if (step < 1 || id < min || id > max || (id - min) % step !== 0) {
      throw new DataError(`--shard slurm: task ${id} is not in the array ${min}-${max}:${step}`);
    }
    const count = Math.floor((max - min) / step) + 1;
    if (
      env.SLURM_ARRAY_TASK_COUNT &&
      wholeNumber(env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT") !== count
    ) {
      throw new DataError(
        `--shard slurm: the array ${min}-${max}:${step} has ${count} tasks but SLURM_ARRAY_TASK_COUNT is ` +
          `${env.SLURM_ARRAY_TASK_COUNT}; use a plain range (--array=0-${count - 1})`,
      );
    }
    return { index: (id - min) / step, count };
  }
  throw new DataError(`--shard "${text}": expected K/N (e.g. 0/4), slurm or k8s`);
}

/**
 * The low-resolution rows shard `spec` owns of a raster `height` rows tall.
 * @throws {DataError} when there are more shards than rows
 */
export function shardRows(path: string, height: number, spec: ShardSpec): RowWindow {
  if (spec.count > height) {
    throw new DataError(
      `${path}: ${spec.count} shards of a raster ${height} rows tall; use at most ${height}`,
    );
  }
  return {
    start: Math.floor((spec.index * height) / spec.count),
    end: Math.floor(((spec.index + 1) * height) / spec.count),
  };
}

/** Where shard `spec` of the output `out` writes: `out.parts/part-K-of-N.{tif,json}`. */
export function partPaths(out: string, spec: ShardSpec): { dir: string; tif: string; manifest: string } {
  const dir = `${out}.parts`;
  const name = partName(spec);
  return { dir, tif: `${dir}/${name}.tif`, manifest: `${dir}/${name}.json` };
}

/** "part-K-of-N". */
export function partName(spec: ShardSpec): string {
  return `part-${spec.index}-of-${spec.count}`;
}

/** The manifest of one finished part: what `sr3 mosaic` checks before it joins parts. */
export interface PartManifest {
  /** Always "sr3-part". */
  format: "sr3-part";
  /** Manifest layout version (1). */
  version: 1;
  /** The sr3 that wrote it. */
  sr3: string;
  /** Which shard. */
  shard: ShardSpec;
  /** The low-resolution input. */
  input: { path: string; sha256: string; width: number; height: number };
  /** The model: a checksum of its weights file, and the file. */
  model: { sha256: string; weights: string };
  /** Every setting that changes pixels (sampler, seed, tiling, bands, colour correction), JSON values. */
  settings: Record<string, unknown>;
  /** The part within the whole output, in output (high-resolution) pixels. */
  window: { rows: RowWindow; lowResolutionRows: RowWindow; width: number; height: number };
  /** The part file (next to the manifest) and its checksum. */
  part: { file: string; sha256: string; bytes: number };
}

/** Hex SHA-256 of a file, streamed (inputs may be many gigabytes). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    const file = await Deno.open(path); // its readable closes it at the end
    for await (const chunk of file.readable) hash.update(chunk);
  } catch (error) {
    throw new DataError(`${path}: cannot read it to checksum it (${describeError(error)})`, { cause: error });
  }
  return hash.digest("hex");
}

/** Writes a JSON file atomically (temporary sibling, then rename). */
export async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const temporary = temporarySibling(path);
  try {
    await Deno.writeTextFile(temporary, JSON.stringify(value, null, 2) + "\n");
    await moveIntoPlace(temporary, path);
  } catch (error) {
    await removeQuietly(temporary);
    throw error;
  }
}

/**
 * Before a shard (re)writes its part: makes `out.parts` and removes the shard's old manifest, so a run
 * that dies half-way leaves the shard visibly incomplete rather than an old manifest over a new part.
 */
export async function prepareShardOutput(out: string, spec: ShardSpec): Promise<void> {
  const paths = partPaths(out, spec);
  try {
    await Deno.mkdir(paths.dir, { recursive: true });
  } catch (error) {
    throw new DataError(`${paths.dir}: cannot create the parts folder (${describeError(error)})`, {
      cause: error,
    });
  }
  await removeQuietly(paths.manifest);
}

/** What {@link upscaleShard} needs besides the upscale itself. */
export interface ShardRun {
  /** The low-resolution input. */
  inputPath: string;
  /** The whole output the parts make up (`sr3 mosaic` writes it); parts go to `out.parts/`. */
  out: string;
  /** Which shard. */
  spec: ShardSpec;
  /** Scale factor. */
  factor: number;
  /** The model's weights file (its checksum identifies the model). */
  modelWeights: string;
  /** Every setting that changes pixels, as JSON values. */
  settings: Record<string, unknown>;
}

/** What a shard wrote. */
export interface ShardSummary extends UpscaleSummary {
  /** The manifest next to the part. */
  manifestPath: string;
  /** The shard. */
  shard: ShardSpec;
}

/**
 * Runs one shard: `upscale(partPath, rows)` writes the shard's rows to its part (atomically), then the
 * manifest is written (atomically) with the checksums `sr3 mosaic` verifies.
 */
export async function upscaleShard(
  run: ShardRun,
  upscale: (outputPath: string, rows: RowWindow) => Promise<UpscaleSummary>,
): Promise<ShardSummary> {
  const { inputPath, out, spec, factor } = run;
  const source = await openRaster(inputPath);
  const { width, height } = source;
  await source.close();
  const rows = shardRows(inputPath, height, spec);
  const paths = partPaths(out, spec);
  await prepareShardOutput(out, spec);
  // Checksums first: a shard that cannot read its input or model fails before it samples anything.
  const [inputSha, modelSha] = await Promise.all([fileSha256(inputPath), fileSha256(run.modelWeights)]);
  const summary = await upscale(paths.tif, rows);
  const manifest: PartManifest = {
    format: "sr3-part",
    version: 1,
    sr3: SR3_VERSION,
    shard: spec,
    input: { path: inputPath, sha256: inputSha, width, height },
    model: { sha256: modelSha, weights: run.modelWeights },
    settings: JSON.parse(JSON.stringify(run.settings)),
    window: {
      rows: { start: rows.start * factor, end: rows.end * factor },
      lowResolutionRows: rows,
      width: width * factor,
      height: height * factor,
    },
    part: {
      file: `${partName(spec)}.tif`,
      sha256: await fileSha256(paths.tif),
      bytes: (await Deno.stat(paths.tif)).size,
    },
  };
  await writeJsonAtomically(paths.manifest, manifest);
  return { ...summary, manifestPath: paths.manifest, shard: spec };
}
