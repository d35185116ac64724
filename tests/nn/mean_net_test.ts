import assert from "node:assert/strict";
import { MeanNet, type MeanNetConfig } from "../../nn/mean_net.ts";
import { backward } from "../../nn/autodiff.ts";
import { mul } from "../../nn/ops/elementwise.ts";
import { sum } from "../../nn/ops/reduce.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose, type HostTensor } from "../helpers/check.ts";
import { conv2dReference } from "../helpers/gemm_reference.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

const config: MeanNetConfig = { bands: 2, features: 3, blocks: 2, factor: 2 };
const [n, h, w] = [2, 3, 4];

/** Every parameter of the test net, random (non-zero tail and second convolutions). */
function randomWeights(net: MeanNet): Map<string, HostTensor> {
  let seed = 11;
  return new Map(
    [...net.namedParameters()].map(([name, t]) => [name, {
      data: randomArray(t.size, seed++, -0.5, 0.5),
      shape: [...t.shape],
    }]),
  );
}

/** The mean net in float64: head → blocks (x + 0.1·conv(SiLU(conv(x)))) → tail → depth-to-space, + bicubic. */
function reference(p: Map<string, HostTensor>, lr: HostTensor, lrUp: HostTensor): Float64Array {
  const conv = (x: HostTensor, name: string) =>
    conv2dReference(x, p.get(`${name}.weight`)!, p.get(`${name}.bias`)!, 1, 1);
  let x = conv(lr, "head");
  for (let b = 0; b < config.blocks; b++) {
    const a = conv(x, `body.${b}.conv1`);
    const s = { data: a.data.map((v) => v / (1 + Math.exp(-v))), shape: a.shape };
    const c = conv(s, `body.${b}.conv2`);
    x = { data: x.data.map((v, i) => v + 0.1 * c.data[i]!), shape: x.shape };
  }
  const t = conv(x, "tail");
  const r = config.factor;
  const out = new Float64Array(lrUp.data.length);
  const [H, W] = [h * r, w * r];
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < config.bands; c++) {
      for (let y = 0; y < H; y++) {
        for (let xx = 0; xx < W; xx++) {
          const from =
            ((s * config.bands * r * r + c * r * r + (y % r) * r + (xx % r)) * h + Math.floor(y / r)) * w +
            Math.floor(xx / r);
          const at = ((s * config.bands + c) * H + y) * W + xx;
          out[at] = lrUp.data[at]! + t.data[from]!;
        }
      }
    }
  }
  return out;
}

Deno.test("an untrained mean net returns exactly the bicubic image", gpuTest, async () => {
  await withRuntime(async () => {
    const net = MeanNet.create(config, 3);
    const lrUp = randomArray(n * 2 * 6 * 8, 2);
    const out = net.forward(
      Tensor.fromArray(randomArray(n * 2 * h * w, 1), [n, 2, h, w]),
      Tensor.fromArray(lrUp, [n, 2, 6, 8]),
    );
    assert.deepEqual(await out.read(), lrUp);
    net.dispose();
  });
});

Deno.test("mean net forward and gradients match a float64 reference", gpuTest, async () => {
  await withRuntime(async () => {
    const net = MeanNet.createUninitialized(config);
    const params = randomWeights(net);
    net.loadParameters(
      new Map([...params].map(([k, v]) => [k, { data: Float32Array.from(v.data), shape: v.shape }])),
      "test",
    );
    const lr = { data: randomArray(n * 2 * h * w, 5), shape: [n, 2, h, w] };
    const lrUp = { data: randomArray(n * 2 * 6 * 8, 6), shape: [n, 2, 6, 8] };
    const weights = randomArray(n * 2 * 6 * 8, 7);
    const lrT = Tensor.fromArray(Float32Array.from(lr.data), lr.shape, { requiresGrad: true });
    const y = net.forward(lrT, Tensor.fromArray(Float32Array.from(lrUp.data), lrUp.shape));
    assertClose(await y.read(), reference(params, lr, lrUp), 1e-4, "forward");
    backward(sum(mul(y, Tensor.fromArray(weights, y.shape))));
    const loss = (p: Map<string, HostTensor>, x: HostTensor) =>
      reference(p, x, lrUp).reduce((s, v, i) => s + v * weights[i]!, 0);
    const eps = 1e-4;
    // Finite differences of the float64 reference at a few entries of the input and of each layer.
    const checks: [string, number, (delta: number) => number][] = [];
    const lrGrad = await lrT.grad!.read();
    for (const i of [0, 7, 23]) {
      checks.push([`lr[${i}]`, lrGrad[i]!, (d) => {
        const x = { data: Float64Array.from(lr.data), shape: lr.shape };
        x.data[i] = x.data[i]! + d;
        return loss(params, x);
      }]);
    }
    for (const name of ["head.weight", "body.0.conv1.weight", "body.1.conv2.bias", "tail.weight"]) {
      const grad = await net.namedParameters().get(name)!.grad!.read();
      for (const i of [0, 2]) {
        checks.push([`${name}[${i}]`, grad[i]!, (d) => {
          const q = new Map(params);
          const t = { data: Float64Array.from(params.get(name)!.data), shape: params.get(name)!.shape };
          t.data[i] = t.data[i]! + d;
          q.set(name, t);
          return loss(q, lr);
        }]);
      }
    }
    for (const [what, analytic, f] of checks) {
      assertClose([analytic], [(f(eps) - f(-eps)) / (2 * eps)], 2e-3, what);
    }
    net.dispose();
  });
});
