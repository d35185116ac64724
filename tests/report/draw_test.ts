import assert from "node:assert/strict";
import { createCanvas, drawImage, drawLine, fillRect, type Rgb, type RgbaCanvas } from "../../report/draw.ts";

const BLACK: Rgb = [0, 0, 0];
const RED: Rgb = [255, 0, 0];

function pixel(canvas: RgbaCanvas, x: number, y: number): number[] {
  const offset = (y * canvas.width + x) * 4;
  return [...canvas.data.subarray(offset, offset + 4)];
}

/** The canvas as rows of "#" (red) and "." (anything else), for readable pixel assertions. */
function ascii(canvas: RgbaCanvas): string[] {
  return Array.from(
    { length: canvas.height },
    (_, y) =>
      Array.from(
        { length: canvas.width },
        (_, x) => pixel(canvas, x, y)[0] === 255 && pixel(canvas, x, y)[1] === 0 ? "#" : ".",
      )
        .join(""),
  );
}

Deno.test("createCanvas fills every pixel opaquely with the background", () => {
  const canvas = createCanvas(3, 2, [10, 20, 30]);
  assert.equal(canvas.data.length, 3 * 2 * 4);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) assert.deepEqual(pixel(canvas, x, y), [10, 20, 30, 255]);
  }
});

Deno.test("fillRect clips to the canvas", () => {
  const canvas = createCanvas(4, 3, BLACK);
  fillRect(canvas, 2, -1, 5, 3, RED);
  assert.deepEqual(ascii(canvas), ["..##", "..##", "...."]);
});

Deno.test("drawLine draws Bresenham lines in both directions, with a square brush", () => {
  const diagonal = createCanvas(5, 4, BLACK);
  drawLine(diagonal, 4, 3, 0, 1, RED);
  assert.deepEqual(ascii(diagonal), [".....", "##...", "..##.", "....#"]);

  const thick = createCanvas(5, 4, BLACK);
  drawLine(thick, 1, 1, 2, 1, RED, 2); // a 2-pixel brush covers the point and the pixel after it
  assert.deepEqual(ascii(thick), [".....", ".###.", ".###.", "....."]);
  const odd = createCanvas(5, 4, BLACK);
  drawLine(odd, 2, 1, 2, 2, RED, 3); // an odd brush is centred
  assert.deepEqual(ascii(odd), [".###.", ".###.", ".###.", ".###."]);
});

Deno.test("drawImage enlarges by nearest neighbour and shrinks by averaging", () => {
  const source: RgbaCanvas = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 255, 0, 0, 200, 255]) };
  const enlarged = createCanvas(4, 2, BLACK);
  drawImage(enlarged, source, 0, 0, 4, 2);
  assert.deepEqual(ascii(enlarged), ["##..", "##.."]);
  assert.deepEqual(pixel(enlarged, 3, 1), [0, 0, 200, 255]);

  const shrunk = createCanvas(1, 1, BLACK);
  drawImage(shrunk, source, 0, 0, 1, 1);
  assert.deepEqual(pixel(shrunk, 0, 0), [128, 0, 100, 255]);
});
