/**
 * The GEMM and conv2d rows of `deno task bench`: the shapes of the engine issue, timed through the
 * kernel dispatchers (packing passes included, as every call pays them).
 * @module
 */
import { conv2d, conv2dBackwardInput, conv2dGeometry } from "../kernels/conv2d.ts";
import { conv2dBackwardWeight } from "../kernels/conv2d_weight_grad.ts";
import { matmul } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";
import type { Runtime } from "../kernels/runtime.ts";
import type { TensorRef } from "../kernels/shapes.ts";
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

/** Milliseconds per call of `c` in sr3 on `rt` (created with a large `flushEvery`). */
export async function timeSr3(rt: Runtime, c: KernelCase, options: SlopeOptions = {}): Promise<number> {
  let call: () => void;
  const owned: TensorRef[] = [];
  const make = (shape: number[]): TensorRef => {
    const ref = buffer(rt, shape, owned.length + 1);
    owned.push(ref);
    return ref;
  };
  if (c.kind === "gemm") {
    const [a, b, out] = [make([c.size, c.size]), make([c.size, c.size]), make([c.size, c.size])];
    call = () => matmul(rt, out, a, b);
  } else {
    const conv = { stride: 1, padding: 1 };
    const x = make([1, c.channels, c.side, c.side]);
    const w = make([c.channels, c.channels, 3, 3]);
    const g = conv2dGeometry(x.shape, w.shape, null, conv);
    const y = make(g.outShape);
    if (c.kind === "conv2d-forward") {
      const bias = make([c.channels]);
      call = () => conv2d(rt, y, x, w, bias, conv);
    } else if (c.kind === "conv2d-input-grad") {
      const dx = make(x.shape as number[]);
      call = () => conv2dBackwardInput(rt, dx, y, w, conv);
    } else {
      const dw = make(w.shape as number[]);
      call = () => conv2dBackwardWeight(rt, dw, y, x, conv);
    }
  }
  const ms = await slopeMs(call, () => rt.sync(), options);
  for (const ref of owned) rt.release(ref.buffer);
  return ms;
}
