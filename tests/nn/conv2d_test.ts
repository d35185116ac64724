import assert from "node:assert/strict";
import { ShapeError } from "../../base/errors.ts";
import { conv2d } from "../../nn/ops/conv2d.ts";
import { Tensor } from "../../nn/tensor.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { conv2dReference } from "../helpers/gemm_reference.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

Deno.test(
  "conv2d forward and input, weight and bias gradients against finite differences",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      // Odd spatial sizes, channels not divisible by 4, batch 2, stride 1 and 2, k 1 and 3, padding 0 and 1.
      const cases: [number[], number, number, number, number][] = [
        [[2, 3, 5, 7], 5, 3, 1, 1],
        [[2, 3, 5, 7], 2, 3, 2, 1],
        [[1, 2, 7, 5], 3, 3, 2, 0],
        [[2, 5, 5, 7], 3, 1, 1, 0],
        [[1, 3, 6, 5], 2, 1, 2, 0],
      ];
      let seed = 1;
      for (const [xShape, outChannels, kernel, stride, padding] of cases) {
        const x = randomHost(xShape, seed++);
        const w = randomHost([outChannels, xShape[1]!, kernel, kernel], seed++);
        const b = randomHost([outChannels], seed++);
        await checkOp(
          `conv2d x${JSON.stringify(xShape)} co${outChannels} k${kernel} s${stride} p${padding}`,
          [x, w, b],
          (p, q, r) => conv2d(p!, q!, r!, { stride, padding }),
          (p, q, r) => conv2dReference(p!, q!, r!, stride, padding),
        );
      }
      await checkOp(
        "conv2d without bias",
        [randomHost([1, 2, 5, 7], 40), randomHost([3, 2, 3, 3], 41)],
        (p, q) => conv2d(p!, q!, null, { padding: 1 }),
        (p, q) => conv2dReference(p!, q!, null, 1, 1),
      );
    });
  },
);

Deno.test("conv2d rejects mismatched shapes before queueing work", gpuTest, async () => {
  await withRuntime((rt) => {
    const x = Tensor.zeros([1, 3, 5, 5]);
    const [wrongChannels, weight, wrongBias, tooLarge] = [[4, 2, 3, 3], [4, 3, 3, 3], [5], [4, 3, 7, 7]].map((
      s,
    ) => Tensor.zeros(s)) as [Tensor, Tensor, Tensor, Tensor];
    const before = rt.counters().dispatches;
    assert.throws(
      () => conv2d(x, wrongChannels, null),
      (e: unknown) => e instanceof ShapeError && /\[1, 3, 5, 5\].*\[4, 2, 3, 3\]/.test(e.message),
    );
    assert.throws(
      () => conv2d(x, weight, wrongBias),
      (e: unknown) => e instanceof ShapeError && /\[5\].*\[4, 3, 3, 3\]/.test(e.message),
    );
    assert.throws(
      () => conv2d(x, tooLarge, null),
      (e: unknown) => e instanceof ShapeError && /\[1, 3, 5, 5\].*\[4, 3, 7, 7\]/.test(e.message),
    );
    assert.equal(rt.counters().dispatches, before);
  });
});
