import { conv2d, conv2dGeometry } from "../../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../../kernels/conv2d_input_grad.ts";
import { conv2dBackwardWeight } from "../../kernels/conv2d_weight_grad.ts";
import { GEMM_FAMILIES, type GemmFamily } from "../../kernels/gemm.wgsl.ts";
import type { Runtime } from "../../kernels/runtime.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose, type HostTensor, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import {
  conv2dInputGradReference,
  conv2dReference,
  conv2dWeightGradReference,
  matmulReference,
} from "../helpers/gemm_reference.ts";
import { matmul } from "../../kernels/matmul.ts";

interface Case {
  x: [number, number, number, number];
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
}

// 5×7 and other odd spatial sizes, channel counts not divisible by 4, batch > 1, stride 1 and 2,
// k 1 and 3, padding 0 and 1; plus one case that spans several register tiles in M and N.
const cases: Case[] = [
  { x: [2, 3, 5, 7], outChannels: 5, kernel: 3, stride: 1, padding: 1 },
  { x: [2, 3, 5, 7], outChannels: 6, kernel: 3, stride: 2, padding: 1 },
  { x: [1, 5, 7, 5], outChannels: 3, kernel: 3, stride: 1, padding: 0 },
  { x: [2, 2, 7, 6], outChannels: 7, kernel: 3, stride: 2, padding: 0 },
  { x: [2, 6, 5, 7], outChannels: 9, kernel: 1, stride: 1, padding: 0 },
  { x: [1, 5, 6, 7], outChannels: 4, kernel: 1, stride: 2, padding: 0 },
  { x: [1, 4, 8, 8], outChannels: 4, kernel: 1, stride: 2, padding: 1 },
  { x: [3, 9, 11, 13], outChannels: 21, kernel: 3, stride: 1, padding: 1 },
  // 48 output channels pack into 12·k² texture layers: a multiple of 6, which wgpu's GL backend took for
  // a cube array (wrong input gradients on llvmpipe until the runtime stopped allocating such textures).
  { x: [2, 4, 4, 4], outChannels: 48, kernel: 3, stride: 1, padding: 1 },
  // Output widths that are multiples of 4: the register-tiled kernel writes NCHW texels itself
  // ("quads"), with channel counts past a multiple of 4, several tiles, and a strided forward.
  { x: [2, 5, 6, 8], outChannels: 7, kernel: 3, stride: 1, padding: 1 },
  { x: [3, 6, 12, 12], outChannels: 37, kernel: 3, stride: 1, padding: 1 },
  { x: [2, 3, 8, 8], outChannels: 6, kernel: 3, stride: 2, padding: 1 },
  // H·W a multiple of 4 with W not: "quads" texels run across image rows.
  { x: [2, 5, 2, 6], outChannels: 5, kernel: 3, stride: 1, padding: 1 },
  // 1×1 convolutions on planes of a multiple of 4 pixels run as pointwise GEMMs on NCHW texels:
  // Cin a multiple of 4 or not, Cout past one register tile, several pixel blocks and samples.
  { x: [3, 8, 6, 6], outChannels: 37, kernel: 1, stride: 1, padding: 0 },
  { x: [2, 6, 4, 5], outChannels: 3, kernel: 1, stride: 1, padding: 0 },
  { x: [2, 40, 16, 18], outChannels: 12, kernel: 1, stride: 1, padding: 0 },
];

/** The pipeline label of every dispatch `rt` records from now on, in order. */
function recordKernels(rt: Runtime): string[] {
  const labels: string[] = [];
  const dispatch = rt.dispatch.bind(rt);
  rt.dispatch = (spec) => {
    labels.push(spec.pipeline.label ?? "");
    dispatch(spec);
  };
  return labels;
}

function upload(h: HostTensor): Tensor {
  return Tensor.fromArray(Float32Array.from(h.data), h.shape);
}

async function runCase(rt: Runtime, family: GemmFamily, c: Case, seed: number): Promise<void> {
  const name = `${family} x${JSON.stringify(c.x)} co${c.outChannels} k${c.kernel} s${c.stride} p${c.padding}`;
  const options = { stride: c.stride, padding: c.padding };
  const x = randomHost(c.x, seed);
  const w = randomHost([c.outChannels, c.x[1], c.kernel, c.kernel], seed + 1);
  const bias = randomHost([c.outChannels], seed + 2);
  const g = conv2dGeometry(c.x, w.shape, bias.shape, options);
  const dy = randomHost(g.outShape, seed + 3);
  const [xt, wt, bt, dyt] = [x, w, bias, dy].map(upload) as [Tensor, Tensor, Tensor, Tensor];
  const out = Tensor.empty(g.outShape);
  const dx = Tensor.empty(c.x);
  const dw = Tensor.empty(w.shape);
  conv2d(rt, out, xt, wt, bt, options, family);
  conv2dBackwardInput(rt, dx, dyt, wt, options, family);
  conv2dBackwardWeight(rt, dw, dyt, xt, options, family);
  assertClose(
    await out.read(),
    conv2dReference(x, w, bias, c.stride, c.padding).data,
    1e-4,
    `${name} forward`,
  );
  assertClose(
    await dx.read(),
    conv2dInputGradReference(dy, w, c.x, c.stride, c.padding).data,
    1e-4,
    `${name} input-grad`,
  );
  assertClose(
    await dw.read(),
    conv2dWeightGradReference(dy, x, w.shape, c.stride, c.padding).data,
    1e-4,
    `${name} weight-grad`,
  );
  for (const t of [xt, wt, bt, dyt, out, dx, dw]) t.dispose();
}

