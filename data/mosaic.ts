/**
 * Joining the parts of a sharded upscale (data/shard.ts): every manifest is checked against the others
 * (same input, model and settings; windows that tile the output rows with no gap or overlap; part files
 * that still match their checksums) before a GDAL VRT that references the parts is written. A missing
 * or mismatched shard is named in one line, so the scheduler's retry knows what to rerun.
 * @module
 */
import { relative, resolve } from "node:path";
import { DataError, describeError } from "../base/errors.ts";
import { assertOutputFree, moveIntoPlace, removeQuietly, temporarySibling } from "./files.ts";
import { CogWriter } from "./cog.ts";
import { openRaster } from "./raster.ts";
import { fileSha256, type PartManifest, partName, type ShardSpec } from "./shard.ts";
import type { DataType, GeoReference } from "./types.ts";

/** A folder of parts whose manifests agree, in shard order. */
export interface CheckedParts {
  /** The parts folder. */
  dir: string;
  /** Manifests, shard 0 first. */
  manifests: PartManifest[];
  /** Absolute paths of the part GeoTIFFs, shard 0 first. */
  files: string[];
  /** Output width and height (high-resolution pixels). */
  width: number;
  /** Output height. */
  height: number;
}

const PART_FILE = /^part-(\d+)-of-(\d+)\.(tif|json)$/;

/** A list for messages: "1, 4 and 6". */
function listOf(values: readonly (string | number)[]): string {
  return values.length < 2 ? values.join("") : `${values.slice(0, -1).join(", ")} and ${values.at(-1)}`;
}

async function readManifest(path: string): Promise<PartManifest> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new DataError(`${path}: unreadable part manifest (${describeError(error)})`, { cause: error });
  }
  const manifest = value as PartManifest;
  if (manifest?.format !== "sr3-part" || manifest.version !== 1) {
    throw new DataError(`${path}: not an sr3 part manifest (format "sr3-part", version 1)`);
  }
  const complete =
    [manifest.input?.sha256, manifest.model?.sha256, manifest.part?.sha256].every((v) =>
      typeof v === "string"
    ) &&
    [manifest.window?.rows?.start, manifest.window?.rows?.end, manifest.window?.width].every(
      Number.isInteger,
    );
  if (!complete) throw new DataError(`${path}: part manifest lacks its checksums or window`);
  return manifest;
}

/** What must agree between parts, as text to compare, with what to call a difference. */
function identity(manifest: PartManifest): [string, string][] {
  return [
    ["input", manifest.input.sha256],
    ["model", manifest.model.sha256],
    ["settings", JSON.stringify(manifest.settings)],
    ["output size", `${manifest.window.width}×${manifest.window.height}`],
  ];
}

/**
 * Reads and checks every part of `dir` (an `OUT.parts` folder written by `sr3 upscale --shard`).
 * @throws {DataError} naming the missing shards, the part that disagrees with shard 0 and on what, a
 * gap or overlap between windows, or a part file that no longer matches its manifest
 */
