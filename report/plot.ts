/**
 * Plots written as PNGs next to a model and into TensorBoard: the training-loss curve and the comparison
 * grid (LR | bicubic | SR3 | HR). Pure TypeScript rasterisation with an embedded bitmap font, so they render
 * the same on every machine without a canvas library or fonts installed.
 *
 * @module
 */
import { createCanvas, drawImage, drawLine, fillRect, type Rgb, type RgbaCanvas } from "./draw.ts";
import { DataError } from "../base/errors.ts";
import { drawText, GLYPH_HEIGHT, GLYPH_WIDTH, textWidth } from "./font.ts";

/** One logged training loss. */
export interface LossPoint {
  /** optimizer step */
  step: number;
  /** loss at that step */
  loss: number;
}

/** Options of {@linkcode plotLossCurve}. */
export interface LossCurveOptions {
  /** Image width in pixels (default 640). */
  width?: number;
  /** Image height in pixels (default 360). */
  height?: number;
  /** Title above the plot (default "Training loss"). */
  title?: string;
  /** Logarithmic loss axis (default false); points with loss ≤ 0 are then left out. */
  logScale?: boolean;
  /** EMA weight of the smoothed line, in [0, 1) (default 0.9; TensorBoard's slider is the same weight). */
  smoothing?: number;
}

const WHITE: Rgb = [255, 255, 255];
const TEXT: Rgb = [40, 40, 40];
const AXIS: Rgb = [110, 110, 110];
const GRID: Rgb = [228, 228, 228];
/** Colour of the raw loss line. */
export const RAW_LOSS_COLOR: Rgb = [166, 206, 227];
/** Colour of the smoothed loss line. */
export const SMOOTHED_LOSS_COLOR: Rgb = [31, 100, 180];

/**
 * Renders the loss curve: the raw loss as a light line, its exponential moving average as a dark line,
 * tick-labelled axes, a title and a legend with the last smoothed value. Non-finite losses are left out.
 */
export function plotLossCurve(points: readonly LossPoint[], options: LossCurveOptions = {}): RgbaCanvas {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const logScale = options.logScale ?? false;
  const smoothing = options.smoothing ?? 0.9;
  if (!(smoothing >= 0 && smoothing < 1)) {
    throw new DataError(`loss curve: smoothing must be in [0, 1), got ${smoothing}`);
  }
  const kept = points
    .filter((point) =>
      Number.isFinite(point.step) && Number.isFinite(point.loss) && (!logScale || point.loss > 0)
    )
    .sort((a, b) => a.step - b.step);
  const smoothed = smoothLoss(kept.map((point) => point.loss), smoothing);

  const canvas = createCanvas(width, height, WHITE);
  drawText(canvas, options.title ?? "Training loss", width / 2, 8, TEXT, { bold: true, align: "center" });

  const steps = kept.map((point) => point.step);
  const xAxis = makeAxis(steps, false);
  const yAxis = makeAxis(kept.map((point) => point.loss), logScale);
  const yLabels = yAxis.ticks.map((tick) => formatTick(tick, yAxis.tickSpacing));
  const left = 14 + Math.max(...yLabels.map(textWidth), textWidth("loss"));
  const area = { left, top: 30, right: width - 20, bottom: height - 14 - 2 * GLYPH_HEIGHT };
  const toX = (step: number): number => area.left + xAxis.fraction(step) * (area.right - area.left);
  const toY = (loss: number): number => area.bottom - yAxis.fraction(loss) * (area.bottom - area.top);

  for (const [i, tick] of yAxis.ticks.entries()) {
    const y = Math.round(toY(tick));
    drawLine(canvas, area.left, y, area.right, y, GRID);
    drawText(canvas, yLabels[i] ?? "", area.left - 6, y - 6, TEXT, { align: "right" });
  }
  for (const tick of xAxis.ticks) {
    const x = Math.round(toX(tick));
    drawLine(canvas, x, area.top, x, area.bottom, GRID);
    drawText(canvas, formatTick(tick, xAxis.tickSpacing), x, area.bottom + 5, TEXT, {
      align: "center",
    });
  }
  drawLine(canvas, area.left, area.top, area.left, area.bottom, AXIS);
  drawLine(canvas, area.left, area.bottom, area.right, area.bottom, AXIS);
  drawText(canvas, logScale ? "loss (log)" : "loss", 8, 8, TEXT);
  drawText(canvas, "step", (area.left + area.right) / 2, height - 6 - GLYPH_HEIGHT, TEXT, {
    align: "center",
  });

  if (kept.length === 0) {
    drawText(canvas, "no data yet", (area.left + area.right) / 2, (area.top + area.bottom) / 2 - 6, AXIS, {
      align: "center",
    });
    return canvas;
  }
  drawPolyline(canvas, kept.map((point) => [toX(point.step), toY(point.loss)]), RAW_LOSS_COLOR, 1);
  drawPolyline(
    canvas,
    kept.map((point, i) => [toX(point.step), toY(smoothed[i] ?? point.loss)]),
    SMOOTHED_LOSS_COLOR,
    2,
  );
  const last = smoothed[smoothed.length - 1] ?? 0;
  drawLegend(canvas, area.right - 8, area.top + 8, [
    ["raw loss", RAW_LOSS_COLOR],
    [`EMA ${smoothing}: ${formatValue(last)} at step ${kept[kept.length - 1]?.step}`, SMOOTHED_LOSS_COLOR],
  ]);
  return canvas;
}

