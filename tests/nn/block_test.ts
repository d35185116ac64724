import assert from "node:assert/strict";
import { groupNormSilu } from "../../nn/ops/group_norm.ts";
import { selfAttention } from "../../nn/ops/attention.ts";
import { concat } from "../../nn/ops/shape.ts";
import { add, mul, square } from "../../nn/ops/elementwise.ts";
import { mean } from "../../nn/ops/reduce.ts";
import { backward } from "../../nn/autodiff.ts";
import { Adam, clipGradNorm } from "../../nn/optim.ts";
import { EMA } from "../../nn/ema.ts";
import { Tensor, tidy } from "../../nn/tensor.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { attentionReference, concatReference, groupNormReference } from "../helpers/reference_layers.ts";
import { randomArray } from "../helpers/random.ts";

// The block: h = SiLU(GroupNorm(x)); qkv = [h, x ⊙ w, h]; y = attention(qkv) + x.
function block(x: Tensor, gamma: Tensor, beta: Tensor, w: Tensor): Tensor {
  const h = groupNormSilu(x, 4, gamma, beta);
  return add(selfAttention(concat([h, mul(x, w), h])), x);
}

Deno.test("GroupNorm → SiLU → attention → + residual matches the composed reference", gpuTest, async () => {
  await withRuntime(async () => {
    const c = 8;
    const inputs = [
      randomHost([2, c, 5, 7], 1, -2, 2),
      randomHost([c], 2, 0.5, 1.5),
      randomHost([c], 3),
      randomHost([1, c, 1, 1], 4),
    ];
    await checkOp("block", inputs, (x, g, b, w) => block(x!, g!, b!, w!), (x, g, b, w) => {
      const h = groupNormReference(x!, g!, b!, 4, 1e-5, true);
      const xw = { data: x!.data.map((v, i) => v * w!.data[Math.floor(i / 35) % c]!), shape: x!.shape };
      const attended = attentionReference(concatReference([h, xw, h], 1));
      return { data: attended.data.map((v, i) => v + x!.data[i]!), shape: x!.shape };
    });
  });
});

Deno.test("200 training steps of the block inside tidy keep live bytes flat", gpuTest, async () => {
  await withRuntime(async (rt) => {
    const c = 8;
    const param = (values: Float32Array, shape: number[], name: string): Tensor =>
      Tensor.fromArray(values, shape, { persistent: true, requiresGrad: true, name });
    const gamma = param(Float32Array.from({ length: c }, () => 1), [c], "gamma");
    const beta = param(new Float32Array(c), [c], "beta");
    const w = param(randomArray(c, 5), [1, c, 1, 1], "w");
    const params = [gamma, beta, w];
    const x = Tensor.fromArray(randomArray(2 * c * 36, 6), [2, c, 6, 6], { persistent: true });
    const adam = new Adam(params, { lr: 1e-3 });
    const ema = new EMA(params, 0.99);
    const live: number[] = [];
    let firstLoss = 0;
    let lastLoss = 0;
    for (let step = 0; step < 200; step++) {
      const loss = tidy(() => {
        const value = mean(square(block(x, gamma, beta, w)));
        backward(value);
        clipGradNorm(params, 1);
        adam.step();
        adam.zeroGrad();
        ema.update();
        return value;
      });
      if (step === 0) firstLoss = (await loss.read())[0]!;
      if (step === 199) lastLoss = (await loss.read())[0]!;
      loss.dispose();
      live.push(rt.memory().liveBytes);
    }
    assert.ok(live.every((bytes) => bytes === live[0]), `live bytes drifted: ${live[0]} → ${live.at(-1)}`);
    assert.ok(Number.isFinite(lastLoss) && lastLoss < firstLoss, `loss ${firstLoss} → ${lastLoss}`);
    assert.equal(rt.counters().readbacks, 2);
    ema.dispose();
    adam.dispose();
  });
});
