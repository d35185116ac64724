/**
 * Whole-raster throughput for `deno task bench`: the bundled model upscales a held-back window of the
 * bundled NAIP raster with its recommended preset, the way `sr3 upscale` does, once with one chip-sized
 * tile per sampler call (sr3 0.1's defaults) and once with the current defaults (tiles sized and batched
 * by {@link defaultTiling}), and scores both against the 5 m truth so that a faster row is seen to be
 * no worse.
 * @module
 */
import { loadModel } from "../diffusion/super_resolution.ts";
import { writeDegraded } from "../data/holdout.ts";
import { rasterMetrics } from "../data/metrics.ts";
import type { Table } from "./model.ts";

const root = new URL("..", import.meta.url).pathname;
const NAIP = `${root}testdata/opengeos-naip/m_4709963_se_14_1_20200831.tif`;
/** East of column 774, which the bundled model never trained on (the README's east strip). */
const REGION = { x: 776, y: 300, width: 156, height: 156 };

/** Output megapixels per minute of whole-raster upscaling, old tiling against the defaults. */
export async function sceneTable(): Promise<Table | null> {
  const modelDir = `${root}models/naip-x4`;
  try {
    await Deno.stat(`${modelDir}/model.json`);
  } catch {
    console.log(`(scene table skipped: the bundled model ${modelDir} is only in a checkout)\n`);
    return null;
  }
  const dir = await Deno.makeTempDir({ prefix: "sr3-bench-scene-" });
  try {
    const sr = await loadModel(modelDir);
    const definition = sr.definition;
    const chipTile = definition.unet.imageSize / definition.downsampleFactor;
    await writeDegraded(NAIP, `${dir}/truth.tif`, { factor: 1, bands: [0, 1, 2], region: REGION });
    await writeDegraded(NAIP, `${dir}/lr.tif`, {
      factor: definition.downsampleFactor,
      bands: [0, 1, 2],
      region: REGION,
    });
    const runs: { name: string; tileSize?: number; batchSize?: number }[] = [
      { name: `one ${chipTile}×${chipTile} tile per call (0.1 defaults)`, tileSize: chipTile, batchSize: 1 },
      { name: "defaults" },
    ];
    const rows: string[][] = [];
    let sampling = "";
    for (const [i, run] of runs.entries()) {
      const out = `${dir}/sr-${i}.tif`;
      const start = performance.now();
      const summary = await sr.predict(`${dir}/lr.tif`, {
        outPath: out,
        tileSize: run.tileSize,
        batchSize: run.batchSize,
      });
      const minutes = (performance.now() - start) / 60_000;
      sampling = summary.sampling;
      const megapixels = (REGION.width * REGION.height) / 1e6;
      const metrics = await rasterMetrics(out, `${dir}/truth.tif`);
      rows.push([
        run.name,
        `${summary.tileSize} LR, ${summary.batchSize}/call`,
        String(summary.tiles),
        (minutes * 60).toFixed(1),
        (megapixels / minutes).toFixed(4),
        metrics.psnr.toFixed(2),
        metrics.ssim.toFixed(4),
      ]);
    }
    const base = Number(rows[0]![4]);
    for (const row of rows) row.push(`${(Number(row[4]) / base).toFixed(2)}×`);
    sr.dispose();
    return {
      title:
        `Whole-raster upscale, models/naip-x4 (${sampling}), NAIP window ${REGION.width}×${REGION.height} ` +
        "at 5 m from its ×4 degraded 20 m version",
      columns: ["tiling", "tiles", "count", "seconds", "output MP/min", "PSNR dB", "SSIM", "speed-up"],
      rows,
      notes: ["PSNR/SSIM against the 5 m truth; the window lies east of every training chip"],
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
