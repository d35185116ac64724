import assert from "node:assert/strict";
import { backward, noGrad } from "../../nn/autodiff.ts";
import { conv2d } from "../../nn/ops/conv2d.ts";
import { groupNormSilu } from "../../nn/ops/group_norm.ts";
import { groupNormSiluConv2d } from "../../nn/ops/norm_conv2d.ts";
import { Tensor, tidy } from "../../nn/tensor.ts";
import type { Runtime } from "../../kernels/runtime.ts";
import { setGemmFamily } from "../../kernels/variants.ts";
import { assertClose, checkOp, type HostTensor, randomHost } from "../helpers/check.ts";
import { conv2dReference } from "../helpers/gemm_reference.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { groupNormReference } from "../helpers/reference_layers.ts";

/** [x shape, groups, Cout, kernel, bias]: the first two take the fused path, the last two cannot. */
const cases: [number[], number, number, number, boolean][] = [
  [[2, 8, 6, 8], 2, 5, 3, true], // 3×3 "same", W a multiple of 4, 4 channels per group
  [[2, 16, 4, 4], 2, 6, 1, false], // 1×1 without bias: no border
  [[2, 6, 5, 7], 3, 4, 3, true], // odd width, 2 channels per group
  [[1, 12, 4, 8], 4, 3, 3, true], // 3 channels per group
  [[2, 8, 2, 6], 2, 3, 3, true], // H·W a multiple of 4, W not: fused only without a backward
];

function reference(
  x: HostTensor,
  gamma: HostTensor,
  beta: HostTensor,
  w: HostTensor,
  b: HostTensor | null,
  groups: number,
) {
  const padding = (w.shape[2]! - 1) / 2;
  return conv2dReference(groupNormReference(x, gamma, beta, groups, 1e-5, true), w, b, 1, padding);
}

Deno.test(
  "groupNormSiluConv2d matches the float64 reference, gradients for every input",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      let seed = 300;
      for (const [shape, groups, outChannels, kernel, hasBias] of cases) {
        const c = shape[1]!;
        const inputs = [
          randomHost(shape, seed++, -2, 3),
          randomHost([c], seed++, 0.5, 1.5),
          randomHost([c], seed++),
          randomHost([outChannels, c, kernel, kernel], seed++),
          ...(hasBias ? [randomHost([outChannels], seed++)] : []),
        ];
        const padding = (kernel - 1) / 2;
        await checkOp(
          `groupNormSiluConv2d ${shape} / ${groups} → ${outChannels}, k${kernel}`,
          inputs,
          (x, gamma, beta, w, b) =>
            groupNormSiluConv2d(x!, { groups, gamma: gamma!, beta: beta! }, w!, b ?? null, { padding }),
          (x, gamma, beta, w, b) => reference(x!, gamma!, beta!, w!, b ?? null, groups),
        );
      }
    });
  },
);

/** Output and gradients of the fused op and of the composition, and the dispatches each recorded. */
function run(rt: Runtime, fused: boolean, data: HostTensor[], groups: number) {
  return tidy(() => {
    const [x, gamma, beta, w, b] = data.map((d) =>
      Tensor.fromArray(Float32Array.from(d.data), d.shape, { requiresGrad: true })
    );
    const before = rt.counters().dispatches;
    const y = fused
      ? groupNormSiluConv2d(x!, { groups, gamma: gamma!, beta: beta! }, w!, b!, { padding: 1 })
      : conv2d(groupNormSilu(x!, groups, gamma!, beta!), w!, b!, { padding: 1 });
    const forwardDispatches = rt.counters().dispatches - before;
    backward(y, Tensor.full(y.shape, 1));
    return { y, grads: [x, gamma, beta, w, b].map((t) => t!.grad!), forwardDispatches };
  });
}

Deno.test(
  "groupNormSiluConv2d equals conv2d(groupNormSilu(x)) and skips the packing pass",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      setGemmFamily(rt, "register-tiled");
      const data = [
        randomHost([3, 16, 8, 12], 1, -1, 2),
        randomHost([16], 2, 0.5, 1.5),
        randomHost([16], 3),
        randomHost([8, 16, 3, 3], 4),
        randomHost([8], 5),
      ];
      const fused = run(rt, true, data, 4);
      const composed = run(rt, false, data, 4);
      // The norm writes the packed image itself: its pack-image dispatch is gone.
      assert.equal(fused.forwardDispatches, composed.forwardDispatches - 1);
      assertClose(await fused.y.read(), await composed.y.read(), 1e-6, "output");
      for (const [i, name] of ["x", "gamma", "beta", "weight", "bias"].entries()) {
        assertClose(await fused.grads[i]!.read(), await composed.grads[i]!.read(), 1e-5, `${name} gradient`);
      }
      setGemmFamily(rt, null);
    });
  },
);

Deno.test(
  "without a backward, groupNormSiluConv2d fuses planes of widths that are not multiples of 4",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      setGemmFamily(rt, "register-tiled");
      const [x, gamma, beta, w, b] = [
        randomHost([2, 8, 2, 6], 11, -1, 2),
        randomHost([8], 12, 0.5, 1.5),
        randomHost([8], 13),
        randomHost([4, 8, 3, 3], 14),
        randomHost([4], 15),
      ].map((d) => Tensor.fromArray(Float32Array.from(d.data), d.shape));
      const before = rt.counters().dispatches;
      const fused = noGrad(() =>
        groupNormSiluConv2d(x!, { groups: 2, gamma: gamma!, beta: beta! }, w!, b!, { padding: 1 })
      );
      const fusedDispatches = rt.counters().dispatches - before;
      const middle = rt.counters().dispatches;
      const composed = noGrad(() => conv2d(groupNormSilu(x!, 2, gamma!, beta!), w!, b!, { padding: 1 }));
      assert.equal(fusedDispatches, rt.counters().dispatches - middle - 1);
      assertClose(await fused.read(), await composed.read(), 1e-6, "output");
      setGemmFamily(rt, null);
    });
  },
);
