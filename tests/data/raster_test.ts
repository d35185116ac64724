import assert from "node:assert/strict";
import { encodePngBytes, jpeg } from "../../deps.ts";
import { DataError } from "../../base/errors.ts";
import { assertMemoryFor } from "../../data/geotiff_source.ts";
import { openRaster, readRaster } from "../../data/raster.ts";
import { writeGeoTiff } from "../../data/geotiff_writer.ts";
import { FieldType } from "../../data/tiff_layout.ts";
import { craftTiff, gdal, hasGdal, RASTERS, withTempDir } from "./helpers.ts";

/** Pixel (x, y) of every band of a band-sequential window of width w, height h. */
function pixel(data: Float32Array, w: number, h: number, x: number, y: number): number[] {
  const bands = data.length / (w * h);
  return Array.from({ length: bands }, (_, b) => data[b * w * h + y * w + x]!);
}

async function readPixel(path: string, x: number, y: number): Promise<number[]> {
  const source = await openRaster(path);
  try {
    return Array.from(await source.readWindow(x, y, 1, 1));
  } finally {
    await source.close();
  }
}

// Expected values below come from `gdallocationinfo -valonly <file> x y` (GDAL 3.6.2).

Deno.test("openRaster reads the header, CRS and geotransform of a striped uncompressed GeoTIFF", async () => {
  const source = await openRaster(RASTERS.rgbByte);
  try {
    assert.equal(source.format, "geotiff");
    assert.deepEqual([source.width, source.height, source.bandCount], [791, 718, 3]);
    assert.equal(source.dataType, "uint8");
    assert.equal(source.nodata, 0);
    const geo = source.geo!;
    assert.equal(geo.epsg, 32618);
    assert.equal(geo.originX, 101985);
    assert.equal(geo.originY, 2826915);
    assert.ok(Math.abs(geo.pixelSizeX - 300.037926675094809) < 1e-9);
    assert.ok(Math.abs(geo.pixelSizeY + 300.041782729804993) < 1e-9);
    assert.equal(geo.geoKeys.asciiParams, "WGS 84 / UTM zone 18N|WGS 84|");
  } finally {
    await source.close();
  }
  assert.deepEqual(await readPixel(RASTERS.rgbByte, 400, 300), [11, 15, 20]);
  assert.deepEqual(await readPixel(RASTERS.rgbByte, 790, 717), [0, 0, 0]);
});

Deno.test("openRaster reads tiled DEFLATE uint16, LZW with nodata 255, and 4-band NAIP", async () => {
  assert.deepEqual(await readPixel(RASTERS.mosaicUint16, 300, 300), [9595, 8880, 9506]);
  assert.deepEqual(await readPixel(RASTERS.mosaicUint16, 500, 600), [8128, 8352, 9131]);
  assert.deepEqual(await readPixel(RASTERS.osbsLzw, 10, 20), [82, 90, 74]);
  assert.deepEqual(await readPixel(RASTERS.osbsLzw, 399, 399), [123, 141, 108]);
  assert.deepEqual(await readPixel(RASTERS.naip4Band, 100, 100), [169, 150, 133, 132]);
  assert.deepEqual(await readPixel(RASTERS.naip4Band, 933, 722), [102, 110, 83, 168]);
  const mosaic = await openRaster(RASTERS.mosaicUint16);
  const osbs = await openRaster(RASTERS.osbsLzw);
  const naip = await openRaster(RASTERS.naip4Band);
  try {
    assert.equal(mosaic.dataType, "uint16");
    assert.equal(mosaic.nodata, 0);
    assert.equal(osbs.nodata, 255);
    assert.equal(osbs.geo?.epsg, 32617);
    assert.equal(naip.geo?.epsg, 26914);
    assert.deepEqual([naip.geo?.originX, naip.geo?.originY, naip.geo?.pixelSizeX], [485899, 5209246, 5]);
  } finally {
    await Promise.all([mosaic.close(), osbs.close(), naip.close()]);
  }
});

Deno.test("a TIFF without georeferencing (SAT-6 chip) has geo = null", async () => {
  const source = await openRaster(RASTERS.sat6Chip);
  try {
    assert.equal(source.geo, null);
    assert.deepEqual([source.width, source.height, source.bandCount], [28, 28, 4]);
  } finally {
    await source.close();
  }
  assert.deepEqual(await readPixel(RASTERS.sat6Chip, 5, 7), [106, 116, 109, 175]);
});

