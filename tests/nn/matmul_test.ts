import assert from "node:assert/strict";
import { ShapeError } from "../../base/errors.ts";
import { linear, matmul } from "../../nn/ops/matmul.ts";
import { Tensor } from "../../nn/tensor.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { linearReference, matmulReference } from "../helpers/gemm_reference.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

Deno.test("matmul forward and gradients: transposes, batches and a shared 2-D operand", gpuTest, async () => {
  await withRuntime(async () => {
    const cases: [string, number[], number[], boolean, boolean][] = [
      ["A·B", [5, 7], [7, 3], false, false],
      ["Aᵀ·B", [7, 5], [7, 3], true, false],
      ["A·Bᵀ", [5, 7], [3, 7], false, true],
      ["Aᵀ·Bᵀ", [7, 5], [3, 7], true, true],
      ["batched", [2, 5, 6], [2, 6, 3], false, false],
      ["shared A", [5, 6], [2, 6, 3], false, false],
      ["shared Bᵀ", [2, 6, 5], [3, 6], true, true],
    ];
    let seed = 1;
    for (const [name, aShape, bShape, transA, transB] of cases) {
      await checkOp(
        `matmul ${name}`,
        [randomHost(aShape, seed++), randomHost(bShape, seed++)],
        (a, b) => matmul(a!, b!, { transA, transB }),
        (a, b) => matmulReference(a!, b!, transA, transB),
      );
    }
  });
});

Deno.test("linear forward and gradients for input, weight and bias", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([3, 5], 21);
    const w = randomHost([6, 5], 22);
    const b = randomHost([6], 23);
    await checkOp(
      "linear",
      [x, w, b],
      (p, q, r) => linear(p!, q!, r!),
      (p, q, r) => linearReference(p!, q!, r!),
    );
    await checkOp("linear without bias", [x, w], (p, q) => linear(p!, q!), (p, q) => linearReference(p!, q!));
  });
});

Deno.test("matmul and linear reject mismatched shapes before queueing work", gpuTest, async () => {
  await withRuntime((rt) => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4, 5]);
    const batchedA = Tensor.zeros([2, 2, 3]);
    const batchedB = Tensor.zeros([3, 3, 4]);
    const before = rt.counters().dispatches;
    assert.throws(
      () => matmul(a, b),
      (e: unknown) => e instanceof ShapeError && /\[2, 3\].*\[4, 5\]/.test(e.message),
    );
    assert.throws(
      () => matmul(batchedA, batchedB),
      (e: unknown) => e instanceof ShapeError && /\[2, 2, 3\].*\[3, 3, 4\]/.test(e.message),
    );
    assert.throws(
      () => linear(a, b),
      (e: unknown) => e instanceof ShapeError && /\[2, 3\].*\[4, 5\]/.test(e.message),
    );
    assert.equal(rt.counters().dispatches, before);
  });
});
