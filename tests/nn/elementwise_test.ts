import * as ops from "../../nn/ops/elementwise.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { broadcastBinary, map } from "../helpers/reference.ts";
import assert from "node:assert/strict";
import { Tensor } from "../../nn/tensor.ts";
import { ShapeError } from "../../kernels/errors.ts";

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

Deno.test("binary ops broadcast full, per-channel and per-sample, with gradients", gpuTest, async () => {
  await withRuntime(async () => {
    const x = [2, 3, 5, 7];
    const cases: [string, number[]][] = [["full", x], ["per-channel", [1, 3, 1, 1]], ["per-sample", [
      2,
      1,
      1,
      1,
    ]], [
      "trailing",
      [7],
    ]];
    const fns = {
      add: [ops.add, (u: number, v: number) => u + v],
      sub: [ops.sub, (u: number, v: number) => u - v],
      mul: [ops.mul, (u: number, v: number) => u * v],
      div: [ops.div, (u: number, v: number) => u / v],
    } as const;
    let seed = 1;
    for (const [opName, [gpu, f]] of Object.entries(fns)) {
      for (const [kind, bShape] of cases) {
        // Keep divisors (both ways round) away from 0 so finite differences stay well conditioned.
        const [lo, hi] = opName === "div" ? [0.5, 2] : [-1, 1];
        const a = randomHost(x, seed++, lo, hi);
        const b = randomHost(bShape, seed++, lo, hi);
        await checkOp(`${opName} ${kind}`, [a, b], gpu, (p, q) => broadcastBinary(p!, q!, f));
        await checkOp(`${opName} ${kind} swapped`, [b, a], gpu, (p, q) => broadcastBinary(p!, q!, f));
      }
    }
  });
});

Deno.test("unary ops and scalar maps match references with gradients", gpuTest, async () => {
  await withRuntime(async () => {
    const shape = [2, 5, 3, 3];
    const x = randomHost(shape, 11, -2, 2);
    const positive = randomHost(shape, 12, 0.2, 3);
    // Away from the kinks of abs (0) and clamp (±0.5), where finite differences are meaningless.
    const awayFromKinks = map(randomHost(shape, 13), (v) => {
      const m = Math.abs(v) < 0.1 || Math.abs(Math.abs(v) - 0.5) < 0.1 ? v + 0.25 : v;
      return m;
    });
    const cases: [string, typeof x, (t: Tensor) => Tensor, (v: number) => number][] = [
      ["exp", x, ops.exp, Math.exp],
      ["log", positive, ops.log, Math.log],
      ["sqrt", positive, ops.sqrt, Math.sqrt],
      ["abs", awayFromKinks, ops.abs, Math.abs],
      ["square", x, ops.square, (v) => v * v],
      ["silu", x, ops.silu, (v) => v * sigmoid(v)],
      ["sigmoid", x, ops.sigmoid, sigmoid],
      ["clamp", awayFromKinks, (t) => ops.clamp(t, -0.5, 0.5), (v) => Math.min(Math.max(v, -0.5), 0.5)],
      ["affine", x, (t) => ops.affine(t, -1.5, 0.25), (v) => -1.5 * v + 0.25],
      ["addScalar", x, (t) => ops.addScalar(t, 3), (v) => v + 3],
      ["mulScalar", x, (t) => ops.mulScalar(t, 0.5), (v) => v * 0.5],
      ["neg", x, ops.neg, (v) => -v],
    ];
    for (const [name, input, gpu, f] of cases) {
      await checkOp(name, [input], gpu, (p) => map(p!, f));
    }
  });
});

Deno.test("shared subgraphs accumulate gradients once per use", gpuTest, async () => {
  await withRuntime(async () => {
    // y = x·x + x uses x three times; dy/dx = 2x + 1.
    const x = randomHost([3, 4], 21);
    await checkOp("x*x+x", [x], (t) => ops.add(ops.mul(t, t), t), (p) => ({
      data: p!.data.map((v) => v * v + v),
      shape: p!.shape,
    }));
  });
});

Deno.test("mismatched shapes raise ShapeError naming both shapes before queueing work", gpuTest, async () => {
  await withRuntime((rt) => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4, 3]);
    const before = rt.counters().dispatches;
    assert.throws(
      () => ops.add(a, b),
      (e: unknown) => e instanceof ShapeError && /\[2, 3\].*\[4, 3\]/.test(e.message),
    );
    assert.equal(rt.counters().dispatches, before);
  });
});
