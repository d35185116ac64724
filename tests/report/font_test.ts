import assert from "node:assert/strict";
import { createCanvas, type Rgb, type RgbaCanvas } from "../../report/draw.ts";
import { drawText, GLYPH_HEIGHT, GLYPH_WIDTH, textWidth } from "../../report/font.ts";

const INK: Rgb = [0, 0, 0];

function ascii(canvas: RgbaCanvas): string[] {
  return Array.from(
    { length: canvas.height },
    (_, y) =>
      Array.from(
        { length: canvas.width },
        (_, x) => canvas.data[(y * canvas.width + x) * 4] === 0 ? "#" : ".",
      )
        .join(""),
  );
}

Deno.test("drawText draws the misc-fixed 6x13 glyph for A", () => {
  const canvas = createCanvas(GLYPH_WIDTH, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(canvas, "A", 0, 0, INK);
  assert.deepEqual(ascii(canvas), [
    "......",
    "......",
    "..#...",
    ".#.#..",
    "#...#.",
    "#...#.",
    "#...#.",
    "#####.",
    "#...#.",
    "#...#.",
    "#...#.",
    "......",
    "......",
  ]);
});

Deno.test("textWidth counts characters, and align centers or right-aligns on x", () => {
  assert.equal(textWidth("SR3 (ddim 50)"), 13 * GLYPH_WIDTH);
  const left = createCanvas(30, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(left, "ll", 9, 0, INK);
  const centered = createCanvas(30, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(centered, "ll", 15, 0, INK, { align: "center" });
  const right = createCanvas(30, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(right, "ll", 21, 0, INK, { align: "right" });
  assert.deepEqual(ascii(centered), ascii(left));
  assert.deepEqual(ascii(right), ascii(left));
});

Deno.test("bold differs from regular, and characters outside ASCII draw as ?", () => {
  const regular = createCanvas(GLYPH_WIDTH, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(regular, "B", 0, 0, INK);
  const bold = createCanvas(GLYPH_WIDTH, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(bold, "B", 0, 0, INK, { bold: true });
  const ink = (canvas: RgbaCanvas): number => ascii(canvas).join("").split("#").length - 1;
  assert.ok(ink(bold) > ink(regular));

  const unknown = createCanvas(GLYPH_WIDTH, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(unknown, "é", 0, 0, INK);
  const question = createCanvas(GLYPH_WIDTH, GLYPH_HEIGHT, [255, 255, 255]);
  drawText(question, "?", 0, 0, INK);
  assert.deepEqual(ascii(unknown), ascii(question));
  assert.ok(ink(question) > 0);
});