/**
 * Exponential moving average with TensorBoard's bias correction (divide by 1 − weightⁱ⁺¹), so the first
 * values are not pulled towards zero.
 */
export function smoothLoss(values: readonly number[], weight: number): number[] {
  let average = 0;
  let correction = 1;
  return values.map((value) => {
    average = average * weight + (1 - weight) * value;
    correction *= weight;
    return average / (1 - correction);
  });
}

/**
 * About `maxCount` evenly spaced "nice" values (1, 2 or 5 times a power of ten apart) within [min, max].
 */
export function linearTicks(min: number, max: number, maxCount = 6): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / Math.max(1, maxCount - 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const spacing = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let i = Math.ceil(min / spacing); i * spacing <= max + spacing * 1e-9; i++) {
    ticks.push(roundToSpacing(i * spacing, spacing));
  }
  return ticks;
}

/**
 * Ticks for a logarithmic axis over [min, max] (both > 0): powers of ten, with 2× and 5× between them when
 * the range spans at most three decades; falls back to linear ticks when that gives fewer than two.
 */
export function logTicks(min: number, max: number): number[] {
  const multiples = Math.log10(max / min) <= 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let power = Math.floor(Math.log10(min)); power <= Math.ceil(Math.log10(max)); power++) {
    for (const multiple of multiples) {
      const tick = Number((multiple * 10 ** power).toPrecision(12));
      if (tick >= min * (1 - 1e-9) && tick <= max * (1 + 1e-9)) ticks.push(tick);
    }
  }
  return ticks.length >= 2 ? ticks : linearTicks(min, max, 4);
}

/**
 * Formats a tick value: with the decimals that the tick spacing needs on a linear axis, so labels line up
 * ("0.0", "0.5", "1.0"); in its shortest form when `spacing` is null (log axes: "0.02", "0.5", "1").
 * Very large or small values use exponent notation ("2e-5", "1.5e6").
 */
export function formatTick(value: number, spacing: number | null): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || (magnitude < 1e-3 && magnitude !== 0)) {
    return Number(value.toPrecision(3)).toExponential().replace("e+", "e");
  }
  if (spacing === null) return Number(value.toPrecision(6)).toString();
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(spacing) + 1e-9)));
  return value.toFixed(decimals);
}

