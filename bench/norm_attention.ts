/**
 * Group norm and self-attention at the UNet size the engine issue names (32×32×128, N = 1), timed
 * as the slope between one submit of 1 call and one submit of 1 + k calls (each synced), so
 * Deno's ~11 ms submit-to-fence round trip cancels out. Run directly or call
 * {@link benchNormAttention} from bench/run.ts.
 * @module
 */
import { Runtime } from "../kernels/runtime.ts";
import type { TensorRef } from "../kernels/shape_math.ts";
import { groupNormBackward, groupNormForward } from "../kernels/group_norm.ts";
import { attentionBackward, attentionFlash, attentionForward } from "../kernels/attention.ts";
import { fillRandom } from "../kernels/random.ts";

/** One timed kernel sequence. */
export interface NormAttentionRow {
  /** What ran, with its shape. */
  name: string;
  /** Milliseconds per call (slope). */
  ms: number;
  /** Bytes the call must move at least (each operand read once, each result written once) / time. */
  gbPerSecond: number;
  /** Useful floating-point work / time (products only; 0 where there are none). */
  gflopPerSecond: number;
}

/** Options of {@link benchNormAttention}. */
export interface NormAttentionOptions {
  /** Extra calls in the long submit (default 8). */
  extraCalls?: number;
  /** Repetitions; the median slope is reported (default 5). */
  repeats?: number;
  /** Channels C (default 128), side H = W (default 32), groups (default 32). */
  channels?: number;
  /** Height and width of the feature map. */
  side?: number;
  /** Group-norm groups. */
  groups?: number;
}

/** A pooled buffer with a tensor's face, for calling the kernel dispatchers directly. */
function buffer(rt: Runtime, shape: number[]): TensorRef {
  const size = shape.reduce((a, b) => a * b, 1);
  return { buffer: rt.acquire(size * 4), shape, size };
}

async function slope(rt: Runtime, call: () => void, extra: number, repeats: number): Promise<number> {
  const timeSubmit = async (calls: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < calls; i++) call();
    await rt.sync();
    return performance.now() - start;
  };
  await timeSubmit(1 + extra); // compile pipelines and fill the texture pool
  const slopes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const one = await timeSubmit(1);
    const many = await timeSubmit(1 + extra);
    slopes.push((many - one) / extra);
  }
  slopes.sort((a, b) => a - b);
  return slopes[Math.floor(slopes.length / 2)]!;
}

/**
 * Times group norm (forward, fused with SiLU, backward) and attention (training forward, backward,
 * online-softmax forward). Creates its own runtime unless one is given (whose batching must allow
 * 1 + k calls per submit: create it with a large `flushEvery`).
 */
export async function benchNormAttention(
  given?: Runtime,
  options: NormAttentionOptions = {},
): Promise<NormAttentionRow[]> {
  const rt = given ?? await Runtime.create({ flushEvery: 100_000 });
  const extra = options.extraCalls ?? 8;
  const repeats = options.repeats ?? 5;
  const c = options.channels ?? 128;
  const side = options.side ?? 32;
  const groups = options.groups ?? 32;
  const l = side * side;
  const rows: NormAttentionRow[] = [];
  const record = async (name: string, call: () => void, bytes: number, flops = 0): Promise<void> => {
    const ms = await slope(rt, call, extra, repeats);
    rows.push({ name, ms, gbPerSecond: bytes / ms / 1e6, gflopPerSecond: flops / ms / 1e6 });
  };
  try {
    const shape = [1, c, side, side];
    const x = buffer(rt, shape);
    const y = buffer(rt, shape);
    const dy = buffer(rt, shape);
    const dx = buffer(rt, shape);
    const gamma = buffer(rt, [c]);
    const beta = buffer(rt, [c]);
    const stats = buffer(rt, [1, groups, 2]);
    const grads = { dx, dGamma: buffer(rt, [c]), dBeta: buffer(rt, [c]), channelSums: buffer(rt, [1, c, 2]) };
    for (const [t, stream] of [[x, 1], [dy, 2], [gamma, 3], [beta, 4]] as const) {
      fillRandom(rt, t, "normal", 1, stream, 0, 1);
    }
    const n = c * l * 4;
    const label = `[1, ${c}, ${side}, ${side}] / ${groups}`;
    await record(
      `groupNorm forward ${label}`,
      () => groupNormForward(rt, y, stats, x, gamma, beta, groups, 1e-5, false),
      2 * n,
    );
    await record(
      `groupNormSilu forward ${label}`,
      () => groupNormForward(rt, y, stats, x, gamma, beta, groups, 1e-5, true),
      2 * n,
    );
    await record(
      `groupNorm backward ${label}`,
      () => groupNormBackward(rt, grads, dy, x, stats, gamma, beta, groups, false),
      3 * n,
    );

    const qkv = buffer(rt, [1, 3 * c, side, side]);
    fillRandom(rt, qkv, "normal", 2, 0, 0, 1);
    const out = buffer(rt, shape);
    const probs = buffer(rt, [1, l, l]);
    const dqkv = buffer(rt, [1, 3 * c, side, side]);
    const rowDot = buffer(rt, [1, l]);
    const products = 2 * l * l * c; // one L×L×C product
    const attention = `L = ${l}, C = ${c}`;
    await record(
      `attention forward (saves P) ${attention}`,
      () => attentionForward(rt, out, probs, qkv),
      4 * (3 * c * l + c * l + l * l),
      2 * products,
    );
    await record(
      `attention backward ${attention}`,
      () => attentionBackward(rt, dqkv, rowDot, dy, qkv, out, probs),
      4 * (3 * c * l + 2 * c * l + l * l + 3 * c * l),
      4 * products,
    );
    await record(
      `attention no-grad (online softmax) ${attention}`,
      () => attentionFlash(rt, out, qkv),
      4 * (3 * c * l + c * l),
      2 * products,
    );
    for (
      const t of [
        x,
        y,
        dy,
        dx,
        gamma,
        beta,
        stats,
        grads.dGamma,
        grads.dBeta,
        grads.channelSums,
        qkv,
        out,
        probs,
        dqkv,
        rowDot,
      ]
    ) {
      rt.release(t.buffer);
    }
  } finally {
    if (!given) rt.destroy();
  }
  return rows;
}

/** Prints rows as an aligned table. */
export function formatNormAttention(rows: readonly NormAttentionRow[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows.map((r) =>
    `${r.name.padEnd(width)}  ${r.ms.toFixed(3).padStart(9)} ms  ${
      r.gbPerSecond.toFixed(2).padStart(7)
    } GB/s` +
    (r.gflopPerSecond > 0 ? `  ${r.gflopPerSecond.toFixed(2).padStart(7)} GFLOP/s` : "")
  ).join("\n");
}

if (import.meta.main) {
  const rt = await Runtime.create({ flushEvery: 100_000 });
  console.log(`adapter: ${rt.adapter.description}`);
  console.log(formatNormAttention(await benchNormAttention(rt)));
  rt.destroy();
}
