import assert from "node:assert/strict";
import { encodePngBytes } from "../../deps.ts";
import { cropSquare, symmetry, transformSquare } from "../../data/augment.ts";
import { type Batch, loadChipDataset } from "../../data/dataset.ts";
import { DataError } from "../../base/errors.ts";
import { exportTiles } from "../../data/export.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { readRaster } from "../../data/raster.ts";
import { SeededRandom } from "../../data/random.ts";
import { resizeBicubic, resizeBicubicUint8 } from "../../data/resample.ts";
import { RASTERS, testdata, withTempDir } from "./helpers.ts";

/** Sample n of a batch array holding `length` values per sample. */
function part(array: Float32Array, n: number, length: number): Float32Array {
  return array.slice(n * length, (n + 1) * length);
}

function transformed(image: Float32Array, size: number, index: number): Float32Array {
  const out = new Float32Array(image.length);
  transformSquare(image, size, symmetry(index), out);
  return out;
}

/** The expected (un-augmented) hr, lr and lrUp of a uint8 chip made LR by ×4 bicubic (Pillow's 8-bit path). */
function expectedUint8(chip: Float32Array, size: number, factor: number) {
  const lrSize = size / factor;
  const lrNative = Float32Array.from(resizeBicubicUint8(Uint8Array.from(chip), size, size, lrSize, lrSize));
  const lr = lrNative.map((v) => v / 127.5 - 1);
  return { hr: chip.map((v) => v / 127.5 - 1), lr, lrUp: resizeBicubic(lr, lrSize, lrSize, size, size) };
}