/** Options of {@linkcode imageGrid}. */
export interface ImageGridOptions {
  /** One label per column, drawn above it, e.g. ["LR", "bicubic", "SR3 (ddim 50)", "HR"]. */
  columnLabels?: readonly string[];
  /** One label per row, drawn left of it. */
  rowLabels?: readonly string[];
  /** Cell size in pixels, square or per axis; default the largest image's width and height. */
  cellSize?: number | { width: number; height: number };
  /** Pixels between cells and around the grid (default 4). */
  gap?: number;
  /** Bold title above the grid. */
  title?: string;
}

/**
 * Lays images out in a labelled grid. Every image is resized to fit its cell (keeping its aspect ratio,
 * centred): enlarged by nearest neighbour, so an LR input shows its real pixels as blocks, and shrunk by
 * averaging. Labels longer than a cell are shortened with "..".
 *
 * The size is `rowLabelWidth + columns·cellWidth + (columns + 1)·gap` by
 * `titleHeight + labelHeight + rows·cellHeight + (rows + 1)·gap`, where each present text line adds
 * 13 pixels + gap, and `rowLabelWidth` is the widest row label + gap (0 without row labels).
 *
 * @throws {DataError} when rows are empty or ragged, or the label counts do not match
 */
export function imageGrid(
  rows: readonly (readonly RgbaCanvas[])[],
  options: ImageGridOptions = {},
): RgbaCanvas {
  const columns = rows[0]?.length ?? 0;
  if (columns === 0) throw new DataError("image grid: expected at least one row with at least one image");
  rows.forEach((row, i) => {
    if (row.length !== columns) {
      throw new DataError(`image grid: row ${i} has ${row.length} images, expected ${columns} like row 0`);
    }
  });
  if (options.columnLabels && options.columnLabels.length !== columns) {
    throw new DataError(`image grid: ${options.columnLabels.length} column labels for ${columns} columns`);
  }
  if (options.rowLabels && options.rowLabels.length !== rows.length) {
    throw new DataError(`image grid: ${options.rowLabels.length} row labels for ${rows.length} rows`);
  }
  const gap = options.gap ?? 4;
  const images = rows.flat();
  const cell = typeof options.cellSize === "number"
    ? { width: options.cellSize, height: options.cellSize }
    : options.cellSize ?? {
      width: Math.max(...images.map((image) => image.width)),
      height: Math.max(...images.map((image) => image.height)),
    };
  const titleHeight = options.title === undefined ? 0 : GLYPH_HEIGHT + gap;
  const labelHeight = options.columnLabels ? GLYPH_HEIGHT + gap : 0;
  const rowLabelWidth = options.rowLabels ? Math.max(...options.rowLabels.map(textWidth)) + gap : 0;
  const width = rowLabelWidth + columns * cell.width + (columns + 1) * gap;
  const height = titleHeight + labelHeight + rows.length * cell.height + (rows.length + 1) * gap;
  const canvas = createCanvas(width, height, WHITE);

  if (options.title !== undefined) {
    drawText(canvas, options.title, width / 2, gap, TEXT, { bold: true, align: "center" });
  }
  const cellLeft = (column: number): number => rowLabelWidth + gap + column * (cell.width + gap);
  const cellTop = (row: number): number => titleHeight + labelHeight + gap + row * (cell.height + gap);
  options.columnLabels?.forEach((label, column) => {
    const text = fitText(label, cell.width);
    drawText(canvas, text, cellLeft(column) + cell.width / 2, titleHeight + gap, TEXT, { align: "center" });
  });
  options.rowLabels?.forEach((label, row) => {
    drawText(canvas, label, gap, cellTop(row) + (cell.height - GLYPH_HEIGHT) / 2, TEXT);
  });
  rows.forEach((images, row) => {
    images.forEach((image, column) => {
      const scale = Math.min(cell.width / image.width, cell.height / image.height);
      const drawnWidth = Math.max(1, Math.round(image.width * scale));
      const drawnHeight = Math.max(1, Math.round(image.height * scale));
      const x = cellLeft(column) + Math.floor((cell.width - drawnWidth) / 2);
      const y = cellTop(row) + Math.floor((cell.height - drawnHeight) / 2);
      drawImage(canvas, image, x, y, drawnWidth, drawnHeight);
    });
  });
  return canvas;
}

