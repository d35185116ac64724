import assert from "node:assert/strict";
import { dropout } from "../../nn/ops/dropout.ts";
import { Tensor } from "../../nn/tensor.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { philoxUniform } from "../helpers/philox.ts";

Deno.test("dropout keeps and scales exactly the reference mask, with its gradient", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([2, 3, 5, 7], 1);
    const p = 0.3;
    await checkOp("dropout", [x], (t) => dropout(t, p, 77, 4), (h) => ({
      data: h!.data.map((v, i) => (philoxUniform(77, 4, i) >= p ? v / (1 - p) : 0)),
      shape: h!.shape,
    }));
  });
});

Deno.test("dropout drops a fraction p and preserves the mean; p = 0 is the identity", gpuTest, async () => {
  await withRuntime(async () => {
    const n = 1 << 17;
    const ones = Tensor.full([n], 1);
    const y = await dropout(ones, 0.25, 5, 1).read();
    const dropped = y.filter((v) => v === 0).length / n;
    assert.ok(Math.abs(dropped - 0.25) < 5 * Math.sqrt(0.25 * 0.75 / n), `dropped ${dropped}`);
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
    const again = await dropout(ones, 0.25, 5, 1).read();
    assert.deepEqual(again, y);
    assert.equal(dropout(ones, 0, 5), ones);
    assert.throws(() => dropout(ones, 1, 5), RangeError);
  });
});
