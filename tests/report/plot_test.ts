import assert from "node:assert/strict";
import { createCanvas, type Rgb, type RgbaCanvas } from "../../report/draw.ts";
import { GLYPH_HEIGHT } from "../../report/font.ts";
import {
  formatTick,
  imageGrid,
  linearTicks,
  logTicks,
  type LossPoint,
  plotLossCurve,
  RAW_LOSS_COLOR,
  SMOOTHED_LOSS_COLOR,
  smoothLoss,
} from "../../report/plot.ts";

const TEXT: Rgb = [40, 40, 40];

function isColor(canvas: RgbaCanvas, x: number, y: number, color: Rgb): boolean {
  const offset = (y * canvas.width + x) * 4;
  return canvas.data[offset] === color[0] && canvas.data[offset + 1] === color[1] &&
    canvas.data[offset + 2] === color[2];
}

function countColor(
  canvas: RgbaCanvas,
  color: Rgb,
  x0 = 0,
  y0 = 0,
  x1 = canvas.width,
  y1 = canvas.height,
): number {
  let count = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (isColor(canvas, x, y, color)) count++;
  return count;
}

/** For each column, the lowest row holding `color` (the curve, below the legend swatch), or undefined. */
function lowestRows(canvas: RgbaCanvas, color: Rgb): (number | undefined)[] {
  return Array.from({ length: canvas.width }, (_, x) => {
    for (let y = canvas.height - 1; y >= 0; y--) if (isColor(canvas, x, y, color)) return y;
    return undefined;
  });
}

const definedEntries = (rows: (number | undefined)[]): [number, number][] =>
  rows.flatMap((row, x) => (row === undefined ? [] : [[x, row] as [number, number]]));

Deno.test("linearTicks picks 1-2-5 spacings inside the range", () => {
  assert.deepEqual(linearTicks(0, 6000), [0, 2000, 4000, 6000]);
  assert.deepEqual(linearTicks(-0.06, 1.3), [0, 0.5, 1]);
  assert.deepEqual(linearTicks(0.1, 0.3), [0.1, 0.15, 0.2, 0.25, 0.3]);
  assert.deepEqual(linearTicks(-3, 7), [-2, 0, 2, 4, 6]);
});

Deno.test("logTicks uses 1-2-5 within three decades, powers of ten beyond, linear when narrow", () => {
  assert.deepEqual(logTicks(0.018, 1.4), [0.02, 0.05, 0.1, 0.2, 0.5, 1]);
  assert.deepEqual(logTicks(1e-5, 10), [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]);
  assert.deepEqual(logTicks(0.3, 0.5), [0.3, 0.4, 0.5]);
});

Deno.test("formatTick aligns decimals on linear axes and shortens on log axes", () => {
  assert.deepEqual([0, 0.5, 1].map((tick) => formatTick(tick, 0.5)), ["0.0", "0.5", "1.0"]);
  assert.deepEqual([0.02, 0.5, 1].map((tick) => formatTick(tick, null)), ["0.02", "0.5", "1"]);
  assert.equal(formatTick(3000, 1000), "3000");
  assert.equal(formatTick(2e-5, 1e-5), "2e-5");
  assert.equal(formatTick(1.5e6, 5e5), "1.5e6");
});

Deno.test("smoothLoss is a bias-corrected EMA: a constant stays constant, the first value is kept", () => {
  const constant = smoothLoss([2, 2, 2, 2], 0.9);
  for (const value of constant) assert.ok(Math.abs(value - 2) < 1e-12);
  // weight 0.5: averages 0.5 then 1.75, corrected by 1 − 0.5 and 1 − 0.25.
  const [first, second] = smoothLoss([1, 3], 0.5);
  assert.equal(first, 1);
  assert.ok(Math.abs((second ?? 0) - 7 / 3) < 1e-12);
});

Deno.test("plotLossCurve draws a title, tick labels and a falling smoothed curve", () => {
  const points: LossPoint[] = Array.from({ length: 200 }, (_, i) => ({ step: i * 10, loss: 1 - i / 250 }));
  const plot = plotLossCurve(points, { smoothing: 0 });
  assert.equal(plot.width, 640);
  assert.equal(plot.height, 360);
  assert.equal(plot.data.length, 640 * 360 * 4);
  assert.ok(countColor(plot, TEXT, 200, 0, 440, 8 + GLYPH_HEIGHT) > 30, "title ink");
  assert.ok(countColor(plot, TEXT, 0, 30, 40, 330) > 30, "y tick labels");
  assert.ok(countColor(plot, TEXT, 40, 320, 640, 345) > 30, "x tick labels");

  const curve = definedEntries(lowestRows(plot, SMOOTHED_LOSS_COLOR));
  assert.ok(curve.length > 500, `the smoothed line spans the plot (${curve.length} columns)`);
  for (let i = 1; i < curve.length; i++) {
    assert.ok((curve[i]?.[1] ?? 0) >= (curve[i - 1]?.[1] ?? 0), "a falling loss goes down the image");
  }
});

Deno.test("plotLossCurve on a log axis draws an exponential decay as a straight line", () => {
  const points = Array.from({ length: 301 }, (_, i) => ({ step: i * 10, loss: 10 ** (-i / 100) }));
  const plot = plotLossCurve(points, { logScale: true, smoothing: 0 });
  const curve = definedEntries(lowestRows(plot, SMOOTHED_LOSS_COLOR)).filter(([x]) => x < 560);
  const [firstX, firstY] = curve[0] ?? [0, 0];
  const [lastX, lastY] = curve[curve.length - 1] ?? [0, 0];
  const slope = (lastY - firstY) / (lastX - firstX);
  assert.ok(slope > 0.3, `the line falls (slope ${slope})`);
  for (const [x, y] of curve) {
    assert.ok(Math.abs(y - (firstY + slope * (x - firstX))) <= 2, `column ${x} is on the straight line`);
  }
});

