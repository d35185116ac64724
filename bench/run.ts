/**
 * `deno task bench`: sr3's kernels timed on this machine's adapter, side by side with
 * tfjs-backend-webgpu on the same adapter, as one table. Every row is the slope between a submit of
 * 1 call and a submit of 1 + k calls (`timing.ts`), so Deno's ~11 ms fence round trip is excluded.
 *
 *     deno task bench [--only <text>] [--no-tfjs] [--no-model] [--no-samplers] [--no-scene] [--json]
 *                     [--repeats <n>] [--rounds <n>]
 *
 * (the task runs `sr3 bench`, whose commander definition in cli/bench.ts is the one parser of these flags)
 *
 * After the kernel table come group norm and attention, the SR3 UNet's training and sampling steps
 * next to PyTorch on the same CPU (when Debian's python3-torch is installed), peak memory of a
 * training step, the samplers' speed and quality on the bundled model, and whole-raster upscale
 * throughput (output megapixels per minute) against the 0.1 tiling.
 *
 * Sections are lists of {@link BenchRow}; a new section (group norm, attention, the model's
 * training step, samplers) is a function returning rows, appended to `sections` below.
 * @module
 */
import { Runtime } from "../kernels/runtime.ts";
import { tuneGemmFamily } from "../kernels/tuning.ts";
import { caseFlops, kernelCases, timeSr3 } from "./kernels.ts";
import { benchNormAttention } from "./norm_attention.ts";
import { memoryTable, printTable, samplerTable, type Table } from "./model.ts";
import { stepTable } from "./steps.ts";
import { setRuntime } from "../nn/tensor.ts";
import { sceneTable } from "./scene.ts";

/** One line of the table. */
export interface BenchRow {
  /** What ran, with its shape. */
  name: string;
  /** Floating-point operations per call, when the row is compute-bound. */
  flops?: number;
  /** Bytes moved per call, when the row is memory-bound. */
  bytes?: number;
  /** sr3 milliseconds per call. */
  sr3Ms: number;
  /** tfjs-backend-webgpu milliseconds per call, when it was timed. */
  tfjsMs?: number;
}

/** A titled group of rows. */
export interface BenchSection {
  /** Heading printed above the rows. */
  title: string;
  /** The rows, measured when the section runs. */
  rows: BenchRow[];
}

/** What `deno task bench` / `sr3 bench` runs. */
export interface BenchArgs {
  /** Only kernel cases whose name contains this. */
  only: string | null;
  /** Time tfjs-backend-webgpu too. */
  tfjs: boolean;
  /** Run the model-level tables (steps vs PyTorch, memory). */
  model: boolean;
  /** Run the sampler table on the bundled model. */
  samplers: boolean;
  /** Timings per case and round. */
  repeats: number;
  /** Rounds over all kernel cases. */
  rounds: number;
  /** Run the whole-raster upscale table on the bundled model. */
  scene: boolean;
  /** Print one JSON document with every table instead of text tables. */
  json: boolean;
}

/** Where tables go: printed as text, or collected for one JSON document. */
class Output {
  readonly tables: { title: string; rows: Record<string, string | number>[]; notes?: string[] }[] = [];
  readonly info: string[] = [];
  constructor(readonly json: boolean) {}

  line(text: string): void {
    if (this.json) this.info.push(text);
    else console.log(text);
  }

  table(table: Table): void {
    if (!this.json) return printTable(table);
    const value = (cell: string): string | number => {
      const number = Number(cell.replace(/×$/, ""));
      return cell !== "" && Number.isFinite(number) ? number : cell;
    };
    this.tables.push({
      title: table.title,
      rows: table.rows.map((row) =>
        Object.fromEntries(
          row.map((cell, i) => [table.columns[i] || "case", value(cell)]).filter(([, v]) => v !== ""),
        )
      ),
      notes: table.notes,
    });
  }

  section(section: BenchSection): void {
    if (!this.json) return printSection(section);
    this.tables.push({
      title: section.title,
      rows: section.rows.map((r) => ({
        case: r.name,
        sr3_ms: r.sr3Ms,
        ...(r.flops ? { sr3_gflops: r.flops / r.sr3Ms / 1e6 } : {}),
        ...(r.bytes ? { sr3_gbps: r.bytes / r.sr3Ms / 1e6 } : {}),
        ...(r.tfjsMs ? { tfjs_ms: r.tfjsMs } : {}),
      })),
    });
  }

  finish(): void {
    if (this.json) console.log(JSON.stringify({ info: this.info, tables: this.tables }, null, 2));
  }
}

