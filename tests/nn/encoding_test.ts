import assert from "node:assert/strict";
import { noiseLevelEncoding } from "../../nn/ops/encoding.ts";
import { Tensor } from "../../nn/tensor.ts";
import { ShapeError } from "../../base/errors.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { noiseLevelEncodingReference } from "../helpers/reference_layers.ts";

Deno.test(
  "noiseLevelEncoding matches the SR3 PositionalEncoding, with a gradient in γ",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      for (const [shape, dim] of [[[5], 64], [[3, 1], 10], [[7], 2]] as const) {
        const levels = randomHost([...shape], dim, 0, 1);
        await checkOp(
          `encoding ${shape} → ${dim}`,
          [levels],
          (t) => noiseLevelEncoding(t, dim),
          (h) => noiseLevelEncodingReference(h!, dim),
        );
      }
      // Levels beyond 1 (e.g. integer timesteps) still match in f32.
      const large = randomHost([4], 3, 0, 8);
      await checkOp(
        "encoding of large levels",
        [large],
        (t) => noiseLevelEncoding(t, 32),
        (h) => noiseLevelEncodingReference(h!, 32),
        { gradTol: 5e-3 },
      );
    });
  },
);

Deno.test("noiseLevelEncoding rejects odd dims and matrix levels", gpuTest, async () => {
  await withRuntime(() => {
    assert.throws(() => noiseLevelEncoding(Tensor.zeros([3]), 7), ShapeError);
    assert.throws(() => noiseLevelEncoding(Tensor.zeros([3, 2]), 8), ShapeError);
  });
});
