import * as ops from "../../nn/ops/elementwise.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { broadcastBinary, map } from "../helpers/reference.ts";
import assert from "node:assert/strict";
import { getRuntime, Tensor } from "../../nn/tensor.ts";
import { ShapeError } from "../../base/errors.ts";
import { collapseBroadcast, unary } from "../../kernels/elementwise.ts";
import { type OperandAccess, setOperandAccess } from "../../kernels/staging.ts";

const ACCESSES: OperandAccess[] = ["texture", "storage"];

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

Deno.test("binary ops broadcast full, per-channel and per-sample, with gradients", gpuTest, async () => {
  // Both operand accesses; 210 outputs end inside a texel.
  for (const access of ACCESSES) {
    await withRuntime(async (rt) => {
      setOperandAccess(rt, access);
      const x = [2, 3, 5, 7];
      const cases: [string, number[], number[]][] = [
        ["full", x, x],
        ["per-channel", x, [1, 3, 1, 1]],
        ["per-sample", x, [2, 1, 1, 1]],
        ["trailing", x, [7]],
        // Rows of 8: one per-channel value serves a whole texel; a trailing row does not.
        ["per-channel, rows of 8", [2, 3, 2, 8], [2, 3, 1, 1]],
        ["per-channel shared by samples, rows of 8", [2, 3, 2, 8], [1, 3, 1, 1]],
        ["per-sample, rows of 8", [2, 3, 2, 8], [2, 1, 1, 1]],
        ["trailing, rows of 8", [2, 3, 2, 8], [8]],
      ];
      const fns = {
        add: [ops.add, (u: number, v: number) => u + v],
        sub: [ops.sub, (u: number, v: number) => u - v],
        mul: [ops.mul, (u: number, v: number) => u * v],
        div: [ops.div, (u: number, v: number) => u / v],
      } as const;
      let seed = 1;
      for (const [opName, [gpu, f]] of Object.entries(fns)) {
        for (const [kind, aShape, bShape] of cases) {
          // Keep divisors (both ways round) away from 0 so finite differences stay well conditioned.
          const [lo, hi] = opName === "div" ? [0.5, 2] : [-1, 1];
          const a = randomHost(aShape, seed++, lo, hi);
          const b = randomHost(bShape, seed++, lo, hi);
          await checkOp(`${access} ${opName} ${kind}`, [a, b], gpu, (p, q) => broadcastBinary(p!, q!, f));
          await checkOp(
            `${access} ${opName} ${kind} swapped`,
            [b, a],
            gpu,
            (p, q) => broadcastBinary(p!, q!, f),
          );
        }
      }
    });
  }
});

Deno.test("addScaled is (a + b)·scale in one pass, broadcasting, with gradients", gpuTest, async () => {
  for (const access of ACCESSES) {
    await withRuntime(async (rt) => {
      setOperandAccess(rt, access);
      let seed = 40;
      for (const bShape of [[2, 3, 5, 7], [1, 3, 1, 1], [2, 3, 1, 1]]) {
        const a = randomHost([2, 3, 5, 7], seed++);
        const b = randomHost(bShape, seed++);
        await checkOp(
          `${access} addScaled ${bShape}`,
          [a, b],
          (p, q) => ops.addScaled(p!, q!, Math.SQRT1_2),
          (p, q) => broadcastBinary(p!, q!, (u, v) => (u + v) * Math.SQRT1_2),
        );
      }
      // Bit for bit what the two-pass mulScalar(add(a, b), s) it replaces computes.
      const a = Tensor.fromArray(randomHost([3, 37], 50).data, [3, 37]);
      const b = Tensor.fromArray(randomHost([3, 37], 51).data, [3, 37]);
      assert.deepEqual(
        await ops.addScaled(a, b, Math.SQRT1_2).read(),
        await ops.mulScalar(ops.add(a, b), Math.SQRT1_2).read(),
      );
    });
  }
});

Deno.test("unary ops and scalar maps match references with gradients", gpuTest, async () => {
  // Both operand accesses; 90 elements end inside a texel.
  for (const access of ACCESSES) {
    await withRuntime(async (rt) => {
      setOperandAccess(rt, access);
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
        await checkOp(`${access} ${name}`, [input], gpu, (p) => map(p!, f));
      }
    });
  }
});

Deno.test("an output buffer without room for its last texel is written float by float", gpuTest, async () => {
  await withRuntime(async () => {
    // Persistent buffers are sized to 4 bytes: 5 floats leave no room for a second whole texel.
    const x = Tensor.fromArray([1, 2, 3, 4, 5], [5]);
    const out = Tensor.empty([5], { persistent: true });
    unary(getRuntime(), "affine", out, x, 2, 1);
    assert.deepEqual([...await out.read()], [3, 5, 7, 9, 11]);
    out.dispose();
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

Deno.test("broadcast layouts merge dimensions both operands step through alike", () => {
  // h [8, 64, 32, 32] + emb [8, 64, 1, 1]: one row of H·W per (sample, channel).
  assert.deepEqual(collapseBroadcast([8, 64, 32, 32], [65536, 1024, 32, 1], [64, 1, 0, 0]), {
    dims: [1, 1, 512, 1024],
    a: [0, 0, 1024, 1],
    b: [0, 0, 1, 0],
  });
  // A bias shared by the samples keeps the sample dimension apart.
  assert.deepEqual(collapseBroadcast([2, 3, 4, 5], [60, 20, 5, 1], [0, 1, 0, 0]), {
    dims: [1, 2, 3, 20],
    a: [0, 60, 20, 1],
    b: [0, 0, 1, 0],
  });
  assert.deepEqual(collapseBroadcast([1, 1, 6, 7], [0, 0, 7, 1], [0, 0, 7, 1]), {
    dims: [1, 1, 1, 42],
    a: [0, 0, 0, 1],
    b: [0, 0, 0, 1],
  });
});