/** GEMM and conv2d in sr3 and, unless disabled, tfjs-backend-webgpu. */
async function kernelSection(rt: Runtime, args: BenchArgs): Promise<BenchSection> {
  const cases = kernelCases().filter((c) => !args.only || c.name.includes(args.only));
  const rows: BenchRow[] = cases.map((c) => ({ name: c.name, flops: caseFlops(c), sr3Ms: Infinity }));
  // Rounds over all cases, keeping each case's fastest: the machine's speed drifts within minutes,
  // and spreading a case's samples over the run keeps one busy spell from deciding it.
  for (let round = 0; round < args.rounds; round++) {
    for (const [i, c] of cases.entries()) {
      rows[i]!.sr3Ms = Math.min(rows[i]!.sr3Ms, await timeSr3(rt, c, { repeats: args.repeats }));
    }
  }
  if (args.tfjs && cases.length > 0) {
    // Loaded only when asked for: tfjs is a large dependency that `sr3 bench --no-tfjs` never needs.
    const { initTfjs, timeTfjs } = await import("./tfjs.ts");
    await initTfjs();
    // tfjs runs at ~1 GFLOP/s here: one or two extra calls already make a long submit. Each case
    // is timed in sr3 again right after it, so the ratio compares runs minutes apart at most.
    const options = { repeats: Math.min(args.repeats, 3), targetMs: 1000, maxExtra: 2 };
    for (const [i, c] of cases.entries()) {
      rows[i]!.tfjsMs = await timeTfjs(c, options);
      rows[i]!.sr3Ms = Math.min(rows[i]!.sr3Ms, await timeSr3(rt, c, { repeats: args.repeats }));
    }
  }
  return { title: "GEMM and conv2d (3×3, stride 1, padding 1, batch 1)", rows };
}

const fixed = (
  value: number | undefined,
  digits: number,
): string => (value === undefined ? "" : value.toFixed(digits));

function printSection(section: BenchSection): void {
  const header = [section.title, "sr3 ms", "sr3 GFLOP/s", "sr3 GB/s", "tfjs ms", "tfjs GFLOP/s", "sr3/tfjs"];
  const lines = section.rows.map((r) => [
    r.name,
    fixed(r.sr3Ms, 2),
    fixed(r.flops && r.flops / r.sr3Ms / 1e6, 1),
    fixed(r.bytes && r.bytes / r.sr3Ms / 1e6, 1),
    fixed(r.tfjsMs, 1),
    fixed(r.flops && r.tfjsMs && r.flops / r.tfjsMs / 1e6, 2),
    r.tfjsMs ? `${(r.tfjsMs / r.sr3Ms).toFixed(1)}×` : "",
  ]);
  // Columns no row fills are left out.
  const columns = header.map((_, i) => i).filter((i) => i === 0 || lines.some((l) => l[i] !== ""));
  const table = [header, ...lines].map((cells) => columns.map((i) => cells[i]!));
  const widths = columns.map((_, j) => Math.max(...table.map((cells) => cells[j]!.length)));
  for (const cells of table) {
    console.log(cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join("  "));
  }
  console.log();
}

/** Group norm and attention at 32×32×128, as rows of the shared table. */
async function normAttentionSection(rt: Runtime): Promise<BenchSection> {
  const rows = await benchNormAttention(rt);
  return {
    title: "Group norm and attention (32×32×128, N = 1)",
    rows: rows.map((r) => ({
      name: r.name,
      sr3Ms: r.ms,
      bytes: r.gbPerSecond * r.ms * 1e6,
      flops: r.gflopPerSecond > 0 ? r.gflopPerSecond * r.ms * 1e6 : undefined,
    })),
  };
}

/** Runs the benchmark and prints every table. */
export async function runBench(args: BenchArgs): Promise<void> {
  const out = new Output(args.json);
  // One submit must hold 1 + k calls, so the runtime must not flush on its own.
  const rt = await Runtime.create({ flushEvery: 100_000 });
  const a = rt.adapter;
  out.line(
    `adapter: ${a.description || "(no description)"} — vendor ${a.vendor}${a.isSoftware ? ", software" : ""}`,
  );
  const tuning = await tuneGemmFamily(rt);
  const probe = Object.entries(tuning.ms).map(([f, ms]) => `${f} ${ms.toFixed(2)} ms`).join(", ");
  out.line(
    `GEMM family: ${tuning.family} (${
      tuning.source === "cache" ? "from the tuning cache" : `256³ probe: ${probe}`
    })\n`,
  );
  out.section(await kernelSection(rt, args));
  if (args.only !== null) {
    rt.destroy();
    return out.finish();
  }
  out.section(await normAttentionSection(rt));
  rt.destroy();
  if (!args.model && !args.samplers && !args.scene) return out.finish();
  // The model tables run with ordinary batching, like training and sampling do.
  const model = await Runtime.create();
  setRuntime(model);
  await tuneGemmFamily(model);
  const tables: (() => Promise<Table | null>)[] = [];
  if (args.model) tables.push(() => stepTable(model), () => memoryTable(model));
  if (args.samplers) tables.push(() => samplerTable(model));
  if (args.scene) tables.push(() => sceneTable());
  for (const table of tables) {
    const result = await table();
    if (result) out.table(result);
  }
  setRuntime(null);
  model.destroy();
  out.finish();
}
