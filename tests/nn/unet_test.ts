import assert from "node:assert/strict";
import { configWarnings, UNet, unetConfig } from "../../nn/unet.ts";
import { Tensor } from "../../nn/tensor.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import { randomArray } from "../helpers/random.ts";

Deno.test("reference-style parameter counts equal the PyTorch reference's", gpuTest, async () => {
  await withRuntime(() => {
    // Counted on the reference's own UNet class (tests/fixtures/REFERENCE_UNET.md).
    const cases = [
      ["tiny", 32, 2_633_955],
      ["sr3-16-128", 128, 97_807_491],
      ["arcgis", 256, 141_257_027],
    ] as const;
    for (const [preset, imageSize, expected] of cases) {
      const model = UNet.createUninitialized(
        unetConfig(preset, { blockStyle: "reference", imageSize, dropout: 0 }),
      );
      assert.equal(model.parameterCount(), expected, preset);
      const rows = model.summary();
      assert.equal(rows.reduce((n, r) => n + r.parameters, 0), expected, `${preset} summary adds up`);
      model.dispose();
    }
  });
});

Deno.test("the fixture config's layer table matches the reference layer by layer", gpuTest, async () => {
  await withRuntime(() => {
    const model = UNet.createUninitialized({
      bands: 3,
      innerChannel: 8,
      normGroups: 4,
      channelMults: [1, 2],
      attnRes: [8],
      resBlocks: 1,
      dropout: 0,
      imageSize: 16,
      blockStyle: "reference",
    });
    const table = Object.fromEntries(model.summary().map((r) => [r.name, [r.kind, r.parameters]]));
    // From tests/fixtures/REFERENCE_UNET.md (describe_reference.py on the reference code).
    assert.deepEqual(table["noise_level_mlp"]![1], 552);
    assert.deepEqual(table["downs.3"], ["ResnetBlock + SelfAttention", 4896]);
    assert.deepEqual(table["mid.0"], ["ResnetBlock + SelfAttention", 5920]);
    assert.deepEqual(table["ups.1"], ["ResnetBlock + SelfAttention", 7488]);
    assert.deepEqual(table["ups.2"]![1], 2320);
    assert.deepEqual(table["final_conv"]![1], 235);
    assert.equal(model.parameterCount(), 41_995);
    model.dispose();
  });
});

Deno.test("attnRes matching no level is reported", () => {
  const config = unetConfig("arcgis", { imageSize: 224 });
  const [warning] = configWarnings(config);
  assert.match(warning!, /attnRes \[16\] matches no UNet level/);
  assert.deepEqual(configWarnings(unetConfig("arcgis", { imageSize: 256 })), []);
});

Deno.test("both block styles run forward and backward at odd batch sizes", gpuTest, async () => {
  await withRuntime(async () => {
    for (const blockStyle of ["sr3", "reference"] as const) {
      const model = UNet.create(
        unetConfig("tiny", { blockStyle, imageSize: 16, attnRes: [8], dropout: 0.1 }),
        3,
      );
      const x = Tensor.fromArray(randomArray(3 * 6 * 16 * 16, 2), [3, 6, 16, 16]);
      const levels = Tensor.fromArray([0.2, 0.5, 0.9], [3]);
      const y = model.forward(x, levels, { dropoutSeed: 1 });
      assert.deepEqual([...y.shape], [3, 3, 16, 16]);
      const values = await y.read();
      assert.ok(values.every(Number.isFinite), `${blockStyle}: finite output`);
      model.dispose();
    }
  });
});
