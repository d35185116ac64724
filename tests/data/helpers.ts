/**
 * Shared helpers for the data-layer tests: paths of the bundled imagery, temporary folders, and GDAL's
 * command-line tools as an independent reader (tests that need them are `ignore`d where gdal-bin is absent).
 */
import { encodeHeader, encodeIfd, FieldType, type TiffField } from "../../data/tiff_layout.ts";

const root = new URL("../../testdata/", import.meta.url).pathname;

/** Absolute path of a file under testdata/. */
export function testdata(relative: string): string {
  return root + relative;
}

/** The bundled rasters by role. */
export const RASTERS = {
  rgbByte: testdata("rasterio/RGB.byte.tif"),
  cogeoJpeg: testdata("rasterio/cogeo.tif"),
  mosaicUint16: testdata("rio-tiler/mosaic_cog1.tif"),
  naip4Band: testdata("opengeos-naip/m_4709963_se_14_1_20200831.tif"),
  osbsLzw: testdata("deepforest-aerial/OSBS_029.tif"),
  tiledJpeg: testdata("deepforest-aerial/test_tiled.tif"),
  sat6Chip: testdata("sat6-chips/trn/trees/589.tif"),
  sat6Dir: testdata("sat6-chips"),
} as const;

function commandExists(name: string): boolean {
  try {
    const { success } = new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return success;
  } catch {
    return false;
  }
}

/** Whether gdal-bin (gdalinfo, gdal_translate) is installed. */
export const hasGdal: boolean = commandExists("gdalinfo");

/** Runs a GDAL tool and returns its stdout, throwing with its stderr on failure. */
export async function gdal(tool: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(tool, { args, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  if (!output.success) throw new Error(`${tool} ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout);
}

/** `gdalinfo -json -stats` of a file, parsed. Statistics are computed without writing .aux.xml files. */
export async function gdalinfoJson(path: string): Promise<GdalInfo> {
  const text = await gdal("gdalinfo", ["-json", "-stats", "--config", "GDAL_PAM_ENABLED", "NO", path]);
  return JSON.parse(text) as GdalInfo;
}

/** The parts of gdalinfo's JSON the tests read. */
export interface GdalInfo {
  size: [number, number];
  geoTransform?: number[];
  coordinateSystem?: { wkt: string };
  stac?: { "proj:epsg"?: number | null };
  metadata: Record<string, Record<string, string>>;
  bands: {
    type: string;
    noDataValue?: number | string;
    colorInterpretation: string;
    minimum?: number;
    maximum?: number;
    mean?: number;
    stdDev?: number;
  }[];
}

/** Runs `body` with a fresh temporary folder that is removed afterwards. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sr3-data-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Names in a folder (non-recursive), sorted. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/**
 * A minimal uncompressed single-strip TIFF built from raw fields, for headers no real file here has
 * (unsupported sample types, rotated transforms). `pixels` are the raw sample bytes.
 */
export function craftTiff(
  extraFields: TiffField[],
  pixels: Uint8Array,
  size: { width: number; height: number },
): Uint8Array {
  const dataOffset = 8;
  const ifdOffset = dataOffset + pixels.length + (pixels.length % 2);
  const base: TiffField[] = [
    { tag: 256, type: FieldType.LONG, values: [size.width] },
    { tag: 257, type: FieldType.LONG, values: [size.height] },
    { tag: 259, type: FieldType.SHORT, values: [1] },
    { tag: 262, type: FieldType.SHORT, values: [1] },
    { tag: 273, type: FieldType.LONG, values: [dataOffset] },
    { tag: 278, type: FieldType.LONG, values: [size.height] },
    { tag: 279, type: FieldType.LONG, values: [pixels.length] },
  ];
  const fields = [...base.filter((f) => !extraFields.some((e) => e.tag === f.tag)), ...extraFields];
  const ifd = encodeIfd(fields, ifdOffset, false);
  const file = new Uint8Array(ifdOffset + ifd.length);
  file.set(encodeHeader(false, ifdOffset), 0);
  file.set(pixels, dataOffset);
  file.set(ifd, ifdOffset);
  return file;
}

/** A python3 that has GDAL's bindings (Debian's python3-gdal), or null. */
const gdalPython: string | null = ["/usr/bin/python3", "python3"].find((python) => {
  try {
    return new Deno.Command(python, { args: ["-c", "import osgeo_utils"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}) ?? null;

/** Whether GDAL's validate_cloud_optimized_geotiff can run. */
export const hasCogValidator: boolean = gdalPython !== null;

/** Runs GDAL's validate_cloud_optimized_geotiff (with --full-check) on `path`: its exit status and output. */
export async function validateCog(path: string): Promise<{ valid: boolean; output: string }> {
  const { success, stdout, stderr } = await new Deno.Command(gdalPython!, {
    args: ["-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", "--full-check=yes", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { valid: success, output: decoder.decode(stdout) + decoder.decode(stderr) };
}
