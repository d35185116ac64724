import assert from "node:assert/strict";
import { EMA } from "../../nn/ema.ts";
import { Tensor } from "../../nn/tensor.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

Deno.test("EMA update with warm-up, copyTo, swap and state export/import", gpuTest, async () => {
  await withRuntime(async (rt) => {
    const values = [randomArray(15, 1), randomArray(7, 2)];
    const params = values.map((v, i) => Tensor.fromArray(v, [v.length], { persistent: true, name: `p${i}` }));
    const decay = 0.5;
    const ema = new EMA(params, decay);
    const expected = values.map((v) => Float64Array.from(v));
    // Warm-up decays min(0.5, n / (n + 9)), written out: the first update mostly replaces the init.
    const decays = [1 / 10, 2 / 11, 3 / 12, 4 / 13, 5 / 14, 6 / 15, 7 / 16, 8 / 17, 0.5, 0.5];
    for (const [step, d] of decays.entries()) {
      const next = values.map((v, i) => randomArray(v.length, 10 * step + i));
      params.forEach((p, i) => rt.write(p.buffer, next[i]! as Float32Array<ArrayBuffer>));
      ema.update();
      expected.forEach((e, i) => e.forEach((s, k) => (e[k] = d * s + (1 - d) * next[i]![k]!)));
    }
    assert.equal(ema.updates, 10);
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
