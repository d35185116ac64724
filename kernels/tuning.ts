/**
 * The one-time measurement that picks a GEMM family per adapter (`variants.ts`): a probe product
 * is timed in both families and the faster one is used from then on. The choice is remembered per
 * runtime and, optionally, in a JSON file keyed by the adapter's description, so a machine measures
 * once.
 * @module
 */
import { GEMM_FAMILIES, type GemmFamily } from "./gemm.wgsl.ts";
import { matmul } from "./matmul.ts";
import type { Runtime } from "./runtime.ts";
import { setGemmFamily } from "./variants.ts";

/** What {@link tuneGemmFamily} decided and why. */
export interface GemmTuning {
  /** The family now used by the runtime. */
  family: GemmFamily;
  /** Milliseconds per probe product of each family (empty when the choice came from the file). */
  ms: Partial<Record<GemmFamily, number>>;
  /** Whether the families were timed now or the choice was read from the cache file. */
  source: "measured" | "cache";
}

/** Options of {@link tuneGemmFamily}. */
export interface TuningOptions {
  /** JSON file that remembers choices per adapter; `null` to neither read nor write one. */
  cacheFile?: string | null;
  /** Side of the square probe product (default 256). */
  probeSize?: number;
}

/** `$XDG_CACHE_HOME/sr3/kernel-variants.json` (or under `~/.cache`), or null without a home. */
export function defaultTuningCacheFile(): string | null {
  try {
    const base = Deno.env.get("XDG_CACHE_HOME") ?? (Deno.env.get("HOME") && `${Deno.env.get("HOME")}/.cache`);
    return base ? `${base}/sr3/kernel-variants.json` : null;
  } catch {
    return null; // no --allow-env
  }
}

function adapterKey(rt: Runtime): string {
  const { description, vendor, architecture } = rt.adapter;
  return `${description} | ${vendor} | ${architecture}`;
}

async function readCache(file: string): Promise<Record<string, GemmFamily>> {
  try {
    const parsed: unknown = JSON.parse(await Deno.readTextFile(file));
    return parsed && typeof parsed === "object" ? parsed as Record<string, GemmFamily> : {};
  } catch {
    return {}; // missing, unreadable or not permitted: measure instead
  }
}

async function writeCache(file: string, entries: Record<string, GemmFamily>): Promise<void> {
  try {
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, JSON.stringify(entries, null, 2) + "\n");
  } catch {
    // Not permitted or read-only: the choice still holds for this runtime.
  }
}

/**
 * Milliseconds per `call`: the slope between a submit of 1 call and one of 1 + n calls (fastest of
 * three each), n doubled until the long submit lasts ≥ 30 ms so that fast GPUs are resolved too.
 */
async function msPerCall(rt: Runtime, call: () => void): Promise<number> {
  const time = async (calls: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < calls; i++) call();
    await rt.sync();
    return performance.now() - start;
  };
  await time(1);
  let extra = 1;
  while (extra < 256 && await time(1 + extra) < 30) extra *= 2;
  let one = Infinity;
  let many = Infinity;
  for (let r = 0; r < 3; r++) {
    one = Math.min(one, await time(1));
    many = Math.min(many, await time(1 + extra));
  }
  return Math.max(0, (many - one) / extra);
}

/**
 * Chooses the GEMM family for `rt`: from the cache file when it knows this adapter, else by timing
 * a probe product in every family (compiling each family's matmul once). Sets the choice on `rt`.
 */
export async function tuneGemmFamily(rt: Runtime, options: TuningOptions = {}): Promise<GemmTuning> {
  const file = options.cacheFile === undefined ? defaultTuningCacheFile() : options.cacheFile;
  const key = adapterKey(rt);
  const cached = file ? await readCache(file) : {};
  const known = cached[key];
  if (known && GEMM_FAMILIES.includes(known)) {
    setGemmFamily(rt, known);
    return { family: known, ms: {}, source: "cache" };
  }
  const size = options.probeSize ?? 256;
  const operand = (): { buffer: GPUBuffer; shape: number[]; size: number } => ({
    buffer: rt.acquire(size * size * 4),
    shape: [size, size],
    size: size * size,
  });
  const [a, b, out] = [operand(), operand(), operand()];
  const ms: Partial<Record<GemmFamily, number>> = {};
  for (const family of GEMM_FAMILIES) {
    ms[family] = await msPerCall(rt, () => matmul(rt, out, a, b, {}, null, family));
  }
  for (const t of [a, b, out]) rt.release(t.buffer);
  const family = GEMM_FAMILIES.reduce((best, f) => (ms[f]! < ms[best]! ? f : best));
  setGemmFamily(rt, family);
  if (file) await writeCache(file, { ...cached, [key]: family });
  return { family, ms, source: "measured" };
}
