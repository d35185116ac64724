import assert from "node:assert/strict";
import { EMA } from "../../nn/ema.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

Deno.test("EMA update, copyTo, swap and state export/import", gpuTest, async () => {
  await withRuntime(async (rt) => {
    const values = [randomArray(15, 1), randomArray(7, 2)];
    const params = values.map((v, i) => Tensor.fromArray(v, [v.length], { persistent: true, name: `p${i}` }));
    const decay = 0.9;
    const ema = new EMA(params, decay);
    const expected = values.map((v) => Float64Array.from(v));
    for (let step = 0; step < 4; step++) {
      const next = values.map((v, i) => randomArray(v.length, 10 * step + i));
      params.forEach((p, i) => rt.write(p.buffer, next[i]! as Float32Array<ArrayBuffer>));
      ema.update();
      expected.forEach((e, i) => e.forEach((s, k) => (e[k] = decay * s + (1 - decay) * next[i]![k]!)));
    }
    const state = await ema.exportState();
    state.forEach((s, i) => assertClose(s, expected[i]!, 1e-6, `shadow ${i}`));

    const current = await Promise.all(params.map((p) => p.read()));
    ema.swap();
    for (let i = 0; i < params.length; i++) assert.deepEqual(await params[i]!.read(), state[i]);
    ema.swap();
    for (let i = 0; i < params.length; i++) assert.deepEqual(await params[i]!.read(), current[i]);

    const targets = params.map((p) => Tensor.zeros(p.shape));
    ema.copyTo(targets);
    for (let i = 0; i < params.length; i++) assert.deepEqual(await targets[i]!.read(), state[i]);

    const restored = new EMA(params, decay);
    restored.importState(state);
    assert.deepEqual(await restored.exportState(), state);
    assert.throws(() => restored.importState([state[0]!]), /2 parameters/);
    ema.dispose();
    restored.dispose();
  });
});