Deno.test("YCbCr JPEG GeoTIFFs decode to RGB (spot values within JPEG decoder tolerance)", async () => {
  // libjpeg (GDAL) upsamples chroma with a triangle filter, npm:geotiff by replication: a few levels apart.
  const near = (actual: number[], expected: number[]) =>
    actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 4, `${actual} vs ${expected}`));
  near(await readPixel(RASTERS.cogeoJpeg, 512, 512), [168, 195, 212]);
  near(await readPixel(RASTERS.tiledJpeg, 600, 300), [63, 82, 86]);
  const cogeo = await openRaster(RASTERS.cogeoJpeg);
  try {
    assert.equal(cogeo.geo?.epsg, 3857);
    assert.equal(cogeo.bandCount, 3);
  } finally {
    await cogeo.close();
  }
});

Deno.test({
  name:
    "YCbCr JPEG decoding matches GDAL: luma exact up to rounding, colour within chroma-upsampling differences",
  ignore: !hasGdal,
  fn: () =>
    withTempDir(async (dir) => {
      // libjpeg (GDAL) upsamples 4:2:0 chroma with a triangle filter, npm:geotiff by replication, so colour
      // differs by a few levels at colour edges while luma (full resolution) must agree up to RGB rounding.
      for (const path of [RASTERS.cogeoJpeg, RASTERS.tiledJpeg]) {
        const reference = `${dir}/reference.tif`;
        await gdal("gdal_translate", ["-q", "-co", "COMPRESS=NONE", path, reference]);
        const ours = await readRaster(path);
        const gdals = await readRaster(reference);
        const n = ours.info.width * ours.info.height;
        const luma = (d: Float32Array, i: number) =>
          0.299 * d[i]! + 0.587 * d[n + i]! + 0.114 * d[2 * n + i]!;
        let maxLumaDiff = 0;
        for (let i = 0; i < n; i++) {
          maxLumaDiff = Math.max(maxLumaDiff, Math.abs(luma(ours.data, i) - luma(gdals.data, i)));
        }
        let sum = 0;
        let within2 = 0;
        for (let i = 0; i < ours.data.length; i++) {
          const d = Math.abs(ours.data[i]! - gdals.data[i]!);
          sum += d;
          if (d <= 2) {
            within2++;
          }
        }
        assert.ok(maxLumaDiff < 2, `${path}: max luma difference ${maxLumaDiff}`);
        assert.ok(sum / ours.data.length < 0.5, `${path}: mean |Δ| ${sum / ours.data.length}`);
        assert.ok(
          within2 / ours.data.length > 0.98,
          `${path}: ${within2 / ours.data.length} within 2 levels`,
        );
        await Deno.remove(reference);
      }
    }),
});

Deno.test({
  name:
    "every data type, striped/tiled, band-interleaved and LZW/DEFLATE/none files written by GDAL read back exactly",
  ignore: !hasGdal,
  fn: () =>
    withTempDir(async (dir) => {
      const window = ["-srcwin", "200", "300", "97", "61"];
      const crop = await (async () => {
        const src = await openRaster(RASTERS.mosaicUint16);
        try {
          return await src.readWindow(200, 300, 97, 61);
        } finally {
          await src.close();
        }
      })();
      const cases: [string, string, string[], (v: number) => number][] = [
        ["Int16", "int16", [
          "-co",
          "COMPRESS=LZW",
          "-co",
          "TILED=YES",
          "-co",
          "BLOCKXSIZE=32",
          "-co",
          "BLOCKYSIZE=32",
        ], (v) => Math.min(32767, v)],
        ["UInt32", "uint32", ["-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=2"], (v) => v],
        ["Int32", "int32", ["-co", "INTERLEAVE=BAND"], (v) => v],
        [
          "Float32",
          "float32",
          ["-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=3", "-co", "TILED=YES"],
          (v) => v,
        ],
        ["Float64", "float64", ["-co", "COMPRESS=LZW"], (v) => v],
        [
          "Byte",
          "uint8",
          ["-co", "COMPRESS=DEFLATE", "-co", "TILED=YES", "-co", "INTERLEAVE=BAND"],
          (v) => Math.min(255, v),
        ],
      ];
      // gdal_translate -ot clamps values outside the target type's range (Int16, Byte).
      for (const [gdalType, ourType, options, expectedOf] of cases) {
        const path = `${dir}/${gdalType}.tif`;
        await gdal("gdal_translate", [
          "-q",
          "-ot",
          gdalType,
          ...window,
          ...options,
          RASTERS.mosaicUint16,
          path,
        ]);
        const read = await readRaster(path);
        assert.equal(read.info.dataType, ourType, gdalType);
        assert.equal(read.info.geo?.epsg, 32618);
        for (let i = 0; i < crop.length; i += 37) {
          assert.equal(read.data[i], expectedOf(crop[i]!), `${gdalType} ${i}`);
        }
      }
    }),
});

