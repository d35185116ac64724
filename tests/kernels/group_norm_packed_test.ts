import { conv2dFromImage, conv2dGeometry } from "../../kernels/conv2d.ts";
import { imageExtent } from "../../kernels/conv2d_weight_grad.ts";
import { groupNormForward, groupNormForwardPacked } from "../../kernels/group_norm.ts";
import { packImage } from "../../kernels/pack.ts";
import { upsample2x } from "../../kernels/shape.ts";
import { conv2d } from "../../kernels/conv2d.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import assert from "node:assert/strict";

const tensor = (shape: number[], seed: number, low = -1, high = 1): Tensor =>
  Tensor.fromArray(Float32Array.from(randomHost(shape, seed, low, high).data), shape);

Deno.test(
  "groupNormForwardPacked writes the image packImage makes of groupNormForward's (upsampled) output, border zeroed in a reused texture",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      // [x shape, groups, kernel, upscale]; [2, 8, 2, 6] has H·W a multiple of 4 but not W.
      const cases: [[number, number, number, number], number, number, 1 | 2][] = [
        [[2, 8, 5, 8], 2, 3, 1],
        [[1, 16, 4, 4], 4, 1, 1],
        [[2, 8, 3, 12], 1, 5, 1],
        [[2, 8, 2, 6], 2, 3, 1],
        [[2, 8, 3, 4], 2, 3, 2],
      ];
      for (const [shape, groups, kernel, upscale] of cases) {
        const [n, c, h, w] = shape;
        const padding = (kernel - 1) / 2;
        const x = tensor([...shape], 1, -2, 3);
        const gamma = tensor([c], 2, 0.5, 1.5);
        const beta = tensor([c], 3);
        const weight = tensor([3, c, kernel, kernel], 4);
        const convInput = [n, c, upscale * h, upscale * w];
        const g = conv2dGeometry(convInput, weight.shape, null, { padding });
        // Widths that are multiples of 4 make the weight gradient's image the forward's.
        if (upscale * w % 4 === 0) {
          assert.deepEqual(imageExtent(g), { width: g.width + 2 * padding, height: g.height + 2 * padding });
        }
        // A texture of the same size full of nonzero values goes back to the pool first, so the packed
        // forward most likely gets it back: its border must still read as zero padding.
        const [height, width] = [g.height + 2 * padding, g.width + 2 * padding];
        const dirty = tensor([n, c, height, width], 5, 1, 2);
        rt.releaseTexture(packImage(rt, { buffer: dirty.buffer, samples: n, channels: c, height, width }, 0));
        await rt.sync();
        for (const silu of [true, false]) {
          const stats = Tensor.empty([n, groups, 2]);
          const image = groupNormForwardPacked(
            rt,
            stats,
            x,
            gamma,
            beta,
            groups,
            1e-5,
            silu,
            padding,
            upscale,
          );
          const fused = Tensor.empty(g.outShape);
          conv2dFromImage(rt, fused, image, weight, null, g);
          rt.releaseTexture(image);
          const y = Tensor.empty([...shape]);
          groupNormForward(rt, y, stats, x, gamma, beta, groups, 1e-5, silu);
          const input = Tensor.empty(convInput);
          if (upscale === 2) upsample2x(rt, input, y);
          const expected = Tensor.empty(g.outShape);
          conv2d(rt, expected, upscale === 2 ? input : y, weight, null, { padding });
          const what = `${shape} / ${groups}, k${kernel}, ×${upscale}, silu ${silu}`;
          assertClose(await fused.read(), await expected.read(), 1e-6, what);
        }
      }
    });
  },
);
