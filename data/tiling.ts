/**
 * Tiling a large low-resolution raster for whole-raster super-resolution, and blending the
 * super-resolved tiles back into full-resolution rows that stream out in order.
 *
 * Tiles are the model's input size and overlap by 2·padding pixels (arcgis.learn's `padding`: the border
 * of each tile that is blended with its neighbours). Where a raster does not divide evenly, the last tile
 * of a row or column is shifted inwards instead of padded, so the model never sees made-up pixels.
 *
 * Blending window: SR3 is stochastic, so two overlapping tiles disagree in fine detail and cropping at a
 * midline leaves a visible seam. Each tile is weighted by a separable raised-cosine ramp, sin²(π/2·t),
 * over its 2·padding·factor outer pixels on every side that borders another tile (weight 1 inside and on
 * the raster's own edges). The ramp is smooth (zero slope at both ends, so no visible kink), falls towards
 * the tile border where the network sees the least context, and in a regular overlap the two
 * neighbours' ramps are complementary (sin² + cos² = 1), so the result is a true cross-fade; elsewhere the
 * weighted sum is divided by the summed weights.
 * @module
 */
import { DataError } from "../base/errors.ts";

/** One tile of a plan, in low-resolution pixels. */
export interface Tile {
  /** Position in the plan (row-major). */
  index: number;
  /** Column of the tile's upper-left pixel. */
  x: number;
  /** Row of that pixel. */
  y: number;
  /** Index of the tile row this tile belongs to. */
  row: number;
}

/** Tiles covering a raster. */
export interface TilePlan {
  /** Raster width (LR pixels). */
  width: number;
  /** Raster height. */
  height: number;
  /** Tile side (the model's LR input size). */
  tileSize: number;
  /** Overlap on each side between neighbouring tiles is 2·padding. */
  padding: number;
  /** Tile positions along x. */
  columns: number[];
  /** Tile positions along y. */
  rows: number[];
  /** All tiles, row by row. */
  tiles: Tile[];
}

function axisPositions(length: number, tileSize: number, stride: number): number[] {
  const positions: number[] = [];
  for (let p = 0; p + tileSize < length; p += stride) positions.push(p);
  positions.push(length - tileSize); // the last tile, shifted inwards to end at the edge
  return [...new Set(positions)];
}

/**
 * The tile side, among `candidates`, that covers a width × height raster processing the fewest pixels
 * (tiles × side², with 2·padding overlap and the last tile shifted inwards); ties go to the larger tile,
 * which has fewer borders. Candidates larger than the raster are skipped; with none left, the smallest.
 */
export function cheapestTileSize(
  width: number,
  height: number,
  padding: number,
  candidates: readonly number[],
): number {
  let best = Math.min(...candidates);
  let bestCost = Infinity;
  for (const side of [...candidates].sort((a, b) => b - a)) {
    if (side > width || side > height || side - 2 * padding < 1) continue;
    const stride = side - 2 * padding;
    const cost = axisPositions(width, side, stride).length * axisPositions(height, side, stride).length *
      side ** 2;
    if (cost < bestCost) [best, bestCost] = [side, cost];
  }
  return best;
}

/**
 * Plans tiles of `tileSize` over a raster with 2·padding pixels of overlap (stride tileSize − 2·padding).
 * @param path the raster, for error messages
 * @throws {DataError} when the raster is smaller than one tile
 * @throws {RangeError} when the padding leaves no stride
 */
export function planTiles(
  path: string,
  width: number,
  height: number,
  tileSize: number,
  padding: number,
): TilePlan {
  const stride = tileSize - 2 * padding;
  if (!Number.isInteger(padding) || padding < 0 || stride < 1) {
    throw new RangeError(`padding ${padding} must be a whole number below half the tile size ${tileSize}`);
  }
  if (width < tileSize || height < tileSize) {
    throw new DataError(
      `${path}: raster of ${width}×${height} is smaller than one ${tileSize}×${tileSize} model tile`,
    );
  }
  const columns = axisPositions(width, tileSize, stride);
  const rows = axisPositions(height, tileSize, stride);
  const tiles: Tile[] = [];
  rows.forEach((y, row) => columns.forEach((x) => tiles.push({ index: tiles.length, x, y, row })));
  return { width, height, tileSize, padding, columns, rows, tiles };
}

