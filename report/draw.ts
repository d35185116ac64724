/**
 * Drawing primitives on an RGBA pixel buffer: rectangles, lines and resampled copies of images. Used by the
 * plots (loss curves, comparison grids); colours are opaque RGB, there is no blending.
 *
 * @module
 */

/** An 8-bit RGBA image, row-major, 4 bytes per pixel (the same shape as data/image.ts's `RgbaImage`). */
export interface RgbaCanvas {
  /** pixels */
  width: number;
  /** pixels */
  height: number;
  /** `width * height * 4` bytes: R, G, B, A for each pixel, rows top to bottom */
  data: Uint8Array;
}

/** An opaque colour as `[red, green, blue]`, each 0–255. */
export type Rgb = readonly [number, number, number];

/** A new canvas filled with `background`. */
export function createCanvas(width: number, height: number, background: Rgb): RgbaCanvas {
  const canvas = { width, height, data: new Uint8Array(width * height * 4) };
  fillRect(canvas, 0, 0, width, height, background);
  return canvas;
}

/** Sets one pixel; coordinates outside the canvas are ignored, fractional ones are rounded down. */
export function setPixel(canvas: RgbaCanvas, x: number, y: number, color: Rgb): void {
  const column = Math.floor(x);
  const row = Math.floor(y);
  if (column < 0 || row < 0 || column >= canvas.width || row >= canvas.height) return;
  const offset = (row * canvas.width + column) * 4;
  canvas.data[offset] = color[0];
  canvas.data[offset + 1] = color[1];
  canvas.data[offset + 2] = color[2];
  canvas.data[offset + 3] = 255;
}

/** Fills the rectangle `[x, x + width) × [y, y + height)`, clipped to the canvas. */
export function fillRect(
  canvas: RgbaCanvas,
  x: number,
  y: number,
  width: number,
  height: number,
  color: Rgb,
): void {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(canvas.width, Math.floor(x + width));
  const y1 = Math.min(canvas.height, Math.floor(y + height));
  for (let row = y0; row < y1; row++) {
    for (let column = x0; column < x1; column++) setPixel(canvas, column, row, color);
  }
}

/**
 * Draws a straight line between two points (Bresenham), with a square brush `thickness` pixels wide that
 * covers ⌊(thickness − 1)/2⌋ pixels before each point and the rest after it. Endpoints are rounded to the
 * nearest pixel.
 */
export function drawLine(
  canvas: RgbaCanvas,
  fromX: number,
  fromY: number,
  toX: number,
  toY: number,
  color: Rgb,
  thickness = 1,
): void {
  let x = Math.round(fromX);
  let y = Math.round(fromY);
  const endX = Math.round(toX);
  const endY = Math.round(toY);
  const dx = Math.abs(endX - x);
  const dy = -Math.abs(endY - y);
  const stepX = x < endX ? 1 : -1;
  const stepY = y < endY ? 1 : -1;
  const before = Math.floor((thickness - 1) / 2);
  let error = dx + dy;
  for (;;) {
    fillRect(canvas, x - before, y - before, thickness, thickness, color);
    if (x === endX && y === endY) return;
    const doubled = 2 * error;
    if (doubled >= dy) {
      error += dy;
      x += stepX;
    }
    if (doubled <= dx) {
      error += dx;
      y += stepY;
    }
  }
}

/**
 * Copies `image` into the rectangle `[x, x + width) × [y, y + height)` of `canvas`, resampled per axis:
 * nearest neighbour when enlarging (so low-resolution pixels stay visible as blocks), the average of the
 * covered source pixels when shrinking. Alpha is ignored: the result is opaque.
 */
export function drawImage(
  canvas: RgbaCanvas,
  image: RgbaCanvas,
  x: number,
  y: number,
  width: number,
  height: number,
): void {
  for (let row = 0; row < height; row++) {
    const [rowStart, rowEnd] = sourceSpan(row, height, image.height);
    for (let column = 0; column < width; column++) {
      const [columnStart, columnEnd] = sourceSpan(column, width, image.width);
      let red = 0, green = 0, blue = 0;
      for (let sourceRow = rowStart; sourceRow < rowEnd; sourceRow++) {
        for (let sourceColumn = columnStart; sourceColumn < columnEnd; sourceColumn++) {
          const offset = (sourceRow * image.width + sourceColumn) * 4;
          red += image.data[offset] ?? 0;
          green += image.data[offset + 1] ?? 0;
          blue += image.data[offset + 2] ?? 0;
        }
      }
      const count = (rowEnd - rowStart) * (columnEnd - columnStart);
      setPixel(canvas, x + column, y + row, [
        Math.round(red / count),
        Math.round(green / count),
        Math.round(blue / count),
      ]);
    }
  }
}

/** Source pixels `[start, end)` that target pixel `index` of `targetSize` covers; at least one. */
function sourceSpan(index: number, targetSize: number, sourceSize: number): [number, number] {
  const start = Math.floor((index * sourceSize) / targetSize);
  const end = Math.max(start + 1, Math.floor(((index + 1) * sourceSize) / targetSize));
  return [start, Math.min(end, sourceSize)];
}
