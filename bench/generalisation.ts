/**
 * `deno task quality`: does a model beat bicubic on imagery it never saw? For fixed 128×128 windows of
 * every bundled raster (the NAIP scene's held-back east strip, NEON 0.1 m, a 0.25 m and a 0.6 m aerial,
 * Landsat 7 at 300 m), the window is downsampled ×factor by antialiased bicubic, upscaled by the model
 * exactly as `sr3 upscale` does (its default preset, and the others asked for), and scored with
 * PSNR/SSIM/SAM/ERGAS/HF against the real pixels, next to bicubic and the mean predictor alone.
 *
 *     deno task quality [--model models/naip-x4] [--presets fidelity,perceptual] [--out quality-output]
 *
 * The windows are fixed here, chosen by position only (corners and centres), not by how a model does
 * on them; the per-raster mean is the number to read.
 * @module
 */
import { parseArgs } from "node:util";
import { writeHoldoutPair } from "../data/holdout.ts";
import { imageMetrics } from "../data/metrics.ts";
import { normalize } from "../data/normalize.ts";
import { readRaster } from "../data/raster.ts";
import { resizeBicubic } from "../data/resample.ts";
import { type MetricPair, metricPair } from "../diffusion/evaluate.ts";
import type { InferencePreset } from "../diffusion/inference.ts";
import { SuperResolution } from "../diffusion/super_resolution.ts";
import { printTable } from "./model.ts";

const root = new URL("..", import.meta.url).pathname;

/** A bundled raster and the windows scored on it. */
export interface QualitySite {
  /** The raster as the table names it. */
  name: string;
  /** Its path from the checkout's root. */
  path: string;
  /** Top-left corners of the 128×128 windows scored. */
  windows: [number, number][];
}

/** 128×128 windows; the NAIP ones lie east of column 773, which the bundled model never saw. */
export const QUALITY_SITES: QualitySite[] = [
  {
    name: "NAIP 5 m, held-back strip",
    path: "testdata/opengeos-naip/m_4709963_se_14_1_20200831.tif",
    windows: [[790, 340], [800, 60], [800, 580]],
  },
  {
    name: "NEON 0.1 m (Florida)",
    path: "testdata/deepforest-aerial/OSBS_029.tif",
    windows: [[0, 0], [136, 136], [272, 272]],
  },
  {
    name: "aerial 0.25 m (Netherlands, JPEG)",
    path: "testdata/deepforest-aerial/test_tiled.tif",
    windows: [[100, 100], [436, 436], [772, 772]],
  },
  {
    name: "aerial 0.6 m (Korea, winter, JPEG)",
    path: "testdata/rasterio/cogeo.tif",
    windows: [[128, 128], [448, 448], [768, 768]],
  },
  {
    name: "Landsat 7, 300 m (Bahamas)",
    path: "testdata/rasterio/RGB.byte.tif",
    windows: [[332, 295], [250, 200], [420, 380]],
  },
];

/** Every metric; with the factor known, ERGAS and HF are always computed. */
type Scores = Required<MetricPair>;

function average(list: Scores[]): Scores {
  const out = { PSNR: 0, SSIM: 0, SAM: 0, ERGAS: 0, HF: 0 };
  for (const s of list) for (const k of Object.keys(out) as (keyof Scores)[]) out[k] += s[k] / list.length;
  return out;
}

/** Scores the model on every site; returns the per-site averages by method. */
export async function generalisation(
  modelDir: string,
  presets: InferencePreset[],
  outDir: string,
  sites: readonly QualitySite[] = QUALITY_SITES,
): Promise<Map<string, Map<string, Scores>>> {
  const sr = await SuperResolution.fromModel(modelDir);
  const factor = sr.definition.downsampleFactor;
  const methods = ["bicubic", ...(sr.meanNet ? ["mean"] : []), ...presets];
  const results = new Map<string, Map<string, Scores>>();
  await Deno.mkdir(outDir, { recursive: true });
  for (const site of sites) {
    const perMethod = new Map<string, Scores[]>(methods.map((m) => [m, []]));
    for (const [x, y] of site.windows) {
      const prefix = `${outDir}/${site.path.split("/").at(-1)!.replace(".tif", "")}_${x}_${y}`;
      const pair = await writeHoldoutPair(
        `${root}${site.path}`,
        { x, y, size: 128 },
        [0, 1, 2],
        factor,
        prefix,
      );
      const pixels = pair.size * pair.size;
      const signed = (native: Float32Array) => normalize(native, pixels, sr.definition.normalization);
      const truth = signed(pair.hr);
      const score = (image: Float32Array): Scores =>
        metricPair(imageMetrics(signed(image), truth, pair.size, pair.size, { factor })) as Scores;
      perMethod.get("bicubic")!.push(
        score(resizeBicubic(pair.lr, pair.lrSize, pair.lrSize, pair.size, pair.size)),
      );
      for (const method of methods.slice(1)) {
        const out = `${prefix}_${method}.tif`;
        await sr.predict(`${prefix}_lr.tif`, {
          outPath: out,
          ...(method === "mean" ? { samplingType: "mean" as const } : { preset: method as InferencePreset }),
          seed: 1,
          overwrite: true,
        });
        perMethod.get(method)!.push(score((await readRaster(out)).data));
      }
    }
    results.set(site.name, new Map([...perMethod].map(([m, list]) => [m, average(list)])));
  }
  sr.dispose();
  return results;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: `${root}models/naip-x4` },
      presets: { type: "string", default: "fidelity" },
      out: { type: "string", default: "quality-output" },
    },
  });
  const presets = values.presets.split(",").filter(Boolean) as InferencePreset[];
  const start = performance.now();
  const results = await generalisation(values.model, presets, values.out);
  const rows: string[][] = [];
  for (const [site, byMethod] of results) {
    for (const [method, s] of byMethod) {
      rows.push([
        site,
        method,
        s.PSNR.toFixed(2),
        s.SSIM.toFixed(4),
        s.SAM.toFixed(2),
        s.ERGAS.toFixed(2),
        s.HF.toFixed(3),
      ]);
    }
  }
  printTable({
    title: `${values.model}: ×4 on 128×128 windows it never saw (mean of 3 windows per raster)`,
    columns: ["raster", "method", "PSNR dB", "SSIM", "SAM °", "ERGAS", "HF"],
    rows,
    notes: [
      "LR = antialiased bicubic ↓4 of the window; PSNR/SSIM/SAM on uint8 RGB, no border crop; ERGAS h/l = 1/4; " +
      "HF = energy above the LR Nyquist relative to HR (~0 blur, ~1 HR-like texture)",
      `${((performance.now() - start) / 1000).toFixed(0)} s; pairs and outputs in ${values.out}/`,
    ],
  });
}
