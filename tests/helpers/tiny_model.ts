/**
 * The smallest real model and input for whole-raster tests: the PyTorch fixture UNet (3 bands, 16-px
 * chips, ×4, so 4-px low-resolution tiles) and a corner of the NEON orthophoto, so that a diffusion
 * upscale of many tiles takes seconds on a software adapter.
 */
import { importTorchCheckpoint } from "../../diffusion/import_torch.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { readRaster } from "../../data/raster.ts";
import { windowGeo } from "../../data/geo.ts";
import { RASTERS } from "../data/helpers.ts";
import { withRuntime } from "./gpu.ts";

const fixture = new URL("../../testdata/torch/", import.meta.url).pathname;

/** Imports the fixture model into `dir`/model and returns that directory. */
export async function makeTinyModel(dir: string): Promise<string> {
  await withRuntime(async () => {
    await importTorchCheckpoint(
      `${fixture}ref_small.safetensors`,
      `${fixture}ref_small.config.json`,
      `${dir}/model`,
      { downsampleFactor: 4 },
    );
  });
  return `${dir}/model`;
}

/** Writes the `width`×`height` window at (x, y) of the NEON orthophoto (3 bands, uint8, georeferenced). */
export async function writeOrthoWindow(
  path: string,
  width: number,
  height: number,
  x = 0,
  y = 0,
): Promise<void> {
  const { info, data } = await readRaster(RASTERS.osbsLzw);
  const window = new Float32Array(3 * width * height);
  for (let b = 0; b < 3; b++) {
    for (let r = 0; r < height; r++) {
      const from = (b * info.height + y + r) * info.width + x;
      window.set(data.subarray(from, from + width), (b * height + r) * width);
    }
  }
  await writeGeoTiff(path, window, {
    width,
    height,
    bandCount: 3,
    dataType: "uint8",
    nodata: info.nodata,
    geo: info.geo ? windowGeo(info.geo, x, y) : null,
  });
}
