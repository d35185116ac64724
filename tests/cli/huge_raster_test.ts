/**
 * Valid rasters of 20000 rows (sparse: GDAL writes no blocks, so they cost nothing on disk) must not make
 * `sr3 upscale` grow with their size: it reads tile rows and streams output strips. (`sr3 metrics` refuses
 * such a pair up front with the memory it would need: tests/data/raster_test.ts.)
 */
import assert from "node:assert/strict";
import { SR3_ARGS } from "../helpers/cli.ts";

const model = new URL("../../models/naip-x4", import.meta.url).pathname;
const hasGdalCreate = new Deno.Command("sh", { args: ["-c", "command -v gdal_create"] }).outputSync().success;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Peak resident memory (VmHWM) of a running process, in MiB. */
function peakMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** A sparse uint8 RGB GeoTIFF of width × height. */
async function sparseRaster(path: string, width: number, height: number): Promise<void> {
  const made = await new Deno.Command("gdal_create", {
    args: ["-of", "GTiff", "-outsize", String(width), String(height), "-bands", "3", "-ot", "Byte"]
      .concat(["-co", "SPARSE_OK=TRUE", "-co", "TILED=YES", "-a_srs", "EPSG:32614"])
      .concat(["-a_ullr", "0", String(30 * height), String(30 * width), "0", path]),
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(made.success, "gdal_create");
}

/** Runs `sr3 upscale` (mean predictor only) on `input`, reads its peak memory at `times` ms, then stops it. */
async function upscalePeaks(input: string, out: string, times: number[]): Promise<number[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...SR3_ARGS, "upscale", input, "--model", model, "--out", out, "--sampling-type", "mean"],
    stdout: "null",
    stderr: "null",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).spawn();
  const peaks: number[] = [];
  let elapsed = 0;
  for (const at of times) {
    await wait(at - elapsed);
    elapsed = at;
    peaks.push(peakMiB(child.pid));
  }
  child.kill("SIGTERM");
  const { code } = await child.output();
  assert.equal(code, 143, "SIGTERM ends it with 143");
  return peaks;
}

Deno.test({
  name:
    "upscale of 20000-row rasters starts at once, levels off in memory, and leaves nothing behind when stopped",
  ignore: !hasGdalCreate,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // 2000 × 20000: a tile row takes seconds, so memory must level off once a few rows are done. (The
      // mean predictor's activations used to leak ~3 MB per tile: +70 MB every second, without end.)
      await sparseRaster(`${dir}/tall.tif`, 2000, 20000);
      const [early, late] = await upscalePeaks(`${dir}/tall.tif`, `${dir}/tall_sr.tif`, [10_000, 25_000]);
      assert.ok(
        late! < early! * 1.15 + 64,
        `memory kept growing: ${early!.toFixed(0)} → ${late!.toFixed(0)} MiB`,
      );
      // 20000 × 20000: the input as float32 would be 4.5 GiB and the output 72 GiB; upscale holds a few
      // rows of tiles of an 80000-pixel-wide output.
      await sparseRaster(`${dir}/huge.tif`, 20000, 20000);
      const [peak] = await upscalePeaks(`${dir}/huge.tif`, `${dir}/huge_sr.tif`, [25_000]);
      assert.ok(peak! < 1536, `upscale peaked at ${peak!.toFixed(0)} MiB`);
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(left, ["huge.tif", "tall.tif"], "no partial output left behind");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