Deno.test("readWindow returns the chosen bands in order and fills outside the raster with nodata (or 0)", async () => {
  const source = await openRaster(RASTERS.osbsLzw);
  try {
    const window = await source.readWindow(398, 398, 4, 3, { bands: [2, 0] });
    assert.equal(window.length, 2 * 4 * 3);
    assert.deepEqual(pixel(window, 4, 3, 1, 1), [108, 123]);
    assert.deepEqual(pixel(window, 4, 3, 2, 1), [255, 255]);
    assert.deepEqual(pixel(window, 4, 3, 0, 2), [255, 255]);
    const outside = await source.readWindow(-10, -10, 5, 5);
    assert.ok(outside.every((v) => v === 255));
  } finally {
    await source.close();
  }
  const chip = await openRaster(RASTERS.sat6Chip);
  try {
    const window = await chip.readWindow(-1, 0, 2, 1, { bands: [0] });
    assert.deepEqual(Array.from(window), [0, (await chip.readWindow(0, 0, 1, 1, { bands: [0] }))[0]]);
  } finally {
    await chip.close();
  }
});

Deno.test("PNG (8/16-bit, grey/RGB/RGBA) and JPEG chips read through the same interface", () =>
  withTempDir(async (dir) => {
    const rgb = new Uint8Array(4 * 3 * 3).map((_, i) => (i * 37) % 256);
    await Deno.writeFile(
      `${dir}/rgb.png`,
      encodePngBytes({ width: 4, height: 3, data: rgb, channels: 3, depth: 8 }),
    );
    const png = await openRaster(`${dir}/rgb.png`);
    assert.deepEqual([png.format, png.width, png.height, png.bandCount, png.dataType, png.geo], [
      "png",
      4,
      3,
      3,
      "uint8",
      null,
    ]);
    assert.deepEqual(Array.from(await png.readWindow(2, 1, 1, 1)), Array.from(rgb.subarray(18, 21)));
    await png.close();

    const grey16 = new Uint16Array([0, 1000, 65535, 42]);
    await Deno.writeFile(
      `${dir}/grey.png`,
      encodePngBytes({ width: 2, height: 2, data: grey16, channels: 1, depth: 16 }),
    );
    const grey = await readRaster(`${dir}/grey.png`);
    assert.equal(grey.info.dataType, "uint16");
    assert.deepEqual(Array.from(grey.data), [0, 1000, 65535, 42]);

    const rgba = new Uint8Array(2 * 2 * 4).fill(200);
    await Deno.writeFile(
      `${dir}/rgba.png`,
      encodePngBytes({ width: 2, height: 2, data: rgba, channels: 4, depth: 8 }),
    );
    assert.equal((await readRaster(`${dir}/rgba.png`)).info.bandCount, 4);

    // A flat colour survives JPEG exactly enough to check the decode path and band layout.
    const flat = new Uint8Array(16 * 16 * 4);
    for (let i = 0; i < flat.length; i += 4) flat.set([200, 100, 50, 255], i);
    await Deno.writeFile(`${dir}/flat.jpg`, jpeg.encode({ width: 16, height: 16, data: flat }, 95).data);
    const jpg = await readRaster(`${dir}/flat.jpg`);
    assert.deepEqual([jpg.info.format, jpg.info.bandCount, jpg.info.width], ["jpeg", 3, 16]);
    pixel(jpg.data, 16, 16, 7, 7).forEach((v, b) => assert.ok(Math.abs(v - [200, 100, 50][b]!) <= 2));
  }));

/** Asserts that `promise` rejects with a one-line DataError whose message contains every fragment. */
async function rejectsWith(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DataError, `expected DataError, got ${error}`);
    assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