interface Axis {
  ticks: number[];
  /** Spacing of linear ticks (sets the decimals of tick labels); null on a log axis, labelled per tick. */
  tickSpacing: number | null;
  /** Position of a value along the axis, 0 at the start and 1 at the end. */
  fraction: (value: number) => number;
}

/** An axis spanning the values with 5 % padding (in log space for a log axis). */
function makeAxis(values: readonly number[], logScale: boolean): Axis {
  const forward = logScale ? Math.log10 : (value: number): number => value;
  const backward = logScale ? (value: number): number => 10 ** value : (value: number): number => value;
  const mapped = values.map(forward);
  let low = mapped.length > 0 ? Math.min(...mapped) : 0;
  let high = mapped.length > 0 ? Math.max(...mapped) : 1;
  if (high - low < 1e-12) {
    const half = logScale ? 0.5 : Math.max(Math.abs(low) * 0.1, 0.5);
    low -= half;
    high += half;
  }
  const padding = (high - low) * 0.05;
  low -= padding;
  high += padding;
  const ticks = logScale ? logTicks(backward(low), backward(high)) : linearTicks(low, high);
  const tickSpacing = logScale ? null : (ticks.length > 1 ? (ticks[1] ?? 0) - (ticks[0] ?? 0) : 1);
  return { ticks, tickSpacing, fraction: (value) => (forward(value) - low) / (high - low) };
}

function drawPolyline(
  canvas: RgbaCanvas,
  points: readonly [number, number][],
  color: Rgb,
  thickness: number,
): void {
  const first = points[0];
  if (first === undefined) return;
  if (points.length === 1) drawLine(canvas, first[0], first[1], first[0], first[1], color, thickness + 2);
  for (let i = 1; i < points.length; i++) {
    const [fromX, fromY] = points[i - 1] ?? first;
    const [toX, toY] = points[i] ?? first;
    drawLine(canvas, fromX, fromY, toX, toY, color, thickness);
  }
}

/** A legend box whose top-right corner is at (right, top). */
function drawLegend(canvas: RgbaCanvas, right: number, top: number, entries: [string, Rgb][]): void {
  const swatch = 18;
  const lineHeight = GLYPH_HEIGHT + 4;
  const boxWidth = 8 + swatch + 6 + Math.max(...entries.map(([label]) => textWidth(label))) + 8;
  const boxHeight = 6 + entries.length * lineHeight + 2;
  const left = right - boxWidth;
  fillRect(canvas, left, top, boxWidth, boxHeight, WHITE);
  drawLine(canvas, left, top, right, top, GRID);
  drawLine(canvas, left, top + boxHeight, right, top + boxHeight, GRID);
  drawLine(canvas, left, top, left, top + boxHeight, GRID);
  drawLine(canvas, right, top, right, top + boxHeight, GRID);
  entries.forEach(([label, color], i) => {
    const y = top + 6 + i * lineHeight;
    drawLine(canvas, left + 8, y + 6, left + 8 + swatch, y + 6, color, 2);
    drawText(canvas, label, left + 8 + swatch + 6, y, TEXT);
  });
}

/** `text`, shortened with ".." so that it fits in `width` pixels. */
function fitText(text: string, width: number): string {
  const maxCharacters = Math.floor(width / GLYPH_WIDTH);
  const characters = [...text];
  if (characters.length <= maxCharacters) return text;
  return characters.slice(0, Math.max(0, maxCharacters - 2)).join("") + "..";
}

/** A loss value with 4 significant digits, in exponent notation when tiny. */
function formatValue(value: number): string {
  return Math.abs(value) < 1e-3 && value !== 0
    ? value.toExponential(3)
    : Number(value.toPrecision(4)).toString();
}

function roundToSpacing(value: number, spacing: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(spacing)) + 1);
  return Number(value.toFixed(Math.min(20, decimals)));
}