/** sin² ramp weights for `length` pixels; `rampStart`/`rampEnd` say which ends fade. */
function rampWeights(length: number, ramp: number, rampStart: boolean, rampEnd: boolean): Float32Array {
  const weights = new Float32Array(length).fill(1);
  for (let i = 0; i < Math.min(ramp, length); i++) {
    const w = Math.sin((Math.PI / 2) * ((i + 0.5) / ramp)) ** 2;
    if (rampStart) weights[i] = Math.min(weights[i]!, w);
    if (rampEnd) weights[length - 1 - i] = Math.min(weights[length - 1 - i]!, w);
  }
  return weights;
}

/** A band of output rows [start, end) in HR pixels: the part of the raster one shard writes. */
export interface RowWindow {
  /** First row. */
  start: number;
  /** One past the last row. */
  end: number;
}

/** A block of finished output rows. */
export interface FinishedRows {
  /** First row (HR pixels, counted from the top of the blender's window). */
  y: number;
  /** Number of rows. */
  count: number;
  /** Band-sequential values (bands × count × width); NaN where nodata. */
  data: Float32Array;
  /** 1 where a valid value was blended, 0 for nodata (count × width). */
  valid: Uint8Array;
}

interface RowAccumulator {
  sums: Float32Array;
  weights: Float32Array;
}

/**
 * Blends super-resolved tiles (HR = LR·factor) into rows and hands out rows as soon as no later tile can
 * touch them, so memory stays at about two tile rows of output regardless of the raster's size.
 *
 * With a row window it blends only those output rows, from every tile that touches them (including the
 * neighbours whose overlap reaches in). A pixel's weighted sum then adds the same tiles in the same
 * order as a whole-raster blend, so windows that partition the rows reproduce it bit for bit.
 */
export class TileBlender {
  /** HR width. */
  readonly width: number;
  /** HR height of the window (the whole raster's by default). */
  readonly height: number;
  /** The output rows this blender produces, in whole-raster HR rows. */
  readonly window: RowWindow;
  /** Tiles that touch the window. */
  readonly tileCount: number;
  private readonly rows = new Map<number, RowAccumulator>();
  private readonly pendingPerTileRow: number[];
  private readonly weightsX = new Map<number, Float32Array>();
  private readonly weightsY = new Map<number, Float32Array>();
  /** Per tile row: whether its tiles touch the window. */
  private readonly tileRowInWindow: boolean[];
  private nextRowToEmit: number;

