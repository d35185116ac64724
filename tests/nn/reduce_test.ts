import assert from "node:assert/strict";
import { mean, sum, sumTo } from "../../nn/ops/reduce.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose, checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { sumAxes } from "../helpers/reference.ts";
import { collapseSum } from "../../kernels/reduce.ts";
import { type OperandAccess, setOperandAccess } from "../../kernels/staging.ts";

Deno.test("sum and mean over all axes and per axis, with gradients", gpuTest, async () => {
  // Both operand accesses: rows ([0, 2, 3], [-1]), columns ([0], [0, 1]) and the general kernel ([1]).
  for (const access of ["texture", "storage"] as OperandAccess[]) {
    await withRuntime(async (rt) => {
      setOperandAccess(rt, access);
      const x = randomHost([3, 5, 7, 6], 3);
      const axisSets: (number[] | undefined)[] = [undefined, [0], [1], [3], [0, 2, 3], [1, 2], [-1], [0, 1], [
        2,
        3,
      ]];
      for (const axes of axisSets) {
        for (const keepDims of [false, true]) {
          const norm = axes?.map((a) => (a < 0 ? a + 4 : a));
          const count = norm ? norm.reduce((c, a) => c * x.shape[a]!, 1) : 630;
          await checkOp(
            `${access} sum ${axes} keep=${keepDims}`,
            [x],
            (t) => sum(t, axes, keepDims),
            (p) => sumAxes(p!, norm, keepDims),
          );
          await checkOp(
            `${access} mean ${axes} keep=${keepDims}`,
            [x],
            (t) => mean(t, axes, keepDims),
            (p) => sumAxes(p!, norm, keepDims, 1 / count),
          );
        }
      }
    });
  }
});

Deno.test("sums collapse to [outer, kept, inner] when the kept axes form one block", () => {
  assert.deepEqual(collapseSum([8, 32, 16, 16], [0, 2, 3]), { outer: 8, kept: 32, inner: 256 });
  assert.deepEqual(collapseSum([8, 32, 16, 16], [2, 3]), { outer: 1, kept: 256, inner: 256 });
  assert.deepEqual(collapseSum([5, 300], [0]), { outer: 5, kept: 300, inner: 1 });
  assert.deepEqual(collapseSum([4, 1, 3], [0, 1, 2]), { outer: 1, kept: 1, inner: 12 });
  assert.deepEqual(collapseSum([1, 6, 1, 5], [1]), { outer: 6, kept: 5, inner: 1 });
  assert.equal(collapseSum([2, 3, 4, 5], [1]), null);
});

Deno.test(
  "sums longer than the software adapter's 65535 loop iterations per thread stay exact",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      // 1.1M floats in one output (275k texels: 8 lanes would each loop 34k times), and a column sum of
      // 70k rows (one thread per column would loop 70k times).
      assert.equal((await sum(Tensor.full([1100000], 1)).read())[0], 1100000);
      assert.deepEqual([...await sum(Tensor.full([70000, 4], 0.5), [0]).read()], [
        35000,
        35000,
        35000,
        35000,
      ]);
    });
  },
);

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
