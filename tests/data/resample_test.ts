/*
 * Expected values were computed once with Pillow 9.4.0 (Debian python3-pil) by this script:
 *
 *   import numpy as np
 *   from PIL import Image
 *   def make(bands, h, w):
 *       b, y, x = np.meshgrid(np.arange(bands), np.arange(h), np.arange(w), indexing="ij")
 *       return (((x * 7 + y * 13 + b * 29) % 256) + 0.25 * ((x * y) % 5)).astype(np.float32)
 *   def resize(a, ow, oh):
 *       return np.stack([np.asarray(Image.fromarray(band, mode="F").resize((ow, oh), Image.BICUBIC)) for band in a])
 *   for (w, h, ow, oh) in [(16, 12, 4, 3), (11, 9, 5, 4), (4, 3, 16, 12), (11, 9, 11, 5), (7, 5, 3, 5)]:
 *       flat = resize(make(2, h, w), ow, oh).reshape(-1)
 *       idx = list(range(0, flat.size, max(1, flat.size // 24)))
 *       print(w, h, ow, oh, float(flat.astype(np.float64).sum()), idx, [float(v) for v in flat[idx]])
 */
import assert from "node:assert/strict";
import { decodePng } from "../../deps.ts";
import { enlargeMask, resizeBicubic, resizeBicubicMasked, resizeBicubicUint8 } from "../../data/resample.ts";
import { testdata } from "./helpers.ts";

/** The test image of .scratch/ref/pil_resize.py: 2 bands, v = ((7x + 13y + 29b) mod 256) + 0.25·((x·y) mod 5). */
function testImage(width: number, height: number): Float32Array {
  const out = new Float32Array(2 * width * height);
  for (let b = 0; b < 2; b++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        out[(b * height + y) * width + x] = ((x * 7 + y * 13 + b * 29) % 256) + 0.25 * ((x * y) % 5);
      }
    }
  }
  return out;
}

/**
 * Expected outputs of Pillow 9.4.0 (Debian python3-pil):
 * `Image.fromarray(band, mode="F").resize((outWidth, outHeight), Image.BICUBIC)` per band, from the script
 * above (sum over all outputs, and the values at some indices).
 */