export async function checkParts(dir: string): Promise<CheckedParts> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  } catch (error) {
    throw new DataError(`${dir}: cannot list the parts folder (${describeError(error)})`, { cause: error });
  }
  const counts = new Set<number>();
  for (const name of names) {
    const match = PART_FILE.exec(name);
    if (match) counts.add(Number(match[2]));
  }
  if (counts.size === 0) throw new DataError(`${dir}: no parts (part-K-of-N.tif and .json from --shard K/N)`);
  if (counts.size > 1) {
    throw new DataError(
      `${dir}: parts of different splits (of ${listOf([...counts].sort((a, b) => a - b))}); ` +
        `keep one split's parts`,
    );
  }
  const count = [...counts][0]!;
  const specs: ShardSpec[] = Array.from({ length: count }, (_, index) => ({ index, count }));
  const missing = specs.filter((spec) =>
    !names.includes(`${partName(spec)}.json`) || !names.includes(`${partName(spec)}.tif`)
  );
  if (missing.length > 0) {
    throw new DataError(
      `${dir}: incomplete, missing shard${missing.length === 1 ? "" : "s"} ` +
        `${listOf(missing.map((spec) => spec.index))} of ${count} (rerun them with --shard K/${count})`,
    );
  }
  const manifests = await Promise.all(specs.map((spec) => readManifest(`${dir}/${partName(spec)}.json`)));
  const first = identity(manifests[0]!);
  manifests.forEach((manifest, k) => {
    const name = `${partName(specs[k]!)}.json`;
    if (manifest.shard?.index !== k || manifest.shard?.count !== count) {
      throw new DataError(`${dir}/${name}: its manifest says shard ${JSON.stringify(manifest.shard)}`);
    }
    const differs = identity(manifest).find(([, value], i) => value !== first[i]![1]);
    if (differs) {
      throw new DataError(
        `${dir}: ${name} was made with a different ${differs[0]} than ${partName(specs[0]!)}.json; ` +
          `rerun shard ${k} (or every shard) with the same input, model and settings`,
      );
    }
  });
  const height = manifests[0]!.window.height;
  let expectedStart = 0;
  for (const [k, manifest] of manifests.entries()) {
    const { start, end } = manifest.window.rows;
    if (start !== expectedStart) {
      throw new DataError(
        `${dir}: ${partName(specs[k]!)} starts at row ${start}, not ${expectedStart} ` +
          `(${start > expectedStart ? "a gap" : "an overlap"} after the previous part)`,
      );
    }
    expectedStart = end;
  }
  if (expectedStart !== height) {
    throw new DataError(`${dir}: the parts end at row ${expectedStart} of ${height}`);
  }
  const files = specs.map((spec) => resolve(`${dir}/${partName(spec)}.tif`));
  await Promise.all(files.map(async (file, k) => {
    if (await fileSha256(file) !== manifests[k]!.part.sha256) {
      throw new DataError(`${file}: does not match its manifest (changed after it); rerun shard ${k}`);
    }
  }));
  return { dir, manifests, files, width: manifests[0]!.window.width, height };
}

/** How the parts' pixels are stored (read from part 0). */
export interface PartLayout {
  /** Bands. */
  bandCount: number;
  /** Stored data type. */
  dataType: DataType;
  /** Nodata value, or null. */
  nodata: number | null;
  /** Georeferencing of the whole output (part 0's: its origin is the top-left of the mosaic). */
  geo: GeoReference | null;
}

/** Reads the layout of the parts from part 0. */
export async function partLayout(parts: CheckedParts): Promise<PartLayout> {
  const source = await openRaster(parts.files[0]!);
  try {
    return {
      bandCount: source.bandCount,
      dataType: source.dataType,
      nodata: source.nodata,
      geo: source.geo,
    };
  } finally {
    await source.close();
  }
}

const VRT_TYPES: Record<DataType, string> = {
  uint8: "Byte",
  uint16: "UInt16",
  int16: "Int16",
  uint32: "UInt32",
  int32: "Int32",
  float32: "Float32",
  float64: "Float64",
};

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * The VRT text of checked parts: one band per part band, one SimpleSource per part placed at its rows;
 * part paths are relative to `vrtPath`'s folder, so the VRT and the parts folder can move together.
 * @throws {DataError} for a CRS without an EPSG code (a VRT names its CRS; write a GeoTIFF instead)
 */
