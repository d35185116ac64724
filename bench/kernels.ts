/**
 * The GEMM and conv2d rows of `deno task bench`: the shapes of the engine issue, timed through the
 * kernel dispatchers (packing passes included, as every call pays them).
 * @module
 */
import { conv2d, conv2dGeometry } from "../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../kernels/conv2d_input_grad.ts";
import { conv2dBackwardWeight } from "../kernels/conv2d_weight_grad.ts";
import { matmul } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";
import type { Runtime } from "../kernels/runtime.ts";
import type { TensorRef } from "../kernels/shape_math.ts";
import { slopeMs, type SlopeOptions } from "./timing.ts";

/** A product the benchmark times in sr3 and in tfjs. */
export type KernelCase =
  | { kind: "gemm"; name: string; size: number }
  | {
    kind: "conv2d-forward" | "conv2d-input-grad" | "conv2d-weight-grad";
    name: string;
    channels: number;
    side: number;
  };

/** GEMM 512³ and 1024³; conv2d 3×3 64→64 at 64×64 and 128×128, forward, input-grad and weight-grad. */
export function kernelCases(): KernelCase[] {
  const cases: KernelCase[] = [512, 1024].map((size) => ({ kind: "gemm", name: `GEMM ${size}³`, size }));
  for (const side of [64, 128]) {
    for (
      const [kind, what] of [["conv2d-forward", "forward"], ["conv2d-input-grad", "input-grad"], [
        "conv2d-weight-grad",
        "weight-grad",
      ]] as const
    ) {
      cases.push({ kind, name: `conv2d 3×3 64→64 ${side}×${side} ${what}`, channels: 64, side });
    }
  }
  return cases;
}

/** Floating-point operations of one case (2 per multiply-add). */
export function caseFlops(c: KernelCase): number {
  if (c.kind === "gemm") return 2 * c.size ** 3;
  return 2 * c.channels * c.channels * 9 * c.side * c.side;
}

function buffer(rt: Runtime, shape: number[], seed: number): TensorRef {
  const size = shape.reduce((a, b) => a * b, 1);
  const ref = { buffer: rt.acquire(size * 4), shape, size };
  fillRandom(rt, ref, "normal", seed, 0, 0, 1);
  return ref;
}

/** A case ready to run in sr3: `call` records one call; `release` returns its buffers. */
interface PreparedCase {
  /** Records one call (no wait). */
  call: () => void;
  /** Returns the case's buffers to the pool. */
  release: () => void;
}

/** Allocates random operands for `c` on `rt` and returns the call to time. */
function prepareSr3(rt: Runtime, c: KernelCase): PreparedCase {
  const owned: TensorRef[] = [];
  const make = (shape: number[]): TensorRef => {
    const ref = buffer(rt, shape, owned.length + 1);
    owned.push(ref);
    return ref;
  };
  const release = (): void => owned.forEach((ref) => rt.release(ref.buffer));
  if (c.kind === "gemm") {
    const [a, b, out] = [make([c.size, c.size]), make([c.size, c.size]), make([c.size, c.size])];
    return { call: () => matmul(rt, out, a, b), release };
  }
  const conv = { stride: 1, padding: 1 };
  const x = make([1, c.channels, c.side, c.side]);
  const w = make([c.channels, c.channels, 3, 3]);
  const y = make(conv2dGeometry(x.shape, w.shape, null, conv).outShape);
  if (c.kind === "conv2d-forward") {
    const bias = make([c.channels]);
    return { call: () => conv2d(rt, y, x, w, bias, conv), release };
  }
  if (c.kind === "conv2d-input-grad") {
    const dx = make(x.shape as number[]);
    return { call: () => conv2dBackwardInput(rt, dx, y, w, conv), release };
  }
  const dw = make(w.shape as number[]);
  return { call: () => conv2dBackwardWeight(rt, dw, y, x, conv), release };
}

/** Milliseconds per call of `c` in sr3 on `rt` (created with a large `flushEvery`). */
export async function timeSr3(rt: Runtime, c: KernelCase, options: SlopeOptions = {}): Promise<number> {
  const prepared = prepareSr3(rt, c);
  const ms = await slopeMs(prepared.call, () => rt.sync(), options);
  prepared.release();
  return ms;
}
