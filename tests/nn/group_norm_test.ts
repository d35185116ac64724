import assert from "node:assert/strict";
import { groupNorm, groupNormSilu } from "../../nn/ops/group_norm.ts";
import { silu } from "../../nn/ops/elementwise.ts";
import { Tensor } from "../../nn/tensor.ts";
import { backward } from "../../nn/autodiff.ts";
import { ShapeError } from "../../base/errors.ts";
import { assertClose, checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { groupNormReference } from "../helpers/reference_layers.ts";
import { type OperandAccess, setOperandAccess } from "../../kernels/staging.ts";

const shapes: [number[], number][] = [
  [[2, 6, 5, 7], 3], // odd spatial, 2 channels per group, batch > 1
  [[3, 5, 3, 3], 5], // one channel per group, C not divisible by 4
  [[2, 6, 4, 5], 1], // a single group (layer norm over C·H·W)
  [[1, 4, 17, 19], 2], // groups of 646 floats: ten per lane of the 64-lane workgroup
];

Deno.test("groupNorm matches the float64 reference, gradients for x, gamma and beta", gpuTest, async () => {
  await withRuntime(async () => {
    let seed = 100;
    for (const [shape, groups] of shapes) {
      const c = shape[1]!;
      // An offset mean and a large scale check the statistics are centred (no E[x²] − E[x]²).
      const x = randomHost(shape, seed++, 2, 5);
      const gamma = randomHost([c], seed++, 0.5, 1.5);
      const beta = randomHost([c], seed++);
      await checkOp(
        `groupNorm ${shape} / ${groups}`,
        [x, gamma, beta],
        (a, g, b) => groupNorm(a!, groups, g!, b!),
        (a, g, b) => groupNormReference(a!, g!, b!, groups, 1e-5),
      );
    }
  });
});

Deno.test("groupNormSilu matches the fused reference, with its fused gradient", gpuTest, async () => {
  await withRuntime(async () => {
    let seed = 200;
    for (const [shape, groups] of shapes) {
      const c = shape[1]!;
      const x = randomHost(shape, seed++, -3, 3);
      const gamma = randomHost([c], seed++, 0.5, 1.5);
      const beta = randomHost([c], seed++);
      await checkOp(
        `groupNormSilu ${shape} / ${groups}`,
        [x, gamma, beta],
        (a, g, b) => groupNormSilu(a!, groups, g!, b!),
        (a, g, b) => groupNormReference(a!, g!, b!, groups, 1e-5, true),
      );
    }
  });
});

Deno.test("groupNormSilu equals groupNorm followed by silu", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([2, 8, 6, 6], 5);
    const g = randomHost([8], 6);
    const b = randomHost([8], 7);
    const [tx, tg, tb] = [x, g, b].map((h) => Tensor.fromArray(Float32Array.from(h.data), h.shape));
    const fused = await groupNormSilu(tx!, 4, tg!, tb!).read();
    const composed = await silu(groupNorm(tx!, 4, tg!, tb!)).read();
    assertClose(fused, composed, 1e-6, "fused vs composed");
  });
});

Deno.test("groupNorm statistics stay accurate far from zero", gpuTest, async () => {
  await withRuntime(async () => {
    // Mean 100, spread ±0.1: in f32, E[x²] − E[x]² would lose every digit of the variance (ulp(1e4) ≈ 1e-3
    // against a variance of 3e-3); centred statistics keep x̂ to about ulp(100)/std ≈ 1e-4.
    const x = randomHost([1, 4, 16, 16], 9, 100 - 0.1, 100 + 0.1);
    const gamma = { data: new Float64Array(4).fill(1), shape: [4] };
    const beta = { data: new Float64Array(4), shape: [4] };
    const t = Tensor.fromArray(Float32Array.from(x.data), x.shape);
    const y = groupNorm(t, 2, Tensor.fromArray([1, 1, 1, 1], [4]), Tensor.zeros([4]), 1e-12);
    // The reference sees the same f32-rounded inputs.
    const rounded = { data: Float64Array.from(Float32Array.from(x.data)), shape: x.shape };
    assertClose(await y.read(), groupNormReference(rounded, gamma, beta, 2, 1e-12).data, 1e-3, "offset data");
  });
});

Deno.test("groupNorm rejects groups that do not divide C, before queueing work", gpuTest, async () => {
  await withRuntime((rt) => {
    const x = Tensor.zeros([1, 6, 2, 2]);
    const [five, six] = [Tensor.zeros([5]), Tensor.zeros([6])];
    const before = rt.counters().dispatches;
    assert.throws(() => groupNorm(x, 4, six, six), ShapeError);
    assert.throws(() => groupNorm(x, 3, five, six), /\[6\].*\[5\]/);
    assert.equal(rt.counters().dispatches, before);
  });
});

Deno.test(
  "groupNorm variants (linear textures, storage buffers; texel and float loops) match the reference",
  gpuTest,
  async () => {
    // H·W a multiple of 4 takes the texel loops; rows of 1, 4 and 9 texels against 8-lane workgroups.
    const variantShapes: [number[], number][] = [[[2, 8, 2, 2], 4], [[2, 6, 4, 4], 2], [[1, 4, 6, 6], 1], [
      [2, 3, 5, 3],
      3,
    ]];
    for (const access of ["texture", "storage"] as OperandAccess[]) {
      await withRuntime(async (rt) => {
        setOperandAccess(rt, access);
        let seed = 300;
        for (const [shape, groups] of variantShapes) {
          const c = shape[1]!;
          for (const fused of [false, true]) {
            const x = randomHost(shape, seed++, -2, 4);
            const gamma = randomHost([c], seed++, 0.5, 1.5);
            const beta = randomHost([c], seed++);
            await checkOp(
              `${access} groupNorm${fused ? "Silu" : ""} ${shape} / ${groups}`,
              [x, gamma, beta],
              (a, g, b) => (fused ? groupNormSilu : groupNorm)(a!, groups, g!, b!),
              (a, g, b) => groupNormReference(a!, g!, b!, groups, 1e-5, fused),
            );
          }
        }
      });
    }
  },
);

Deno.test(
  "groupNorm over groups longer than the software adapter's 65535 loop iterations per thread",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      // One group of 2M floats: 8 lanes would each loop 65k times over its 524k texels.
      const shape = [1, 2, 1024, 1024];
      const x = randomHost(shape, 400, -1, 3);
      const ones = { data: new Float64Array(2).fill(1), shape: [2] };
      const zeros = { data: new Float64Array(2), shape: [2] };
      const tx = Tensor.fromArray(Float32Array.from(x.data), shape, { requiresGrad: true });
      const [gamma, beta] = [ones, zeros].map((h) =>
        Tensor.fromArray(Float32Array.from(h.data), [2], { requiresGrad: true })
      );
      const y = groupNorm(tx, 1, gamma!, beta!);
      const rounded = { data: Float64Array.from(Float32Array.from(x.data)), shape };
      assertClose(await y.read(), groupNormReference(rounded, ones, zeros, 1, 1e-5).data, 1e-4, "forward");
      // With ∂L/∂y = 1 every element's gradient cancels (Σ x̂ = 0), and β's gradient counts the pixels:
      // both need every float of the group.
      backward(y, Tensor.full(shape, 1));
      assert.deepEqual([...await beta!.grad!.read()], [1048576, 1048576]);
      const largest = (await tx.grad!.read()).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(largest < 1e-3, `largest |dx| ${largest}`);
    });
  },
);