Deno.test("bad input: missing, folder, empty, text named .tif, truncated TIFFs, corrupt PNG", () =>
  withTempDir(async (dir) => {
    await rejectsWith(openRaster(`${dir}/missing.tif`), `${dir}/missing.tif`, "not found");
    await rejectsWith(openRaster(dir), dir, "not a file");
    await Deno.writeFile(`${dir}/empty.tif`, new Uint8Array());
    await rejectsWith(openRaster(`${dir}/empty.tif`), "empty.tif", "empty file");
    await Deno.writeTextFile(`${dir}/notes.tif`, "these are not pixels\n");
    await rejectsWith(openRaster(`${dir}/notes.tif`), "notes.tif", "not a GeoTIFF, PNG or JPEG");
    // RGB.byte.tif keeps its directory at the end: cutting the file loses the directory.
    const rgb = await Deno.readFile(RASTERS.rgbByte);
    await Deno.writeFile(`${dir}/cut-directory.tif`, rgb.subarray(0, 300_000));
    await rejectsWith(openRaster(`${dir}/cut-directory.tif`), "cut-directory.tif", "TIFF");
    // The COG keeps its directory first: cutting the file loses tile data.
    const cog = await Deno.readFile(RASTERS.mosaicUint16);
    await Deno.writeFile(`${dir}/cut-tiles.tif`, cog.subarray(0, 20_000));
    await rejectsWith(openRaster(`${dir}/cut-tiles.tif`), "cut-tiles.tif", "truncated TIFF");
    await Deno.writeFile(
      `${dir}/cut.png`,
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]),
    );
    await rejectsWith(openRaster(`${dir}/cut.png`), "cut.png", "PNG");
  }));

Deno.test("bad input: unsupported data types, rotated geotransform, band index out of range", () =>
  withTempDir(async (dir) => {
    const size = { width: 2, height: 2 };
    const half = craftTiff(
      [
        { tag: 258, type: FieldType.SHORT, values: [16] },
        { tag: 339, type: FieldType.SHORT, values: [3] },
      ],
      new Uint8Array(8),
      size,
    );
    await Deno.writeFile(`${dir}/half.tif`, half);
    await rejectsWith(openRaster(`${dir}/half.tif`), "half.tif", "unsupported data type 16-bit float");
    const complex = craftTiff(
      [
        { tag: 258, type: FieldType.SHORT, values: [32] },
        { tag: 339, type: FieldType.SHORT, values: [5] },
      ],
      new Uint8Array(16),
      size,
    );
    await Deno.writeFile(`${dir}/complex.tif`, complex);
    await rejectsWith(openRaster(`${dir}/complex.tif`), "complex.tif", "unsupported data type");
    const rotated = craftTiff(
      [
        { tag: 258, type: FieldType.SHORT, values: [8] },
        {
          tag: 34264,
          type: FieldType.DOUBLE,
          values: [10, 2, 0, 500, 2, -10, 0, 900, 0, 0, 0, 0, 0, 0, 0, 1],
        },
      ],
      new Uint8Array(4),
      size,
    );
    await Deno.writeFile(`${dir}/rotated.tif`, rotated);
    await rejectsWith(openRaster(`${dir}/rotated.tif`), "rotated.tif", "rotated or sheared");
    const source = await openRaster(RASTERS.osbsLzw);
    try {
      await rejectsWith(
        source.readWindow(0, 0, 2, 2, { bands: [0, 3] }),
        "OSBS_029.tif",
        "band 4 (index 3)",
        "3 bands",
      );
    } finally {
      await source.close();
    }
    await rejectsWith(readRaster(RASTERS.sat6Chip, [-1]), "589.tif", "band 0 (index -1)");
  }));

Deno.test("one BitsPerSample value for three bands (as GDAL reads it) gives every band that type", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rgb.tif`;
  const data = Float32Array.from({ length: 3 * 5 * 4 }, (_, i) => (i * 13) % 256);
  await writeGeoTiff(path, data, { width: 5, height: 4, bandCount: 3, dataType: "uint8" });
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer);
  const ifd = view.getUint32(4, true);
  for (let i = 0; i < view.getUint16(ifd, true); i++) {
    const at = ifd + 2 + 12 * i;
    if (view.getUint16(at, true) !== 258) continue;
    view.setUint32(at + 4, 1, true); // count 1 …
    view.setUint32(at + 8, 8, true); // … with the value 8 in the entry itself
  }
  await Deno.writeFile(path, bytes);
  const read = await readRaster(path);
  assert.equal(read.info.dataType, "uint8");
  assert.deepEqual(read.data, data);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a window needing more than half the available memory is refused up front with the amount", () => {
  const available = Deno.systemMemoryInfo().available;
  assert.throws(
    () => assertMemoryFor("big.tif", "a 100000×100000×3 window", available),
    (e: Error) =>
      e instanceof DataError &&
      /^big\.tif: reading a 100000×100000×3 window needs [\d.]+ GiB/.test(e.message),
  );
  assertMemoryFor("small.tif", "a 10×10×3 window", 1200); // fine
});
