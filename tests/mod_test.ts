/**
 * The public API end to end, as a researcher's Deno script uses it: everything imported from mod.ts.
 */
import assert from "node:assert/strict";
import { exportTiles, loadModel, prepareData, readRaster, SuperResolution } from "../mod.ts";
import { gpuTest } from "./helpers/gpu.ts";
import { getRuntime, setRuntime } from "../mod.ts";

const scene = new URL("../testdata/opengeos-naip/m_4709963_se_14_1_20200831.tif", import.meta.url).pathname;

Deno.test(
  "mod.ts: export, train a small SR3 a few hundred steps, sample with all three samplers, predict",
  gpuTest,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await exportTiles({
        hrPath: scene,
        outDir: `${dir}/chips`,
        chipSize: 16,
        bands: [0, 1, 2],
        region: { x: 0, y: 0, width: 320, height: 160 },
      });
      const data = await prepareData(`${dir}/chips`, { downsampleFactor: 4, batchSize: 4, valSplitPct: 5 });
      const sr = await SuperResolution.create(data, {
        innerChannel: 8,
        normGroups: 4,
        channelMults: [1, 2],
        attnRes: [8],
        resBlocks: 1,
        schedule: "linear",
        nTimestep: 100,
        linearStart: 1e-4,
        linearEnd: 0.1,
      });
      const fit = await sr.fit(undefined, {
        outDir: `${dir}/model`,
        steps: 200,
        lr: 1e-3,
        logEvery: 20,
        validateEvery: 0,
        progress: false,
        handleSignals: false,
      });
      assert.equal(fit.stopped, "finished");
      const log = (await Deno.readTextFile(`${dir}/model/train_log.jsonl`)).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.ok(
        log.at(-1).smoothedLoss < log[0].loss,
        `loss falls: ${log[0].loss} → ${log.at(-1).smoothedLoss}`,
      );
      for (
        const [samplingType, samplingSteps] of [["ddpm", undefined], ["ddim", 20], ["dpmpp", 10]] as const
      ) {
        const report = await sr.computeMetrics({ samplingType, samplingSteps, maxChips: 2 });
        assert.equal(report.chips, 2);
        assert.ok(
          Number.isFinite(report.sr3.PSNR) && report.sr3.PSNR > 5,
          `${samplingType}: PSNR ${report.sr3.PSNR}`,
        );
      }
      const png = await sr.showResults({ rows: 2, samplingType: "dpmpp", samplingSteps: 5 });
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
      sr.dispose();

      const loaded = await loadModel(`${dir}/model`);
      const lr = `${dir}/chips/images/000000000.tif`;
      const summary = await loaded.predict(lr, {
        outPath: `${dir}/sr.tif`,
        samplingType: "dpmpp",
        samplingSteps: 5,
      });
      assert.deepEqual([summary.width, summary.height], [64, 64]);
      const out = await readRaster(`${dir}/sr.tif`);
      assert.equal(out.info.dataType, "uint8");
      assert.ok(out.info.geo && Math.abs(out.info.geo.pixelSizeX - 5 / 4) < 1e-9, "5 m → 1.25 m pixels");
      loaded.dispose();
    } finally {
      getRuntime().destroy();
      setRuntime(null);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("mod.ts imports by path and by file URL from a script outside the repository, with no config", async () => {
  const dir = await Deno.makeTempDir();
  const modPath = new URL("../mod.ts", import.meta.url).pathname;
  const modUrl = new URL("../mod.ts", import.meta.url).href;
  // Touches a dependency of each layer: geotiff (read), fast-png (encode), the WGSL preprocessor (a kernel).
  const body = `
    const { info } = await readRaster(${JSON.stringify(scene)});
    await initRuntime();
    const doubled = await ops.mulScalar(Tensor.fromArray(new Float32Array([1, 2, 3]), [3]), 2).read();
    const png = encodePng({ width: 1, height: 1, data: new Uint8Array([1, 2, 3, 255]) });
    console.log(JSON.stringify({ width: info.width, doubled: Array.from(doubled), png: png.length > 0,
      api: typeof SuperResolution }));
  `;
  const names = "encodePng, initRuntime, ops, readRaster, SuperResolution, Tensor";
  try {
    for (const [file, specifier] of [["by_path.ts", modPath], ["by_url.ts", modUrl]] as const) {
      await Deno.writeTextFile(`${dir}/${file}`, `import { ${names} } from "${specifier}";\n${body}`);
      for (const command of [["check"], ["run", "-A"]] as const) {
        const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
          args: [...command, "--no-config", file],
          cwd: dir,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const err = new TextDecoder().decode(stderr);
        assert.equal(code, 0, `deno ${command[0]} ${file}: ${err}`);
        if (command[0] === "run") {
          assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), {
            width: 934,
            doubled: [2, 4, 6],
            png: true,
            api: "function",
          });
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
