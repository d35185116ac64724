import assert from "node:assert/strict";
import { randomNormal, randomUniform } from "../../nn/ops/random.ts";
import { assertClose } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { philox4x32, philoxNormal, philoxUniform } from "../helpers/philox.ts";

const hex = (words: number[]): string => words.map((w) => w.toString(16).padStart(8, "0")).join(" ");

Deno.test("the reference Philox-4x32-10 reproduces the Random123 known answers", () => {
  assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  const ones = 0xffffffff;
  assert.equal(
    hex(philox4x32([ones, ones, ones, ones], [ones, ones])),
    "408f276d 41c83b0e a20bc7c6 6d5451fd",
  );
  assert.equal(
    hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    "d16cfe09 94fdcceb 5001e420 24126ea1",
  );
});

Deno.test("GPU uniforms equal the reference bit for bit; normals to float rounding", gpuTest, async () => {
  await withRuntime(async () => {
    const seed = 2 ** 40 + 12345; // exercises both key words
    const size = 1003; // not a multiple of 4
    const uniform = await randomUniform([size], seed, 7).read();
    assert.deepEqual([...uniform], Array.from({ length: size }, (_, i) => philoxUniform(seed, 7, i)));
    const normal = await randomNormal([17, 59], seed, 3).read();
    assertClose(
      normal,
      Array.from({ length: normal.length }, (_, i) => philoxNormal(seed, 3, i)),
      2e-6,
      "normals",
    );
    const scaled = await randomUniform([64], 5, 0, -2, 3).read();
    assertClose(
      scaled,
      Array.from({ length: 64 }, (_, i) => -2 + 5 * philoxUniform(5, 0, i)),
      1e-7,
      "U[-2, 3)",
    );
  });
});

Deno.test("same seed and stream give the same numbers; other seeds or streams do not", gpuTest, async () => {
  await withRuntime(async () => {
    const a = await randomNormal([4, 3, 5, 7], 42, 1).read();
    const b = await randomNormal([4, 3, 5, 7], 42, 1).read();
    assert.deepEqual(a, b);
    const otherStream = await randomNormal([4, 3, 5, 7], 42, 2).read();
    const otherSeed = await randomNormal([4, 3, 5, 7], 43, 1).read();
    for (const other of [otherStream, otherSeed]) {
      assert.ok(a.filter((v, i) => v === other[i]).length < 3, "sequences should differ almost everywhere");
    }
    // A prefix of a larger draw is the smaller draw: numbers depend on the index, not the shape.
    const longer = await randomNormal([4 * 3 * 5 * 7 + 13], 42, 1).read();
    assert.deepEqual(longer.subarray(0, a.length), a);
  });
});

Deno.test("moments over 2^17 samples: U[0,1) and N(0,1), and N(mean, std)", gpuTest, async () => {
  await withRuntime(async () => {
    const n = 1 << 17;
    const moments = (values: Float32Array): [number, number] => {
      let mean = 0;
      for (const v of values) mean += v;
      mean /= values.length;
      let variance = 0;
      for (const v of values) variance += (v - mean) ** 2;
      return [mean, variance / values.length];
    };
    // Tolerances are about 5 standard errors of each estimate.
    const [um, uv] = moments(await randomUniform([n], 9).read());
    assert.ok(Math.abs(um - 0.5) < 5 * Math.sqrt(1 / 12 / n), `uniform mean ${um}`);
    assert.ok(Math.abs(uv - 1 / 12) < 5 * Math.sqrt(1 / 180 / n), `uniform variance ${uv}`);
    const [nm, nv] = moments(await randomNormal([n], 9).read());
    assert.ok(Math.abs(nm) < 5 / Math.sqrt(n), `normal mean ${nm}`);
    assert.ok(Math.abs(nv - 1) < 5 * Math.sqrt(2 / n), `normal variance ${nv}`);
    const [sm, sv] = moments(await randomNormal([n], 10, 0, 3, 0.5).read());
    assert.ok(Math.abs(sm - 3) < 5 * 0.5 / Math.sqrt(n), `shifted mean ${sm}`);
    assert.ok(Math.abs(sv - 0.25) < 5 * 0.25 * Math.sqrt(2 / n), `scaled variance ${sv}`);
  });
});

Deno.test("random factories validate seeds and streams", gpuTest, async () => {
  await withRuntime(() => {
    assert.throws(() => randomNormal([4], -1), RangeError);
    assert.throws(() => randomNormal([4], 1.5), RangeError);
    assert.throws(() => randomUniform([4], 1, 2 ** 32), RangeError);
  });
});