export function vrtText(parts: CheckedParts, layout: PartLayout, vrtPath: string): string {
  const { width, height } = parts;
  const lines = [`<VRTDataset rasterXSize="${width}" rasterYSize="${height}">`];
  const geo = layout.geo;
  if (geo) {
    if (geo.epsg === null) {
      throw new DataError(
        `${vrtPath}: the parts' CRS has no EPSG code, which a VRT needs; write a .tif (COG) instead`,
      );
    }
    lines.push(`  <SRS dataAxisToSRSAxisMapping="1,2">EPSG:${geo.epsg}</SRS>`);
    const transform = [geo.originX, geo.pixelSizeX, 0, geo.originY, 0, geo.pixelSizeY];
    lines.push(`  <GeoTransform>${transform.map((v) => v.toPrecision(17)).join(", ")}</GeoTransform>`);
  }
  const vrtDir = resolve(vrtPath, "..");
  const rgb = layout.bandCount === 3 && layout.dataType === "uint8";
  for (let band = 1; band <= layout.bandCount; band++) {
    lines.push(`  <VRTRasterBand dataType="${VRT_TYPES[layout.dataType]}" band="${band}">`);
    if (layout.nodata !== null) lines.push(`    <NoDataValue>${layout.nodata}</NoDataValue>`);
    if (rgb) lines.push(`    <ColorInterp>${["Red", "Green", "Blue"][band - 1]}</ColorInterp>`);
    parts.manifests.forEach((manifest, k) => {
      const { start, end } = manifest.window.rows;
      const rect = (y: number) => `xOff="0" yOff="${y}" xSize="${width}" ySize="${end - start}"`;
      lines.push(
        `    <SimpleSource>`,
        `      <SourceFilename relativeToVRT="1">${
          escapeXml(relative(vrtDir, parts.files[k]!))
        }</SourceFilename>`,
        `      <SourceBand>${band}</SourceBand>`,
        `      <SrcRect ${rect(0)}/>`,
        `      <DstRect ${rect(start)}/>`,
        `    </SimpleSource>`,
      );
    });
    lines.push(`  </VRTRasterBand>`);
  }
  lines.push(`</VRTDataset>`);
  return lines.join("\n") + "\n";
}

/**
 * Writes a VRT over checked parts (atomically; refused if `vrtPath` exists, unless `overwrite`).
 * @throws {DataError} for an existing output or a CRS a VRT cannot name
 */
export async function writeVrt(parts: CheckedParts, vrtPath: string, overwrite = false): Promise<void> {
  await assertOutputFree(vrtPath, overwrite);
  const text = vrtText(parts, await partLayout(parts), vrtPath);
  const temporary = temporarySibling(vrtPath);
  try {
    await Deno.writeTextFile(temporary, text);
    await moveIntoPlace(temporary, vrtPath);
  } catch (error) {
    await removeQuietly(temporary);
    throw error;
  }
}

/** What {@link writeMosaic} wrote. */
export interface MosaicSummary {
  /** The output. */
  outputPath: string;
  /** "vrt" or "cog". */
  format: "vrt" | "cog";
  /** Output size. */
  width: number;
  /** Output height. */
  height: number;
  /** Bands. */
  bands: number;
  /** Parts joined. */
  parts: number;
}

/** Options of {@link writeMosaic}. */
export interface MosaicOptions {
  /** Replace an existing output. */
  overwrite?: boolean;
  /** COG tile side (multiple of 16; default 512). */
  blockSize?: number;
}

/**
 * Checks the parts in `dir` and joins them: a GDAL VRT for `out` ending in .vrt, a Cloud-Optimized
 * GeoTIFF for .tif/.tiff (the parts are read a tile row at a time).
 * @throws {DataError} for incomplete or mismatched parts, an existing output, or another extension
 */
export async function writeMosaic(
  dir: string,
  out: string,
  options: MosaicOptions = {},
): Promise<MosaicSummary> {
  const format = /\.vrt$/i.test(out) ? "vrt" : /\.tiff?$/i.test(out) ? "cog" : null;
  if (!format) throw new DataError(`${out}: the mosaic must be a .vrt or a .tif (Cloud-Optimized GeoTIFF)`);
  await assertOutputFree(out, options.overwrite);
  const parts = await checkParts(dir);
  const layout = await partLayout(parts);
  const summary = {
    outputPath: out,
    format,
    width: parts.width,
    height: parts.height,
    bands: layout.bandCount,
    parts: parts.files.length,
  } as const;
  if (format === "vrt") {
    await writeVrt(parts, out, options.overwrite);
    return summary;
  }
  const writer = await CogWriter.open(out, { ...layout, width: parts.width, height: parts.height }, options);
  try {
    const rowsPerRead = options.blockSize ?? 512;
    for (const [k, file] of parts.files.entries()) {
      const { start, end } = parts.manifests[k]!.window.rows;
      const source = await openRaster(file);
      try {
        for (let y = 0; y < end - start; y += rowsPerRead) {
          const rows = Math.min(rowsPerRead, end - start - y);
          await writer.writeRows(start + y, await source.readWindow(0, y, parts.width, rows));
        }
      } finally {
        await source.close();
      }
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return summary;
}
