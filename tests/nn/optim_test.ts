import assert from "node:assert/strict";
import { Adam, clipGradNorm, gradNorm } from "../../nn/optim.ts";
import { EMA } from "../../nn/ema.ts";
import { finiteGuard } from "../../kernels/adam.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

const shapes = [[3, 5], [7], [2, 3, 1, 5]];

function makeParams(seed: number): { host: Float64Array[]; params: Tensor[] } {
  const host = shapes.map((s, i) => Float64Array.from(randomArray(s.reduce((a, b) => a * b), seed + i)));
  const params = host.map((h, i) =>
    Tensor.fromArray(Float32Array.from(h), shapes[i]!, {
      persistent: true,
      requiresGrad: true,
      name: `p${i}`,
    })
  );
  return { host, params };
}

function setGrads(params: Tensor[], grads: Float32Array[]): void {
  params.forEach((p, i) => {
    p.grad?.dispose();
    p.grad = Tensor.fromArray(grads[i]!, p.shape).keep();
  });
}

Deno.test("Adam and AdamW follow the float64 reference over several steps", gpuTest, async () => {
  await withRuntime(async () => {
    for (const weightDecay of [0, 0.1]) {
      const { host, params } = makeParams(1);
      const options = { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay };
      const adam = new Adam(params, options);
      const m = host.map((h) => new Float64Array(h.length));
      const v = host.map((h) => new Float64Array(h.length));
      for (let t = 1; t <= 5; t++) {
        const grads = host.map((h, i) => randomArray(h.length, 100 * t + i, -2, 2));
        setGrads(params, grads);
        adam.step();
        host.forEach((h, i) => {
          for (let k = 0; k < h.length; k++) {
            const g = grads[i]![k]!;
            h[k] = h[k]! * (1 - options.lr * weightDecay);
            m[i]![k] = options.beta1 * m[i]![k]! + (1 - options.beta1) * g;
            v[i]![k] = options.beta2 * v[i]![k]! + (1 - options.beta2) * g * g;
            const mHat = m[i]![k]! / (1 - options.beta1 ** t);
            const vHat = v[i]![k]! / (1 - options.beta2 ** t);
            h[k] = h[k]! - options.lr * mHat / (Math.sqrt(vHat) + options.eps);
          }
        });
      }
      for (let i = 0; i < params.length; i++) {
        assertClose(await params[i]!.read(), host[i]!, 1e-5, `wd=${weightDecay} param ${i}`);
      }
      assert.equal(adam.stepCount, 5);
      adam.zeroGrad();
      assert.ok(params.every((p) => p.grad === null));
      adam.dispose();
    }
  });
});

Deno.test("Adam state round-trips through the host and resumes identically", gpuTest, async () => {
  await withRuntime(async () => {
    const a = makeParams(3);
    const b = makeParams(3);
    const adamA = new Adam(a.params, { lr: 0.05 });
    const adamB = new Adam(b.params, { lr: 0.05 });
    const grads = (t: number): Float32Array[] =>
      shapes.map((s, i) => randomArray(s.reduce((x, y) => x * y), t * 10 + i));
    for (let t = 0; t < 3; t++) {
      setGrads(a.params, grads(t));
      adamA.step();
    }
    // B gets A's parameters and optimizer state, then both take the same step.
    const state = await adamA.exportState();
    assert.equal(state.step, 3);
    for (let i = 0; i < a.params.length; i++) {
      b.params[i]!.rt.write(b.params[i]!.buffer, (await a.params[i]!.read()) as Float32Array<ArrayBuffer>);
    }
    adamB.importState(state);
    setGrads(a.params, grads(9));
    setGrads(b.params, grads(9));
    adamA.step();
    adamB.step();
    for (let i = 0; i < a.params.length; i++) {
      assert.deepEqual(await b.params[i]!.read(), await a.params[i]!.read());
    }
    assert.throws(() => adamB.importState({ step: 1, m: [], v: [] }), /moments/);
  });
});