function assertClose(actual: Float32Array, expected: Float32Array, label: string): void {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > 1e-5) {
      assert.fail(`${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

Deno.test("a folder tree of chips: seeded split, NCHW shapes, values in [-1, 1], validation = exact pipeline", async () => {
  const dataset = await loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 4, valSplitPct: 10, seed: 7 });
  assert.deepEqual([dataset.trainNames.length, dataset.valNames.length], [89, 10]);
  assert.deepEqual(
    [dataset.chipSize, dataset.lrChipSize, dataset.factor, dataset.bandCount, dataset.paired],
    [28, 7, 4, 4, false],
  );
  assert.deepEqual(dataset.normalization, {
    method: "dataTypeRange",
    dataType: "uint8",
    low: [0, 0, 0, 0],
    high: [255, 255, 255, 255],
  });
  assert.equal(new Set([...dataset.trainNames, ...dataset.valNames]).size, 99);
  const again = await loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 4, seed: 7 });
  assert.deepEqual(again.valNames, dataset.valNames);
  const other = await loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 4, seed: 8 });
  assert.notDeepEqual(other.valNames, dataset.valNames);

  const batches = [...dataset.validationBatches(4)];
  assert.deepEqual(batches.map((b) => b.shape.batch), [4, 4, 2]);
  const first = batches[0]!;
  assert.deepEqual(first.shape, { batch: 4, channels: 4, height: 28, width: 28, lrHeight: 7, lrWidth: 7 });
  assert.deepEqual([first.hr.length, first.lrUp.length, first.lr.length, first.mask.length], [
    4 * 4 * 784,
    4 * 4 * 784,
    4 * 4 * 49,
    4 * 784,
  ]);
  const chip = (await readRaster(testdata(`sat6-chips/${first.names[1]}`))).data;
  const expected = expectedUint8(chip, 28, 4);
  assertClose(part(first.hr, 1, 4 * 784), expected.hr, "hr");
  assertClose(part(first.lr, 1, 4 * 49), expected.lr, "lr");
  assertClose(part(first.lrUp, 1, 4 * 784), expected.lrUp, "lrUp");
  assert.ok(first.mask.every((v) => v === 1));
});

Deno.test("training batches apply one flip/rotation jointly to hr, lr, lrUp and mask", async () => {
  const dataset = await loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 4, seed: 1 });
  const batch = dataset.nextBatch(16, new SeededRandom(5));
  const used = new Set<number>();
  for (let n = 0; n < 16; n++) {
    const chip = (await readRaster(testdata(`sat6-chips/${batch.names[n]}`))).data;
    const plain = expectedUint8(chip, 28, 4);
    const hr = part(batch.hr, n, 4 * 784);
    const turn = [0, 1, 2, 3, 4, 5, 6, 7].find((t) =>
      transformed(plain.hr, 28, t).every((v, i) => Math.abs(v - hr[i]!) < 1e-6)
    );
    assert.notEqual(turn, undefined, `sample ${n} is not a symmetry of its chip`);
    used.add(turn!);
    assertClose(part(batch.lr, n, 4 * 49), transformed(plain.lr, 7, turn!), `lr ${n}`);
    assertClose(part(batch.lrUp, n, 4 * 784), transformed(plain.lrUp, 28, turn!), `lrUp ${n}`);
  }
  assert.ok(used.size >= 4, `only symmetries ${[...used]} in 16 samples`);
});

Deno.test("the training order is resumable: (seed, epoch, position) plus the random state reproduce batches", async () => {
  const options = { downsampleFactor: 4, seed: 3, valSplitPct: 20 };
  const reference = await loadChipDataset(RASTERS.sat6Dir, options);
  const random = new SeededRandom(11);
  const sequence: Batch[] = [];
  for (let i = 0; i < 6; i++) sequence.push(reference.nextBatch(15, random)); // 79 train chips: crosses an epoch
  assert.equal(reference.state.epoch, 1);
  const first = await loadChipDataset(RASTERS.sat6Dir, options);
  const firstRandom = new SeededRandom(11);
  first.nextBatch(15, firstRandom);
  first.nextBatch(15, firstRandom);
  const saved = { data: first.state, random: firstRandom.state };
  assert.deepEqual(saved.data, { seed: 3, epoch: 0, position: 30 });
  const resumed = await loadChipDataset(RASTERS.sat6Dir, options);
  resumed.restore(JSON.parse(JSON.stringify(saved.data)));
  const resumedRandom = new SeededRandom(0);
  resumedRandom.state = saved.random;
  for (let i = 2; i < 6; i++) {
    const batch = resumed.nextBatch(15, resumedRandom);
    assert.deepEqual(batch.names, sequence[i]!.names);
    assert.deepEqual(batch.hr, sequence[i]!.hr);
  }
  // Each epoch visits every training chip once.
  const epochNames = sequence.flatMap((b) => b.names).slice(0, 79);
  assert.equal(new Set(epochNames).size, 79);
  assert.throws(() => resumed.restore({ seed: 4, epoch: 0, position: 0 }), RangeError);
});

Deno.test("an Export Tiles folder with labels pairs HR and LR chips; uint16 uses percentile normalisation", () =>
  withTempDir(async (dir) => {
    const hr = await readRaster(RASTERS.mosaicUint16);
    const { width, height } = hr.info;
    const [lrWidth, lrHeight] = [Math.floor(width / 4), Math.floor(height / 4)];
    const cropped = new Float32Array(3 * lrWidth * 4 * lrHeight * 4);
    for (let b = 0; b < 3; b++) {
      for (let y = 0; y < lrHeight * 4; y++) {
        cropped.set(
          hr.data.subarray((b * height + y) * width, (b * height + y) * width + lrWidth * 4),
          (b * lrHeight * 4 + y) * lrWidth * 4,
        );
      }
    }
    const low = resizeBicubic(cropped, lrWidth * 4, lrHeight * 4, lrWidth, lrHeight);
    const geo = {
      ...hr.info.geo!,
      pixelSizeX: hr.info.geo!.pixelSizeX * 4,
      pixelSizeY: hr.info.geo!.pixelSizeY * 4,
    };
    await writeGeoTiff(`${dir}/lr.tif`, low, {
      width: lrWidth,
      height: lrHeight,
      bandCount: 3,
      dataType: "uint16",
      nodata: 0,
      geo,
    });
    const { manifest } = await exportTiles({
      hrPath: RASTERS.mosaicUint16,
      lrPath: `${dir}/lr.tif`,
      outDir: `${dir}/chips`,
      chipSize: 96,
      maxNodata: 0.3,
    });
    const dataset = await loadChipDataset(`${dir}/chips`, { valSplitPct: 25, chipSize: 64 });
    assert.deepEqual([dataset.paired, dataset.factor, dataset.lrChipSize, dataset.dataType], [
      true,
      4,
      16,
      "uint16",
    ]);
    assert.equal(dataset.normalization.method, "percentile");
    assert.deepEqual(dataset.normalization.low, manifest.statistics.map((s) => s.percentiles["p0.1"]));
    const [val] = [...dataset.validationBatches(1)];
    const name = val!.names[0]!;
    // Centre crop of a 96 chip to 64 on a multiple of the factor: offset 16 (HR), 4 (LR).
    const label = await readRaster(`${dir}/chips/labels/${name}`);
    const lrNative = cropSquare(label.data, 24, 24, 4, 4, 16);
    const { low: lowBounds, high } = dataset.normalization;
    const lrExpected = lrNative.map((v, i) => {
      const b = Math.floor(i / 256);
      return v === 0
        ? 0
        : Math.min(1, Math.max(-1, ((v - lowBounds[b]!) / (high[b]! - lowBounds[b]!)) * 2 - 1));
    });
    assertClose(val!.lr, lrExpected, "lr from labels");
    await assert.rejects(
      loadChipDataset(`${dir}/chips`, { downsampleFactor: 2 }),
      /downsampleFactor 2 does not match the labels, which are 4× coarser/,
    );
  }));

Deno.test("nodata pixels are masked out; larger chips are cropped; PNG chips load too", () =>
  withTempDir(async (dir) => {
    const data = new Float32Array(3 * 16 * 12).fill(100);
    for (let i = 0; i < 16 * 4; i++) for (let b = 0; b < 3; b++) data[b * 192 + i] = 0; // top 4 rows nodata
    await Deno.mkdir(`${dir}/set`);
    await writeGeoTiff(`${dir}/set/a.tif`, data, {
      width: 16,
      height: 12,
      bandCount: 3,
      dataType: "uint8",
      nodata: 0,
    });
    const rgb = new Uint8Array(16 * 12 * 3).fill(50);
    await Deno.writeFile(
      `${dir}/set/b.png`,
      encodePngBytes({ width: 16, height: 12, data: rgb, channels: 3, depth: 8 }),
    );
    const dataset = await loadChipDataset(`${dir}/set`, { downsampleFactor: 2, chipSize: 8, valSplitPct: 0 });
    assert.deepEqual([dataset.trainNames, dataset.chipSize], [["a.tif", "b.png"], 8]);
    const random = new SeededRandom(2);
    let maskedPixels = 0;
    for (let i = 0; i < 10; i++) {
      const batch = dataset.nextBatch(2, random);
      const n = batch.names.indexOf("a.tif");
      const mask = part(batch.mask, n, 64);
      const hr = part(batch.hr, n, 3 * 64);
      // Nodata HR pixels are 0 and masked; valid ones next to nodata LR pixels are masked too.
      for (let p = 0; p < 64; p++) {
        if (mask[p] === 1) assert.ok(Math.abs(hr[p]! - (100 / 127.5 - 1)) < 1e-6);
        if (hr[p] === 0) assert.equal(mask[p], 0);
        if (mask[p] === 0) maskedPixels++;
      }
      assert.ok(part(batch.mask, 1 - n, 64).every((v) => v === 1));
    }
    assert.ok(maskedPixels > 0, "random crops never reached the nodata rows");
  }));

Deno.test("bad datasets: missing folder, no images, missing factor, missing label, too-small chips, mixed bands", () =>
  withTempDir(async (dir) => {
    const fails = async (promise: Promise<unknown>, pattern: RegExp) =>
      await assert.rejects(
        promise,
        (error: unknown) => error instanceof DataError && pattern.test(error.message),
      );
    await fails(
      loadChipDataset(`${dir}/nowhere`, { downsampleFactor: 4 }),
      /nowhere: cannot open the dataset folder/,
    );
    await Deno.mkdir(`${dir}/empty`);
    await fails(
      loadChipDataset(`${dir}/empty`, { downsampleFactor: 4 }),
      /empty: no \.tif, \.png or \.jpg images found/,
    );
    await fails(
      loadChipDataset(RASTERS.sat6Dir),
      /sat6-chips: no labels\/ folder, so downsampleFactor is needed/,
    );
    await fails(
      loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 4, chipSize: 32 }),
      /chip of 28×28 is smaller than the chip size 32/,
    );
    await fails(
      loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 3 }),
      /chip size 28 is not a positive multiple of the factor 3/,
    );
    await fails(
      loadChipDataset(RASTERS.sat6Dir, { downsampleFactor: 4, bands: [4] }),
      /band 5 \(index 4\) does not exist/,
    );
    await Deno.mkdir(`${dir}/pairs/images`, { recursive: true });
    await Deno.mkdir(`${dir}/pairs/labels`);
    const header = { width: 8, height: 8, bandCount: 3, dataType: "uint8" as const };
    await writeGeoTiff(`${dir}/pairs/images/x.tif`, new Float32Array(192), header);
    await fails(loadChipDataset(`${dir}/pairs`), /labels\/x\.tif: the label for x\.tif is missing/);
    await writeGeoTiff(`${dir}/mixed/one.tif`, new Float32Array(192), header);
    await writeGeoTiff(`${dir}/mixed/two.tif`, new Float32Array(64), { ...header, bandCount: 1 });
    await fails(
      loadChipDataset(`${dir}/mixed`, { downsampleFactor: 2 }),
      /two\.tif: 1 uint8 bands, but .*one\.tif has 3 uint8 bands/,
    );
  }));