  /**
   * Prepares the blending weights of every tile position.
   * @param plan the LR tile plan
   * @param factor HR/LR scale
   * @param bands bands per tile
   * @param window output rows to produce (HR); default all
   * @throws {RangeError} for an empty window or one outside the raster
   */
  constructor(
    private readonly plan: TilePlan,
    readonly factor: number,
    readonly bands: number,
    window?: RowWindow,
  ) {
    this.width = plan.width * factor;
    this.window = window ?? { start: 0, end: plan.height * factor };
    const { start, end } = this.window;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end)) {
      throw new RangeError(`row window [${start}, ${end}) is empty or not whole rows`);
    }
    if (end > plan.height * factor) {
      throw new RangeError(
        `row window [${start}, ${end}) ends below the raster's ${plan.height * factor} rows`,
      );
    }
    this.height = end - start;
    this.nextRowToEmit = start;
    const hrTile = plan.tileSize * factor;
    this.tileRowInWindow = plan.rows.map((y) => y * factor < end && y * factor + hrTile > start);
    this.pendingPerTileRow = this.tileRowInWindow.map((inside) => (inside ? plan.columns.length : 0));
    this.tileCount = this.pendingPerTileRow.reduce((sum, tiles) => sum + tiles, 0);
    const ramp = 2 * plan.padding * factor;
    const lastX = plan.columns.at(-1)!;
    const lastY = plan.rows.at(-1)!;
    for (const x of plan.columns) this.weightsX.set(x, rampWeights(hrTile, ramp, x > 0, x < lastX));
    for (const y of plan.rows) this.weightsY.set(y, rampWeights(hrTile, ramp, y > 0, y < lastY));
  }

  /**
   * Adds one super-resolved tile.
   * @param tile the tile of the plan it belongs to
   * @param data band-sequential HR pixels (bands × (tileSize·factor)²)
   * @param valid per-HR-pixel validity (1 valid, 0 nodata); default all valid
   */
  add(tile: Tile, data: Float32Array, valid?: Uint8Array): void {
    this.assertInWindow(tile);
    const side = this.plan.tileSize * this.factor;
    const pixels = side * side;
    if (data.length !== this.bands * pixels) {
      throw new RangeError(
        `tile ${tile.index}: ${data.length} values, expected ${this.bands}×${side}×${side}`,
      );
    }
    const wx = this.weightsX.get(tile.x)!;
    const wy = this.weightsY.get(tile.y)!;
    const x0 = tile.x * this.factor;
    const y0 = tile.y * this.factor;
    const { start, end } = this.window;
    for (let r = Math.max(0, start - y0); r < Math.min(side, end - y0); r++) {
      const accumulator = this.row(y0 + r);
      for (let c = 0; c < side; c++) {
        const p = r * side + c;
        if (valid && !valid[p]) continue;
        const w = wx[c]! * wy[r]!;
        const column = x0 + c;
        accumulator.weights[column] = accumulator.weights[column]! + w;
        for (let b = 0; b < this.bands; b++) {
          const at = b * this.width + column;
          accumulator.sums[at] = accumulator.sums[at]! + w * data[b * pixels + p]!;
        }
      }
    }
    this.complete(tile);
  }

  /** Whether the tiles of tile row `row` touch the window (the others must be neither added nor skipped). */
  needsRow(row: number): boolean {
    return this.tileRowInWindow[row] ?? false;
  }

  /** Marks a tile as done without data (all nodata); its pixels stay nodata unless other tiles cover them. */
  skip(tile: Tile): void {
    this.assertInWindow(tile);
    this.complete(tile);
  }

  /**
   * The rows that are final and not yet taken, in order, or null when none is ready. Rows that no valid
   * tile pixel covered are nodata.
   */
  takeFinishedRows(): FinishedRows | null {
    const firstPending = this.pendingPerTileRow.findIndex((count) => count > 0);
    const end = this.window.end;
    const finishedUpTo = firstPending < 0 ? end : Math.min(end, this.plan.rows[firstPending]! * this.factor);
    if (finishedUpTo <= this.nextRowToEmit) return null;
    const y = this.nextRowToEmit;
    const count = finishedUpTo - y;
    const data = new Float32Array(this.bands * count * this.width);
    const valid = new Uint8Array(count * this.width);
    for (let r = 0; r < count; r++) {
      const accumulator = this.rows.get(y + r);
      this.rows.delete(y + r);
      for (let x = 0; x < this.width; x++) {
        const weight = accumulator?.weights[x] ?? 0;
        const isValid = weight > 0;
        valid[r * this.width + x] = isValid ? 1 : 0;
        for (let b = 0; b < this.bands; b++) {
          data[(b * count + r) * this.width + x] = isValid
            ? accumulator!.sums[b * this.width + x]! / weight
            : Number.NaN;
        }
      }
    }
    this.nextRowToEmit = finishedUpTo;
    return { y: y - this.window.start, count, data, valid };
  }

  /** The accumulator of output row y, created on first use. */
  private row(y: number): RowAccumulator {
    let accumulator = this.rows.get(y);
    if (!accumulator) {
      if (y < this.nextRowToEmit) throw new RangeError(`row ${y} was already emitted; add tiles row by row`);
      accumulator = {
        sums: new Float32Array(this.bands * this.width),
        weights: new Float32Array(this.width),
      };
      this.rows.set(y, accumulator);
    }
    return accumulator;
  }

  /** Counts a tile of its tile row as done. */
  private complete(tile: Tile): void {
    const pending = this.pendingPerTileRow[tile.row]!;
    if (pending === 0) {
      throw new RangeError(`tile row ${tile.row} already complete; tile ${tile.index} added twice`);
    }
    this.pendingPerTileRow[tile.row] = pending - 1;
  }

  /** Refuses a tile whose row does not touch the window (its rows belong to another shard). */
  private assertInWindow(tile: Tile): void {
    if (!this.needsRow(tile.row)) throw new RangeError(`tile ${tile.index} lies outside the row window`);
  }
}
