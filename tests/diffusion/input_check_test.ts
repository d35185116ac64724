/** An input unlike the training data gets a one-line warning naming both sides. */
import assert from "node:assert/strict";
import { scaleGeo } from "../../data/geo.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { openRaster } from "../../data/raster.ts";
import { RASTERS } from "../data/helpers.ts";
import { inputMismatch } from "../../diffusion/input_check.ts";
import { newModelDefinition } from "../../diffusion/model_dir.ts";
import { unetConfig } from "../../nn/unet.ts";

const uint8Model = newModelDefinition({
  unet: unetConfig("tiny", { imageSize: 16 }),
  schedule: { schedule: "linear", nTimestep: 10, linearStart: 1e-6, linearEnd: 1e-2 },
  downsampleFactor: 4,
  normalization: { method: "dataTypeRange", dataType: "uint8", low: [0, 0, 0], high: [255, 255, 255] },
  batchSize: 1,
});

Deno.test("uint16 Landsat-like values into a uint8 model are named in one line; uint8 input is not", async () => {
  const dir = await Deno.makeTempDir();
  const size = 100;
  const landsat = Float32Array.from(
    { length: 3 * size * size },
    (_, i) => 627 + (i * 7919) % (8431 - 627 + 1),
  );
  landsat[0] = 627;
  landsat[1] = 8431;
  await writeGeoTiff(`${dir}/l8.tif`, landsat, {
    width: size,
    height: size,
    bandCount: 3,
    dataType: "uint16",
  });
  const warning = await inputMismatch(`${dir}/l8.tif`, uint8Model);
  assert.ok(warning && !warning.includes("\n"));
  assert.match(warning, /^model trained on uint8 0–255; input .*l8\.tif is uint16 627–8431: /);

  // The same pixels at 30 m for a model trained on 5 m chips ×4 (20 m input): the scale is named too.
  const source = await openRaster(RASTERS.naip4Band);
  const naip = source.geo!;
  await source.close();
  const geo = scaleGeo(naip, naip.pixelSizeX / 30);
  const at30 = Float32Array.from({ length: 3 * size * size }, (_, i) => i % 256);
  await writeGeoTiff(`${dir}/30m.tif`, at30, {
    width: size,
    height: size,
    bandCount: 3,
    dataType: "uint8",
    geo,
  });
  assert.match(
    (await inputMismatch(`${dir}/30m.tif`, { ...uint8Model, pixelSize: 5 }))!,
    /^model trained on uint8 0–255, pixel size 20; input .*30m\.tif is uint8 0–255, pixel size 30: /,
  );
  assert.equal(
    await inputMismatch(`${dir}/30m.tif`, { ...uint8Model, pixelSize: 7.5 }),
    null,
    "30 m = 7.5 m × 4",
  );

  const rgb = Float32Array.from({ length: 3 * size * size }, (_, i) => i % 256);
  await writeGeoTiff(`${dir}/rgb.tif`, rgb, { width: size, height: size, bandCount: 3, dataType: "uint8" });
  assert.equal(await inputMismatch(`${dir}/rgb.tif`, uint8Model), null);
  await Deno.remove(dir, { recursive: true });
});
