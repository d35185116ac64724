import assert from "node:assert/strict";
import { backward, noGrad } from "../../nn/autodiff.ts";
import { conv2d } from "../../nn/ops/conv2d.ts";
import { groupNormSilu } from "../../nn/ops/group_norm.ts";
import { upsampleNearest2x } from "../../nn/ops/shape.ts";
import { groupNormSiluConv2d } from "../../nn/ops/norm_conv2d.ts";
import { Tensor, tidy } from "../../nn/tensor.ts";
import type { Runtime } from "../../kernels/runtime.ts";
import { setGemmFamily } from "../../kernels/variants.ts";
import { assertClose, checkOp, type HostTensor, randomHost } from "../helpers/check.ts";
import { conv2dReference } from "../helpers/gemm_reference.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { groupNormReference, upsampleNearest2xReference } from "../helpers/reference_layers.ts";

/** [x shape, groups, Cout, kernel, bias, upsample]: which cases take the fused path is noted. */
const cases: [number[], number, number, number, boolean, boolean][] = [
  [[2, 8, 6, 8], 2, 5, 3, true, false], // fused: 3×3 "same", W a multiple of 4, 4 channels per group
  [[2, 16, 4, 4], 2, 6, 1, false, false], // fused: 1×1 without bias, no border
  [[2, 8, 3, 4], 2, 5, 3, true, true], // fused: upsampled ×2 to 6×8 on the way
  [[2, 6, 5, 7], 3, 4, 3, true, false], // odd width, 2 channels per group
  [[1, 12, 4, 8], 4, 3, 3, true, false], // 3 channels per group
  [[2, 8, 2, 6], 2, 3, 3, true, false], // H·W a multiple of 4, W not: fused only without a backward
  [[1, 8, 3, 3], 2, 4, 3, false, true], // upsampled, but a 3×3 plane: composed
];

function reference(
  x: HostTensor,
  gamma: HostTensor,
  beta: HostTensor,
  w: HostTensor,
  b: HostTensor | null,
  groups: number,
  upsample: boolean,
) {
  const padding = (w.shape[2]! - 1) / 2;
  const activated = groupNormReference(x, gamma, beta, groups, 1e-5, true);
  return conv2dReference(upsample ? upsampleNearest2xReference(activated) : activated, w, b, 1, padding);
}

Deno.test(
  "groupNormSiluConv2d matches the float64 reference, gradients for every input",
  gpuTest,
  async () => {
    await withRuntime(async () => {
      let seed = 300;
      for (const [shape, groups, outChannels, kernel, hasBias, upsample] of cases) {
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
          `groupNormSiluConv2d ${shape} / ${groups} → ${outChannels}, k${kernel}${
            upsample ? ", upsampled" : ""
          }`,
          inputs,
          (x, gamma, beta, w, b) =>
            groupNormSiluConv2d(
              x!,
              { groups, gamma: gamma!, beta: beta! },
              w!,
              b ?? null,
              { padding },
              upsample,
            ),
          (x, gamma, beta, w, b) => reference(x!, gamma!, beta!, w!, b ?? null, groups, upsample),
        );
      }
    });
  },
);

/** Output and gradients of the fused op and of the composition, and the dispatches each recorded. */
function run(rt: Runtime, fused: boolean, data: HostTensor[], groups: number, upsample = false) {
  return tidy(() => {
    const [x, gamma, beta, w, b] = data.map((d) =>
      Tensor.fromArray(Float32Array.from(d.data), d.shape, { requiresGrad: true })
    );
    const before = rt.counters().dispatches;
    const activated = (): Tensor => {
      const h = groupNormSilu(x!, groups, gamma!, beta!);
      return upsample ? upsampleNearest2x(h) : h;
    };
    const y = fused
      ? groupNormSiluConv2d(x!, { groups, gamma: gamma!, beta: beta! }, w!, b!, { padding: 1 }, upsample)
      : conv2d(activated(), w!, b!, { padding: 1 });
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
      for (const upsample of [false, true]) {
        const fused = run(rt, true, data, 4, upsample);
        const composed = run(rt, false, data, 4, upsample);
        // The norm writes the (upsampled) packed image itself: the pack-image and upsample passes are gone.
        assert.equal(fused.forwardDispatches, composed.forwardDispatches - (upsample ? 2 : 1));
        assertClose(await fused.y.read(), await composed.y.read(), 1e-6, `output, upsample ${upsample}`);
        for (const [i, name] of ["x", "gamma", "beta", "weight", "bias"].entries()) {
          const [a, b] = [await fused.grads[i]!.read(), await composed.grads[i]!.read()];
          assertClose(a, b, 1e-5, `${name} gradient, upsample ${upsample}`);
        }
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