for (const family of GEMM_FAMILIES) {
  Deno.test(
    `conv2d ${family}: forward, input-grad and weight-grad match float64 references`,
    gpuTest,
    async () => {
      await withRuntime(async (rt) => {
        let seed = 1;
        for (const c of cases) await runCase(rt, family, c, seed += 4);
      });
    },
  );
}

Deno.test("conv2d and matmul read persistent operands whose size ends inside a texel", gpuTest, async () => {
  await withRuntime(async (rt) => {
    // 5·3·3·3 = 135 floats: a persistent buffer of 540 bytes, so staging copies its last 3 floats apart.
    const x = randomHost([1, 3, 5, 7], 91);
    const w = randomHost([5, 3, 3, 3], 92);
    const weight = Tensor.fromArray(Float32Array.from(w.data), w.shape, { persistent: true });
    const input = upload(x);
    const out = Tensor.empty([1, 5, 5, 7]);
    conv2d(rt, out, input, weight, null, { padding: 1 }, "register-tiled");
    assertClose(await out.read(), conv2dReference(x, w, null, 1, 1).data, 1e-4, "persistent conv weight");
    const a = randomHost([3, 45], 93);
    const matrix = Tensor.fromArray(Float32Array.from(a.data), a.shape, { persistent: true });
    const b = randomHost([45, 6], 94);
    const product = Tensor.empty([3, 6]);
    const bt = upload(b);
    matmul(rt, product, matrix, bt, {}, null, "register-tiled");
    assertClose(await product.read(), matmulReference(a, b).data, 1e-4, "persistent matmul operand");
    for (const t of [weight, input, out, matrix, bt, product]) t.dispose();
  });
});

Deno.test(
  "conv2d past the texture-layer limit runs register-tiled in sample chunks, matching references",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      // 64 channels pack into 16 layers per sample: one more sample than fits makes the kernels split the
      // batch (before, such a batch fell back to the workgroup-tiled family, 20–40× slower on CPU adapters).
      const channels = 64;
      const samples = Math.floor(rt.device.limits.maxTextureArrayLayers / (channels / 4)) + 1;
      const c: Case = { x: [samples, channels, 3, 2], outChannels: 5, kernel: 3, stride: 1, padding: 1 };
      const labels = recordKernels(rt);
      await runCase(rt, "register-tiled", c, 7);
      // The input-grad's dY (5 channels) fits whole; forward and weight-grad had to split x.
      const workgroupTiled = labels.filter((label) => label.includes("workgroup-tiled"));
      if (workgroupTiled.length > 0) throw new Error(`fell back to ${workgroupTiled.join(", ")}`);
    });
  },
);

Deno.test(
  "conv2d at widths that are multiples of 4 runs without a placing pass or a dY packing pass",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      const labels = recordKernels(rt);
      await runCase(rt, "register-tiled", {
        x: [2, 5, 6, 8],
        outChannels: 7,
        kernel: 3,
        stride: 1,
        padding: 1,
      }, 3);
      const convs = labels.filter((label) => label.startsWith("conv2d["));
      // Forward and input-grad: both whole-output lattices of width 8.
      if (convs.length !== 2 || !convs.every((label) => label.includes("quads"))) {
        throw new Error(`expected two "quads" convolutions, got ${convs.join(", ")}`);
      }
      if (labels.includes("conv2d-place[]")) throw new Error("conv2d-place still ran");
      // The weight gradient reads dY's NCHW texels where they lie (staged, not packed).
      if (labels.includes("pack-pixels[]")) throw new Error("pack-pixels still ran");
    });
  },
);

Deno.test("1×1 convolutions run as pointwise GEMMs without packing passes", gpuTest, async () => {
  await withRuntime(async (rt) => {
    const labels = recordKernels(rt);
    await runCase(
      rt,
      "register-tiled",
      { x: [2, 6, 4, 8], outChannels: 3, kernel: 1, stride: 1, padding: 0 },
      5,
    );
    // Forward and input-grad are pointwise; the weight gradient packs x once.
    const pointwise = labels.filter((label) => label.startsWith("conv2d-pointwise"));
    const packs = labels.filter((label) => label.startsWith("pack-"));
    if (pointwise.length !== 2 || packs.length !== 1) {
      throw new Error(`expected 2 pointwise GEMMs and 1 packing pass, got ${labels.join(", ")}`);
    }
  });
});
