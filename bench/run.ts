/**
 * `deno task bench`: sr3's kernels timed on this machine's adapter, side by side with
 * tfjs-backend-webgpu on the same adapter, as one table. Every row is the slope between a submit of
 * 1 call and a submit of 1 + k calls (`timing.ts`), so Deno's ~11 ms fence round trip is excluded.
 *
 *     deno task bench [--only <text>] [--no-tfjs] [--repeats <n>] [--rounds <n>]
 *
 * Sections are lists of {@link BenchRow}; a new section (group norm, attention, the model's
 * training step, samplers) is a function returning rows, appended to `sections` below.
 * @module
 */
import { Runtime } from "../kernels/runtime.ts";
import { tuneGemmFamily } from "../kernels/tuning.ts";
import { caseFlops, kernelCases, timeSr3 } from "./kernels.ts";
import { initTfjs, timeTfjs } from "./tfjs.ts";

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

interface Args {
  only: string | null;
  tfjs: boolean;
  repeats: number;
  rounds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: null, tfjs: true, repeats: 3, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--only") args.only = argv[++i] ?? null;
    else if (argv[i] === "--no-tfjs") args.tfjs = false;
    else if (argv[i] === "--repeats") args.repeats = Number(argv[++i]);
    else if (argv[i] === "--rounds") args.rounds = Number(argv[++i]);
    else {
      throw new Error(
        `bench: unknown argument ${argv[i]} (use --only <text>, --no-tfjs, --repeats <n>, --rounds <n>)`,
      );
    }
  }
  return args;
}

/** GEMM and conv2d in sr3 and, unless disabled, tfjs-backend-webgpu. */
async function kernelSection(rt: Runtime, args: Args): Promise<BenchSection> {
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

const args = parseArgs(Deno.args);
// One submit must hold 1 + k calls, so the runtime must not flush on its own; and the kernel rows
// time kernels, not texture allocation, so released packed operands stay cached between calls.
const rt = await Runtime.create({ flushEvery: 100_000, textureCacheBytes: 256 * 2 ** 20 });
const a = rt.adapter;
console.log(
  `adapter: ${a.description || "(no description)"} — vendor ${a.vendor}${a.isSoftware ? ", software" : ""}`,
);
const tuning = await tuneGemmFamily(rt);
const probe = Object.entries(tuning.ms).map(([f, ms]) => `${f} ${ms.toFixed(2)} ms`).join(", ");
console.log(
  `GEMM family: ${tuning.family} (${
    tuning.source === "cache" ? "from the tuning cache" : `256³ probe: ${probe}`
  })\n`,
);
const sections = [await kernelSection(rt, args)];
for (const section of sections) printSection(section);
rt.destroy();
