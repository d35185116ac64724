import assert from "node:assert/strict";
import { mean, sum, sumTo } from "../../nn/ops/reduce.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose, checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { sumAxes } from "../helpers/reference.ts";

Deno.test("sum and mean over all axes and per axis, with gradients", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([3, 5, 7, 6], 3);
    const axisSets: (number[] | undefined)[] = [undefined, [0], [1], [3], [0, 2, 3], [1, 2], [-1]];
    for (const axes of axisSets) {
      for (const keepDims of [false, true]) {
        const norm = axes?.map((a) => (a < 0 ? a + 4 : a));
        const count = norm ? norm.reduce((c, a) => c * x.shape[a]!, 1) : 630;
        await checkOp(
          `sum ${axes} keep=${keepDims}`,
          [x],
          (t) => sum(t, axes, keepDims),
          (p) => sumAxes(p!, norm, keepDims),
        );
        await checkOp(
          `mean ${axes} keep=${keepDims}`,
          [x],
          (t) => mean(t, axes, keepDims),
          (p) => sumAxes(p!, norm, keepDims, 1 / count),
        );
      }
    }
  });
});

Deno.test("long sums take the workgroup path and stay exact", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([2, 4, 33, 35], 5);
    await checkOp("per-channel sum", [x], (t) => sum(t, [0, 2, 3]), (p) => sumAxes(p!, [0, 2, 3]), {
      gradInputs: [],
    });
    const ones = Tensor.full([1, 1, 300, 301], 1);
    assert.equal((await sum(ones).read())[0], 90300);
  });
});

Deno.test("sumTo reduces a broadcast back to the operand shape", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([2, 3, 4, 5], 9);
    const t = Tensor.fromArray(Float32Array.from(x.data), x.shape);
    for (const shape of [[1, 3, 1, 1], [2, 1, 1, 1], [5], [4, 1], [2, 3, 4, 5]]) {
      const pad = [...new Array(4 - shape.length).fill(1), ...shape];
      const axes = [0, 1, 2, 3].filter((a) => pad[a] === 1 && x.shape[a] !== 1);
      const reduced = sumTo(t, shape);
      assert.deepEqual([...reduced.shape], shape);
      assertClose(await reduced.read(), sumAxes(x, axes, true).data, 1e-5, `sumTo ${shape}`);
    }
  });
});
