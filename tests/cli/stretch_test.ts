/**
 * `sr3 upscale --stretch`: a model trained on uint8 given uint16 imagery (Landsat-like values) maps the
 * input's own range to the model's and writes uint16 in the input's units; without it, a one-line warning
 * names both sides and points at the flag.
 */
import assert from "node:assert/strict";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { readRaster } from "../../data/raster.ts";
import { sr3 } from "../helpers/cli.ts";
import { RASTERS } from "../data/helpers.ts";

const model = new URL("../../models/naip-x4", import.meta.url).pathname;

Deno.test("upscale --stretch keeps uint16 input in uint16 and its units; without it a warning names --stretch", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A 24×24 uint8 window of a bundled RGB raster, as uint16 values 627 + 30·v (627–8277).
    const source = await readRaster(RASTERS.osbsLzw, [0, 1, 2]);
    const side = 24;
    const { width, height } = source.info;
    const pixels = width * height;
    const data = new Float32Array(3 * side * side);
    for (let b = 0; b < 3; b++) {
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          data[(b * side + y) * side + x] = 627 + 30 * source.data[b * pixels + (100 + y) * width + 100 + x]!;
        }
      }
    }
    const input = `${dir}/l16.tif`;
    await writeGeoTiff(input, data, { width: side, height: side, bandCount: 3, dataType: "uint16" });
    const fast = ["--sampling-type", "mean"];

    const stretched = await sr3([
      "upscale",
      input,
      "--model",
      model,
      "--out",
      `${dir}/sr16.tif`,
      "--stretch",
      ...fast,
    ]);
    assert.equal(stretched.code, 0, stretched.stderr);
    assert.doesNotMatch(stretched.stderr, /warning/);
    const out = await readRaster(`${dir}/sr16.tif`);
    assert.equal(out.info.dataType, "uint16");
    const mean = (values: Float32Array) => values.reduce((a, v) => a + v, 0) / values.length;
    // The output is the input ×4 in its own units: same mean brightness within a few percent.
    assert.ok(Math.abs(mean(out.data) / mean(data) - 1) < 0.05, `${mean(out.data)} vs ${mean(data)}`);

    const plain = await sr3(["upscale", input, "--model", model, "--out", `${dir}/sr8.tif`, ...fast]);
    assert.equal(plain.code, 0, plain.stderr);
    const warnings = plain.stderr.split("\n").filter((line) => line.startsWith("warning:"));
    assert.equal(warnings.length, 1, plain.stderr);
    assert.match(warnings[0]!, /model trained on uint8 0–255.*input .*l16\.tif is uint16 .*--stretch/);
    assert.equal((await readRaster(`${dir}/sr8.tif`)).info.dataType, "uint8");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