Deno.test(
  "clipGradNorm computes the global norm and scales on the GPU without a readback",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      // One tensor spans several partial-sum chunks.
      const big = Tensor.zeros([3, 5000], { persistent: true, requiresGrad: true });
      const { params } = makeParams(5);
      const all = [...params, big];
      const grads = all.map((p, i) => randomArray(p.size, 50 + i));
      let squares = 0;
      for (const g of grads) for (const x of g) squares += x * x;
      const norm = Math.sqrt(squares);
      for (const maxNorm of [norm / 4, norm * 2]) {
        setGrads(all, grads);
        const readbacks = rt.counters().readbacks;
        const normTensor = clipGradNorm(all, maxNorm);
        assert.equal(rt.counters().readbacks, readbacks);
        assertClose(await normTensor.read(), [norm], 1e-6, "norm");
        const factor = Math.min(1, maxNorm / (norm + 1e-6));
        for (let i = 0; i < all.length; i++) {
          assertClose(
            await all[i]!.grad!.read(),
            grads[i]!.map((g) => g * factor),
            1e-6,
            `clipped grad ${i}`,
          );
        }
      }
      assert.deepEqual([...await clipGradNorm([Tensor.zeros([2])], 1).read()], [0]);
    });
  },
);

Deno.test(
  "a non-finite loss makes Adam and the EMA skip the step on the GPU and counts it",
  gpuTest,
  async () => {
    await withRuntime(async (rt) => {
      const { params } = makeParams(40);
      const before = await Promise.all(params.map((p) => p.read()));
      const adam = new Adam(params, { lr: 0.1 });
      const ema = new EMA(params, 0.5);
      const guard = Tensor.zeros([3], { persistent: true });
      const step = (loss: number): void => {
        setGrads(params, params.map((p) => randomArray(p.size, 41)));
        finiteGuard(rt, guard, Tensor.full([1], loss));
        adam.step({ guard });
        ema.update(guard);
      };
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) step(bad);
      const readbacks = rt.counters().readbacks;
      assert.deepEqual(
        await Promise.all(params.map((p) => p.read())),
        before,
        "skipped steps leave the weights",
      );
      assert.deepEqual([...await guard.read()], [0, 2, 2], "two skipped in a row, two in total");
      step(0.5);
      assert.deepEqual([...await guard.read()], [1, 0, 2], "a finite loss resets the run, keeps the total");
      const after = await Promise.all(params.map((p) => p.read()));
      assert.notDeepEqual(after, before, "a finite step updates");
      assert.ok(rt.counters().readbacks > readbacks);
    });
  },
);

Deno.test("clipping and the EMA fused into Adam's pass equal the separate passes", gpuTest, async () => {
  await withRuntime(async () => {
    const run = async (fused: boolean): Promise<Float32Array[]> => {
      const { params } = makeParams(50);
      const adam = new Adam(params, { lr: 0.05, weightDecay: 0.01 });
      const ema = new EMA(params, 0.9);
      for (let step = 0; step < 3; step++) {
        setGrads(params, params.map((p, i) => randomArray(p.size, 60 + 10 * step + i, -3, 3)));
        if (fused) {
          const { norm, factor } = gradNorm(params, 1);
          adam.step({ gradScale: factor, ema });
          norm.dispose();
          factor.dispose();
        } else {
          clipGradNorm(params, 1).dispose();
          adam.step();
          ema.update();
        }
      }
      const out = [...await Promise.all(params.map((p) => p.read())), ...await ema.exportState()];
      adam.dispose();
      ema.dispose();
      for (const p of params) p.dispose();
      return out;
    };
    const separate = await run(false);
    const fused = await run(true);
    separate.forEach((values, i) => assertClose(fused[i]!, values, 1e-6, `tensor ${i}`));
  });
});