const PILLOW_CASES: {
  size: [number, number];
  out: [number, number];
  sum: number;
  indices: number[];
  values: number[];
}[] = [
  {
    size: [16, 12],
    out: [4, 3],
    sum: 3260.231792449951,
    indices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
    values: [
      32.19532775878906,
      58.98917007446289,
      88.1543197631836,
      114.93489074707031,
      83.02503967285156,
      109.81103515625,
      138.97549438476562,
      165.74794006347656,
      133.81906127929688,
      160.603515625,
      189.7677459716797,
      216.5393829345703,
      61.19532775878906,
      87.98916625976562,
      117.1543197631836,
      143.9348907470703,
      112.0250473022461,
      138.75372314453125,
      168.29177856445312,
      200.30569458007812,
      162.81906127929688,
      190.23602294921875,
      216.2897491455078,
      168.67408752441406,
    ],
  },
  {
    size: [11, 9],
    out: [5, 4],
    sum: 4075.1100902557373,
    indices: [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,
      16,
      17,
      18,
      19,
      20,
      21,
      22,
      23,
      24,
      25,
      26,
      27,
      28,
      29,
      30,
      31,
      32,
      33,
      34,
      35,
      36,
      37,
      38,
      39,
    ],
    values: [
      13.51236343383789,
      28.552309036254883,
      44.0289306640625,
      59.87162399291992,
      74.57823944091797,
      41.74400329589844,
      56.70880126953125,
      72.11141204833984,
      88.13410949707031,
      102.53429412841797,
      71.991943359375,
      86.90646362304688,
      102.42662811279297,
      118.29039001464844,
      132.8920440673828,
      100.06372833251953,
      115.15018463134766,
      130.51988220214844,
      146.5064697265625,
      161.03121948242188,
      42.51236343383789,
      57.55230712890625,
      73.0289306640625,
      88.87162017822266,
      103.57823944091797,
      70.74400329589844,
      85.70880126953125,
      101.11141204833984,
      117.13410949707031,
      131.5343017578125,
      100.991943359375,
      115.90646362304688,
      131.42662048339844,
      147.29039001464844,
      161.8920440673828,
      129.06373596191406,
      144.1501922607422,
      159.51988220214844,
      175.5064697265625,
      190.03121948242188,
    ],
  },
  {
    size: [4, 3],
    out: [16, 12],
    sum: 14694.854854866862,
    indices: [
      0,
      16,
      32,
      48,
      64,
      80,
      96,
      112,
      128,
      144,
      160,
      176,
      192,
      208,
      224,
      240,
      256,
      272,
      288,
      304,
      320,
      336,
      352,
      368,
    ],
    values: [
      -2.235673189163208,
      -1.4612246751785278,
      0.17148703336715698,
      2.8636903762817383,
      6.436575889587402,
      10.401792526245117,
      13.975072860717773,
      17.940290451049805,
      21.51317596435547,
      24.205379486083984,
      25.838090896606445,
      26.612539291381836,
      26.764326095581055,
      27.538774490356445,
      29.171485900878906,
      31.863691329956055,
      35.43657684326172,
      39.40179443359375,
      42.975074768066406,
      46.94029235839844,
      50.51317596435547,
      53.20537567138672,
      54.83808898925781,
      55.6125373840332,
    ],
  },
  {
    size: [11, 9],
    out: [11, 5],
    sum: 11204.576575279236,
    indices: [
      0,
      4,
      8,
      12,
      16,
      20,
      24,
      28,
      32,
      36,
      40,
      44,
      48,
      52,
      56,
      60,
      64,
      68,
      72,
      76,
      80,
      84,
      88,
      92,
      96,
      100,
      104,
      108,
    ],
    values: [
      5.635102272033691,
      34.112449645996094,
      61.953060150146484,
      35.534664154052734,
      62.95930480957031,
      91.71778106689453,
      66.41452026367188,
      94.72042846679688,
      122.0,
      97.4195556640625,
      125.47381591796875,
      98.36489868164062,
      127.02428436279297,
      155.04693603515625,
      41.74346923828125,
      69.63510131835938,
      98.1124496459961,
      71.67200469970703,
      99.53466796875,
      126.95930480957031,
      102.5,
      130.41452026367188,
      105.04069519042969,
      133.67803955078125,
      161.4195556640625,
      135.00653076171875,
      162.36489868164062,
      191.0242919921875,
    ],
  },
  {
    size: [7, 5],
    out: [3, 5],
    sum: 1855.8339986801147,
    indices: [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,
      16,
      17,
      18,
      19,
      20,
      21,
      22,
      23,
      24,
      25,
      26,
      27,
      28,
      29,
    ],
    values: [
      5.02419376373291,
      21.0,
      36.975807189941406,
      18.208669662475586,
      34.731685638427734,
      50.26814651489258,
      31.433467864990234,
      47.594932556152344,
      63.2933464050293,
      44.39112854003906,
      60.63675308227539,
      76.35887145996094,
      57.615928649902344,
      73.5,
      89.38407135009766,
      34.024192810058594,
      50.0,
      65.9758071899414,
      47.20866775512695,
      63.731685638427734,
      79.26814270019531,
      60.433467864990234,
      76.59493255615234,
      92.29335021972656,
      73.39112854003906,
      89.63674926757812,
      105.35887145996094,
      86.61592864990234,
      102.5,
      118.38407135009766,
    ],
  },
];

Deno.test("resizeBicubic matches Pillow's BICUBIC on float images (down ×4, non-integer, up ×4, one axis)", () => {
  for (const { size, out, sum, indices, values } of PILLOW_CASES) {
    const result = resizeBicubic(testImage(size[0], size[1]), size[0], size[1], out[0], out[1]);
    const label = `${size.join("×")} → ${out.join("×")}`;
    assert.equal(result.length, 2 * out[0] * out[1], label);
    indices.forEach((index, i) =>
      assert.ok(
        Math.abs(result[index]! - values[i]!) < 1e-4,
        `${label} [${index}] ${result[index]} vs ${values[i]}`,
      )
    );
    const total = result.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - sum) < 1e-3 * result.length, `${label} sum ${total} vs ${sum}`);
  }
});