Deno.test("plotLossCurve leaves out non-finite losses, and non-positive ones on a log axis", () => {
  const clean = [{ step: 0, loss: 0.8 }, { step: 5, loss: 0.4 }, { step: 10, loss: 0.3 }];
  const dirty = [...clean, { step: 3, loss: NaN }, { step: 7, loss: Infinity }, { step: 8, loss: 0 }];
  assert.deepEqual(
    plotLossCurve(dirty, { logScale: true }).data,
    plotLossCurve(clean, { logScale: true }).data,
  );
  const raw = plotLossCurve(clean, { width: 320, height: 200 });
  assert.equal(raw.width, 320);
  assert.ok(countColor(raw, RAW_LOSS_COLOR) > 0);
  assert.throws(() => plotLossCurve(clean, { smoothing: 1 }), { name: "DataError", message: /smoothing/ });
});

Deno.test("plotLossCurve without points still draws the axes and says so", () => {
  const plot = plotLossCurve([]);
  assert.equal(countColor(plot, SMOOTHED_LOSS_COLOR), 0);
  assert.ok(countColor(plot, [110, 110, 110], 250, 150, 400, 210) > 20, "the grey 'no data yet' note");
});

function solid(width: number, height: number, color: Rgb): RgbaCanvas {
  return createCanvas(width, height, color);
}

Deno.test("imageGrid size is labels + cells + gaps", () => {
  const row = [
    solid(4, 4, [1, 1, 1]),
    solid(16, 16, [2, 2, 2]),
    solid(16, 16, [3, 3, 3]),
    solid(16, 16, [4, 4, 4]),
  ];
  const labels = ["LR", "bicubic", "SR3 (ddim 50)", "HR"];
  const plain = imageGrid([row, row], { columnLabels: labels, gap: 4 });
  assert.equal(plain.width, 4 * 16 + 5 * 4);
  assert.equal(plain.height, GLYPH_HEIGHT + 4 + 2 * 16 + 3 * 4);
  const full = imageGrid([row, row], { columnLabels: labels, rowLabels: ["a", "bb"], title: "t", gap: 4 });
  assert.equal(full.width, 2 * 6 + 4 + 4 * 16 + 5 * 4);
  assert.equal(full.height, 2 * (GLYPH_HEIGHT + 4) + 2 * 16 + 3 * 4);
  const bare = imageGrid([row], { cellSize: { width: 10, height: 6 }, gap: 0 });
  assert.deepEqual([bare.width, bare.height], [40, 6]);
});

Deno.test("imageGrid enlarges LR by nearest neighbour into the same cell size as HR", () => {
  // LR 2×2: red, green / blue, white; HR 8×8 grey. Each LR pixel becomes a 4×4 block.
  const lr: RgbaCanvas = {
    width: 2,
    height: 2,
    data: new Uint8Array([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]),
  };
  const hr = solid(8, 8, [90, 90, 90]);
  const gap = 2;
  const grid = imageGrid([[lr, hr]], { columnLabels: ["LR", "HR"], gap });
  const top = GLYPH_HEIGHT + gap + gap;
  assert.ok(isColor(grid, gap + 0, top + 0, [255, 0, 0]));
  assert.ok(isColor(grid, gap + 3, top + 3, [255, 0, 0]));
  assert.ok(isColor(grid, gap + 4, top + 3, [0, 255, 0]));
  assert.ok(isColor(grid, gap + 3, top + 4, [0, 0, 255]));
  assert.ok(isColor(grid, gap + 7, top + 7, [255, 255, 255]));
  const hrLeft = gap + 8 + gap;
  assert.equal(countColor(grid, [90, 90, 90], hrLeft, top, hrLeft + 8, top + 8), 64);
  assert.ok(countColor(grid, TEXT, gap, gap, gap + 8, gap + GLYPH_HEIGHT) > 5, "label above LR");
  assert.ok(countColor(grid, TEXT, hrLeft, gap, hrLeft + 8, gap + GLYPH_HEIGHT) > 5, "label above HR");
});

Deno.test("imageGrid shrinks by averaging and centres images of another aspect ratio", () => {
  const checker: RgbaCanvas = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 4) };
  for (let i = 0; i < 64; i++) checker.data.fill((i % 8 + Math.floor(i / 8)) % 2 ? 255 : 0, i * 4, i * 4 + 4);
  const shrunk = imageGrid([[checker]], { cellSize: 4, gap: 0 });
  assert.equal(countColor(shrunk, [128, 128, 128]), 16);

  const wide = imageGrid([[solid(8, 4, [7, 7, 7])]], { cellSize: 8, gap: 0 });
  assert.equal(countColor(wide, [7, 7, 7], 0, 2, 8, 6), 32);
  assert.equal(countColor(wide, [255, 255, 255]), 32);
});

Deno.test("imageGrid rejects empty or ragged rows and mismatched labels", () => {
  const image = solid(2, 2, [0, 0, 0]);
  assert.throws(() => imageGrid([]), { name: "DataError", message: /at least one row/ });
  assert.throws(() => imageGrid([[image, image], [image]]), { message: /row 1 has 1 images, expected 2/ });
  assert.throws(() => imageGrid([[image]], { columnLabels: ["a", "b"] }), {
    message: /2 column labels for 1 columns/,
  });
  assert.throws(() => imageGrid([[image]], { rowLabels: [] }), { message: /0 row labels for 1 rows/ });
});
