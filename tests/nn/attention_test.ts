import assert from "node:assert/strict";
import { selfAttention } from "../../nn/ops/attention.ts";
import { backward, noGrad } from "../../nn/autodiff.ts";
import { Tensor } from "../../nn/tensor.ts";
import { ShapeError } from "../../base/errors.ts";
import { assertClose, checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { attentionBackwardReference, attentionReference } from "../helpers/reference_layers.ts";

Deno.test("selfAttention (training path) matches the reference, with the qkv gradient", gpuTest, async () => {
  await withRuntime(async () => {
    const shapes = [
      [2, 15, 5, 7], // C = 5, L = 35: nothing divisible by 4, batch 2
      [1, 9, 3, 3], // C = 3, L = 9
      [2, 39, 4, 5], // C = 13, L = 20
    ];
    let seed = 1;
    for (const shape of shapes) {
      // Spread ±2 makes the softmax far from uniform, so the gradient is a real test.
      await checkOp(
        `attention ${shape}`,
        [randomHost(shape, seed++, -2, 2)],
        (t) => selfAttention(t!),
        (h) => attentionReference(h!),
      );
    }
  });
});

Deno.test("selfAttention over more tokens than one GEMM tile (L = 140, C = 3)", gpuTest, async () => {
  await withRuntime(async () => {
    // L > 128 spans several 128-wide workgroup tiles of every product, forward and backward
    // (C stays small: the finite differences cost O(C²·L³) on the CPU).
    await checkOp(
      "attention [1, 9, 10, 14]",
      [randomHost([1, 9, 10, 14], 4, -1.5, 1.5)],
      (t) => selfAttention(t!),
      (h) => attentionReference(h!),
    );
  });
});

Deno.test("the qkv gradient matches the closed form where C and L span several tiles", gpuTest, async () => {
  await withRuntime(async () => {
    // C = 136 > 128 and L = 135 > 128: every product has two workgroup tiles along each side.
    const host = randomHost([2, 408, 9, 15], 31, -1, 1);
    const gradOut = randomHost([2, 136, 9, 15], 32);
    const qkv = Tensor.fromArray(Float32Array.from(host.data), host.shape, { requiresGrad: true });
    const out = selfAttention(qkv);
    assertClose(await out.read(), attentionReference(host).data, 1e-4, "forward");
    backward(out, Tensor.fromArray(Float32Array.from(gradOut.data), gradOut.shape));
    assertClose(await qkv.grad!.read(), attentionBackwardReference(host, gradOut).data, 1e-4, "qkv gradient");
  });
});

Deno.test(
  "the no-grad online-softmax path matches the reference for every channel layout",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      // C = 5, 13, 40, 150 and 300 select 1, 1, 4, 16 and 32 channel groups; L = 66 and 150 cross
      // key blocks of 64, L = 35 leaves a partial key quad.
      const cases = [[2, 15, 5, 7], [1, 39, 10, 15], [2, 120, 6, 11], [1, 450, 4, 9], [1, 900, 5, 5]];
      let seed = 10;
      for (const shape of cases) {
        const host = randomHost(shape, seed++, -2, 2);
        const qkv = Tensor.fromArray(Float32Array.from(host.data), shape);
        const out = noGrad(() => selfAttention(qkv, { sampling: "flash" }));
        assertClose(await out.read(), attentionReference(host).data, 1e-4, `flash ${shape}`);
      }
    });
  },
);

Deno.test(
  "training and sampling paths agree at a UNet size (C = 64, 16×16 tokens, batch 2)",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      const host = randomHost([2, 192, 16, 16], 21, -1, 1);
      const qkv = Tensor.fromArray(Float32Array.from(host.data), host.shape, { requiresGrad: true });
      const trained = await selfAttention(qkv).read();
      const flash = await noGrad(() => selfAttention(qkv, { sampling: "flash" })).read();
      const materialized = await noGrad(() => selfAttention(qkv, { sampling: "materialized" })).read();
      const auto = await noGrad(() => selfAttention(qkv)).read();
      assertClose(flash, trained, 1e-5, "flash vs materialised");
      assert.deepEqual(materialized, trained);
      assert.ok(auto.every((v, i) => v === flash[i]) || auto.every((v, i) => v === trained[i]));
      assertClose(trained, attentionReference(host).data, 1e-4, "materialised vs reference");
    });
  },
);

Deno.test("selfAttention rejects qkv whose channels are not 3C", gpuTest, async () => {
  await withRuntime((rt) => {
    const bad = Tensor.zeros([1, 8, 4, 4]);
    const before = rt.counters().dispatches;
    assert.throws(
      () => selfAttention(bad),
      (e: unknown) => e instanceof ShapeError && /\[1, 8, 4, 4\]/.test(e.message),
    );
    assert.equal(rt.counters().dispatches, before);
  });
});
