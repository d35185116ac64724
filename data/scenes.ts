/**
 * Many scenes in one `sr3 upscale`: inputs given directly or listed in text files, one output per
 * scene in an output folder, and — under a job array — one set of scenes per task, so a scheduler can
 * split a decade of scenes as easily as one large raster.
 * @module
 */
import { basename, dirname, extname, resolve } from "node:path";
import { DataError, describeError } from "../base/errors.ts";
import type { ShardSpec } from "./shard.ts";

/** One scene to upscale. */
export interface SceneJob {
  /** The low-resolution raster. */
  input: string;
  /** Its output GeoTIFF. */
  out: string;
  /** Rows of this one scene to do (a single input under `--shard`); absent: the whole scene. */
  shard?: ShardSpec;
}

/** Whether an argument is a list of inputs rather than a raster: a .txt file. */
export function isInputList(path: string): boolean {
  return extname(path).toLowerCase() === ".txt";
}

/**
 * The rasters a list file names: one path per line, blank lines and `#` comments skipped, relative paths
 * taken from the list's folder (so a list travels with its scenes).
 * @throws {DataError} for an unreadable or empty list
 */
export async function readInputList(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new DataError(`${path}: cannot read the input list (${describeError(error)})`, { cause: error });
  }
  const inputs = text.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter((line) => line !== "")
    .map((line) => resolve(dirname(path), line));
  if (inputs.length === 0) throw new DataError(`${path}: the input list names no rasters`);
  return inputs;
}

/**
 * The scenes of one `sr3 upscale` call. One input: `out` is its output and `shard` splits its rows.
 * Several inputs (or a list): `out` is a folder that receives `<name>.tif` per input, and `shard` K/N
 * takes the scenes at positions K, K + N, K + 2N, … of the list (one-scene-per-task job arrays).
 * @throws {DataError} when two inputs would write the same output, or an output would replace its input
 */
export async function planScenes(
  args: readonly string[],
  out: string,
  shard?: ShardSpec,
): Promise<SceneJob[]> {
  const inputs: string[] = [];
  for (const arg of args) inputs.push(...(isInputList(arg) ? await readInputList(arg) : [arg]));
  if (inputs.length === 1 && !args.some(isInputList)) return [{ input: inputs[0]!, out, shard }];
  const jobs = inputs.map((input) => ({ input, out: `${out}/${basename(input, extname(input))}.tif` }));
  const seen = new Map<string, string>();
  for (const job of jobs) {
    if (resolve(job.out) === resolve(job.input)) {
      throw new DataError(`${job.input}: its output would replace it; choose another --out folder`);
    }
    const other = seen.get(job.out);
    if (other) throw new DataError(`${other} and ${job.input} would both write ${job.out}; rename one`);
    seen.set(job.out, job.input);
  }
  return shard ? jobs.filter((_, i) => i % shard.count === shard.index) : jobs;
}
