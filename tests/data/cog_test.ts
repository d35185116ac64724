import assert from "node:assert/strict";
import { CogWriter } from "../../data/cog.ts";
import { readRaster } from "../../data/raster.ts";
import { scaleGeo } from "../../data/geo.ts";
import {
  gdalinfoJson,
  hasCogValidator,
  hasGdal,
  listDir,
  RASTERS,
  validateCog,
  withTempDir,
} from "./helpers.ts";

/** Writes `data` (band-sequential) through a CogWriter in uneven row blocks. */
async function writeCog(
  path: string,
  data: Float32Array,
  header: Parameters<typeof CogWriter.open>[1],
  blockSize: number,
): Promise<void> {
  const writer = await CogWriter.open(path, header, { blockSize });
  const { width, height, bandCount } = header;
  for (let y = 0, step = 7; y < height; y += step, step = step === 7 ? 30 : 7) {
    const count = Math.min(step, height - y);
    const rows = new Float32Array(bandCount * count * width);
    for (let b = 0; b < bandCount; b++) {
      rows.set(data.subarray((b * height + y) * width, (b * height + y + count) * width), b * count * width);
    }
    await writer.writeRows(y, rows);
  }
  await writer.close();
}

Deno.test({
  name: "CogWriter: tiles, overviews and COG byte order that GDAL's validator accepts; pixels round-trip",
  ignore: !hasGdal,
}, () =>
  withTempDir(async (dir) => {
    const source = await readRaster(RASTERS.rgbByte); // 791×718 Landsat, nodata 0 in a collar
    const { width, height, geo, nodata } = source.info;
    const header = {
      width,
      height,
      bandCount: 3,
      dataType: "uint8" as const,
      nodata,
      geo: scaleGeo(geo!, 1),
    };
    await writeCog(`${dir}/rgb.tif`, source.data, header, 256);
    assert.deepEqual(await listDir(dir), ["rgb.tif"], "no temporary files left");
    const back = await readRaster(`${dir}/rgb.tif`);
    assert.deepEqual(back.data, source.data);
    assert.deepEqual(back.info.geo, source.info.geo);
    const info = await gdalinfoJson(`${dir}/rgb.tif`);
    const bands = info.bands as unknown as { block: number[]; overviews?: { size: number[] }[] }[];
    assert.deepEqual(bands[0]!.block, [256, 256]);
    assert.deepEqual(bands[0]!.overviews?.map((o) => o.size), [[396, 359], [198, 180]]);
    assert.equal(info.metadata["IMAGE_STRUCTURE"]?.["COMPRESSION"], "DEFLATE");
    if (hasCogValidator) {
      const { valid, output } = await validateCog(`${dir}/rgb.tif`);
      assert.ok(valid, output);
    }
  }));

Deno.test({
  name:
    "CogWriter: float32 with NaN nodata and uint16 with 4 bands; an image that fits one tile has no overviews",
  ignore: !hasGdal,
}, () =>
  withTempDir(async (dir) => {
    const [width, height] = [100, 70];
    const floats = Float32Array.from({ length: 2 * width * height }, (_, i) => (i % 97 === 0 ? NaN : i / 7));
    await writeCog(
      `${dir}/f.tif`,
      floats,
      { width, height, bandCount: 2, dataType: "float32", nodata: NaN },
      32,
    );
    const f = await readRaster(`${dir}/f.tif`);
    assert.deepEqual(
      f.data.map((v) => (Number.isNaN(v) ? -1 : v)),
      floats.map((v) => (Number.isNaN(v) ? -1 : v)),
    );
    const words = Float32Array.from({ length: 4 * width * height }, (_, i) => (i * 37) % 65536);
    await writeCog(`${dir}/u.tif`, words, { width, height, bandCount: 4, dataType: "uint16" }, 128);
    assert.deepEqual((await readRaster(`${dir}/u.tif`)).data, words);
    const info = await gdalinfoJson(`${dir}/u.tif`);
    assert.equal((info.bands[0] as unknown as { overviews?: unknown[] }).overviews, undefined);
    if (hasCogValidator) {
      for (const name of ["f.tif", "u.tif"]) {
        const { valid, output } = await validateCog(`${dir}/${name}`);
        assert.ok(valid, `${name}: ${output}`);
      }
    }
  }));

Deno.test("CogWriter: missing rows discard the output; an existing file is refused", () =>
  withTempDir(async (dir) => {
    const header = { width: 20, height: 20, bandCount: 1, dataType: "uint8" as const };
    const writer = await CogWriter.open(`${dir}/a.tif`, header, { blockSize: 16 });
    await writer.writeRows(0, new Float32Array(20 * 5));
    await assert.rejects(writer.close(), /only 5 of 20 rows/);
    assert.deepEqual(await listDir(dir), []);
    await Deno.writeTextFile(`${dir}/mine.tif`, "user data");
    await assert.rejects(CogWriter.open(`${dir}/mine.tif`, header), /already exists/);
    assert.equal(await Deno.readTextFile(`${dir}/mine.tif`), "user data");
    await assert.rejects(CogWriter.open(`${dir}/b.tif`, header, { blockSize: 100 }), /multiple of 16/);
  }));