Deno.test("resizeBicubic keeps constants constant and returns a copy for an identity resize", () => {
  const flat = new Float32Array(3 * 10 * 6).fill(42.5);
  for (const [w, h] of [[3, 2], [5, 3], [25, 13], [10, 6]]) {
    assert.ok(resizeBicubic(flat, 10, 6, w!, h!).every((v) => Math.abs(v - 42.5) < 1e-4));
  }
  const same = resizeBicubic(flat, 10, 6, 10, 6);
  assert.notEqual(same, flat);
  assert.deepEqual(same, flat);
  assert.throws(() => resizeBicubic(new Float32Array(7), 2, 2, 1, 1), RangeError);
});

Deno.test("resizeBicubicMasked does not let nodata bleed into valid pixels", () => {
  const width = 12;
  const height = 8;
  const data = new Float32Array(width * height).fill(100);
  const valid = new Uint8Array(width * height).fill(1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < 4; x++) {
      data[y * width + x] = -9999;
      valid[y * width + x] = 0;
    }
  }
  const down = resizeBicubicMasked(data, valid, width, height, 3, 2);
  assert.deepEqual(Array.from(down.valid), [0, 1, 1, 0, 1, 1]);
  assert.deepEqual(Array.from(down.data).map((v) => Math.round(v * 1e4) / 1e4), [0, 100, 100, 0, 100, 100]);
  const allValid = resizeBicubicMasked(testImage(11, 9), new Uint8Array(99).fill(1), 11, 9, 5, 4);
  assert.deepEqual(allValid.data, resizeBicubic(testImage(11, 9), 11, 9, 5, 4));
  assert.ok(allValid.valid.every((v) => v === 1));
});

Deno.test("enlargeMask repeats each pixel factor×factor times", () => {
  // deno-fmt-ignore
  const expected = [
    1, 1, 0, 0,
    1, 1, 0, 0,
    0, 0, 1, 1,
    0, 0, 1, 1,
  ];
  assert.deepEqual(Array.from(enlargeMask(new Uint8Array([1, 0, 0, 1]), 2, 2, 2)), expected);
});

/** A PNG of testdata/pillow/ as band-sequential uint8 samples. */
async function readPillowPng(name: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const png = decodePng(await Deno.readFile(testdata(`pillow/${name}.png`)));
  const { width, height, channels } = png;
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < channels; c++) data[c * width * height + i] = png.data[i * channels + c]!;
  }
  return { data, width, height };
}

Deno.test("resizeBicubicUint8 equals Pillow's 8-bit BICUBIC exactly (tests/fixtures/make_pillow_fixtures.py)", async () => {
  const cases: [string, [number, number][]][] = [
    ["naip_64", [[16, 16], [21, 13], [64, 16]]],
    ["noise_37x29", [[9, 7], [148, 116], [12, 29]]],
    ["ramp_23x17", [[7, 5], [46, 34]]],
  ];
  for (const [name, sizes] of cases) {
    const input = await readPillowPng(name);
    for (const [outWidth, outHeight] of sizes) {
      const expected = await readPillowPng(`${name}_${outWidth}x${outHeight}`);
      const actual = resizeBicubicUint8(input.data, input.width, input.height, outWidth, outHeight);
      const label = `${name} → ${outWidth}×${outHeight}`;
      assert.deepEqual(actual, expected.data, label);
      // The float path, rounded once at the end, is what the 8-bit path replaces: it differs here.
      const float = resizeBicubic(
        Float32Array.from(input.data),
        input.width,
        input.height,
        outWidth,
        outHeight,
      );
      const differing = float.filter((v, i) =>
        Math.min(255, Math.max(0, Math.round(v))) !== actual[i]
      ).length;
      if (outWidth !== input.width && outHeight !== input.height) {
        assert.ok(differing > 0, `${label}: paths differ`);
      }
    }
  }
});

Deno.test("resizeBicubicMasked with uint8 takes the 8-bit path when every pixel is valid", async () => {
  const { data, width, height } = await readPillowPng("naip_64");
  const expected = await readPillowPng("naip_64_16x16");
  const all = new Uint8Array(width * height).fill(1);
  const down = resizeBicubicMasked(Float32Array.from(data), all, width, height, 16, 16, { uint8: true });
  assert.deepEqual(down.data, Float32Array.from(expected.data));
  const holed = all.slice();
  holed[0] = 0;
  const masked = resizeBicubicMasked(Float32Array.from(data), holed, width, height, 16, 16, { uint8: true });
  assert.ok(masked.data.some((v) => !Number.isInteger(v)), "with nodata, the float path (unrounded)");
});
