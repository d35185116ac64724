import assert from "node:assert/strict";
import { DataError } from "../../base/errors.ts";
import { cheapestTileSize, type FinishedRows, planTiles, TileBlender } from "../../data/tiling.ts";

Deno.test("planTiles: stride tileSize − 2·padding, last tile shifted inwards, one tile when the raster fits", () => {
  const plan = planTiles("lr.tif", 100, 32, 32, 4);
  assert.deepEqual(plan.columns, [0, 24, 48, 68]);
  assert.deepEqual(plan.rows, [0]);
  assert.equal(plan.tiles.length, 4);
  assert.deepEqual(plan.tiles[3], { index: 3, x: 68, y: 0, row: 0 });
  assert.deepEqual(planTiles("lr.tif", 56, 57, 32, 4).rows, [0, 24, 25]);
  assert.deepEqual(planTiles("lr.tif", 64, 64, 32, 0).columns, [0, 32]);
  assert.throws(() => planTiles("lr.tif", 31, 100, 32, 4), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.equal(error.message, "lr.tif: raster of 31×100 is smaller than one 32×32 model tile");
    return true;
  });
  assert.throws(() => planTiles("lr.tif", 100, 100, 32, 16), RangeError);
});

/** A smooth test image: band-sequential, `bands` × height × width. */
function image(width: number, height: number, bands: number): Float32Array {
  const out = new Float32Array(bands * width * height);
  for (let b = 0; b < bands; b++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[(b * height + y) * width + x] = Math.sin(0.1 * x + 0.07 * y + b);
    }
  }
  return out;
}

function crop(
  data: Float32Array,
  width: number,
  height: number,
  x: number,
  y: number,
  size: number,
): Float32Array {
  const bands = data.length / (width * height);
  const out = new Float32Array(bands * size * size);
  for (let b = 0; b < bands; b++) {
    for (let r = 0; r < size; r++) {
      out.set(
        data.subarray((b * height + y + r) * width + x, (b * height + y + r) * width + x + size),
        (b * size + r) * size,
      );
    }
  }
  return out;
}

/** Concatenates streamed row blocks, checking they arrive in order without gaps. */
function collect(blocks: FinishedRows[], width: number, height: number, bands: number): Float32Array {
  const out = new Float32Array(bands * width * height);
  let next = 0;
  for (const block of blocks) {
    assert.equal(block.y, next, "rows arrive in order");
    for (let b = 0; b < bands; b++) {
      for (let r = 0; r < block.count; r++) {
        out.set(
          block.data.subarray((b * block.count + r) * width, (b * block.count + r + 1) * width),
          (b * height + block.y + r) * width,
        );
      }
    }
    next += block.count;
  }
  assert.equal(next, height, "every row was emitted");
  return out;
}

Deno.test("tiles that agree blend back to the exact image; rows stream out after each tile row", () => {
  const [lrWidth, lrHeight, tileSize, factor, bands] = [50, 37, 16, 2, 2];
  const hr = image(lrWidth * factor, lrHeight * factor, bands);
  for (const padding of [0, 2, 5]) {
    const plan = planTiles("lr.tif", lrWidth, lrHeight, tileSize, padding);
    const blender = new TileBlender(plan, factor, bands);
    const blocks: FinishedRows[] = [];
    let maxLiveRows = 0;
    for (const tile of plan.tiles) {
      blender.add(
        tile,
        crop(hr, lrWidth * factor, lrHeight * factor, tile.x * factor, tile.y * factor, tileSize * factor),
      );
      maxLiveRows = Math.max(maxLiveRows, (blender as unknown as { rows: Map<number, unknown> }).rows.size);
      for (let block = blender.takeFinishedRows(); block; block = blender.takeFinishedRows()) {
        blocks.push(block);
      }
    }
    assert.ok(blocks.length >= plan.rows.length, "rows are released tile row by tile row");
    assert.ok(maxLiveRows <= 2 * tileSize * factor, `${maxLiveRows} rows held at once`);
    const out = collect(blocks, lrWidth * factor, lrHeight * factor, bands);
    for (let i = 0; i < out.length; i++) {
      if (Math.abs(out[i]! - hr[i]!) > 1e-5) assert.fail(`padding ${padding}: sample ${i}`);
    }
  }
});

Deno.test("disagreeing tiles cross-fade smoothly with the raised-cosine ramp across the overlap", () => {
  // Two tiles side by side (LR 24 wide, tile 16, padding 4 → overlap 8 LR = 8 HR at factor 1).
  const plan = planTiles("lr.tif", 24, 16, 16, 4);
  assert.deepEqual(plan.columns, [0, 8]);
  const blender = new TileBlender(plan, 1, 1);
  blender.add(plan.tiles[0]!, new Float32Array(256).fill(0));
  blender.add(plan.tiles[1]!, new Float32Array(256).fill(1));
  const rows = blender.takeFinishedRows()!;
  const line = Array.from(rows.data.subarray(0, 24));
  assert.deepEqual(line.slice(0, 8), new Array(8).fill(0));
  assert.deepEqual(line.slice(16), new Array(8).fill(1));
  for (let k = 0; k < 8; k++) {
    const expected = Math.sin((Math.PI / 2) * ((k + 0.5) / 8)) ** 2;
    assert.ok(Math.abs(line[8 + k]! - expected) < 1e-6, `overlap pixel ${k}: ${line[8 + k]} vs ${expected}`);
  }
  assert.ok(rows.valid.every((v) => v === 1));
});

Deno.test("skipped and partly invalid tiles leave nodata (NaN, valid 0) where nothing valid covers", () => {
  const plan = planTiles("lr.tif", 32, 16, 16, 0);
  const blender = new TileBlender(plan, 2, 1);
  const valid = new Uint8Array(32 * 32).fill(1);
  valid.fill(0, 0, 32); // first HR row of the first tile invalid
  blender.add(plan.tiles[0]!, new Float32Array(32 * 32).fill(0.5), valid);
  blender.skip(plan.tiles[1]!);
  const rows = blender.takeFinishedRows()!;
  assert.deepEqual([rows.y, rows.count], [0, 32]);
  assert.ok(Number.isNaN(rows.data[0]!) && rows.valid[0] === 0);
  assert.equal(rows.data[64], 0.5);
  assert.ok(Number.isNaN(rows.data[64 + 40]!) && rows.valid[64 + 40] === 0);
  assert.equal(blender.takeFinishedRows(), null);
  assert.throws(() => blender.skip(plan.tiles[1]!), RangeError);
});

Deno.test("a row window blends only its rows, from every tile that touches them; others are refused", () => {
  const plan = planTiles("lr.tif", 40, 30, 10, 2); // tile rows at y = 0, 6, 12, 18, 20
  const blender = new TileBlender(plan, 2, 1, { start: 24, end: 30 }); // LR rows 12–14
  assert.deepEqual([blender.width, blender.height], [80, 6]);
  assert.deepEqual(plan.rows.map((_, row) => blender.needsRow(row)), [false, true, true, false, false]);
  assert.equal(blender.tileCount, 2 * plan.columns.length);
  const outside = plan.tiles.find((tile) => tile.row === 0)!;
  assert.throws(
    () => blender.add(outside, new Float32Array(400).fill(1)),
    /tile 0 lies outside the row window/,
  );
  assert.throws(() => blender.skip(outside), /outside the row window/);
  for (const tile of plan.tiles.filter((t) => blender.needsRow(t.row))) {
    blender.add(tile, new Float32Array(400).fill(tile.row));
  }
  const rows = blender.takeFinishedRows()!;
  assert.deepEqual([rows.y, rows.count], [0, 6], "rows counted from the window's top");
  assert.equal(blender.takeFinishedRows(), null);
  assert.throws(() => new TileBlender(plan, 2, 1, { start: 10, end: 10 }), /empty/);
  assert.throws(() => new TileBlender(plan, 2, 1, { start: 0, end: 61 }), /ends below the raster's 60 rows/);
});

Deno.test("cheapestTileSize: the side that processes the fewest pixels, larger on ties, never larger than the raster", () => {
  // 39 px with 1 px padding: 8 → 7 tiles (8 + 6·6 ≥ 39), 16 → 3 tiles (16 + 14·2 ≥ 39).
  assert.equal(cheapestTileSize(39, 39, 1, [8, 16, 32]), 16);
  // 24 → 2 tiles (24 + 22 ≥ 39): 4 · 576 = 2304 = 9 · 256, a tie that goes to the larger side.
  assert.equal(cheapestTileSize(39, 39, 1, [8, 16, 24]), 24);
  // 62 px: 32 → 2 tiles (32 + 30) covers exactly; 16 → 5 tiles.
  assert.equal(cheapestTileSize(62, 62, 1, [8, 16, 32]), 32);
  // A raster narrower than every tile but the chip keeps the chip.
  assert.equal(cheapestTileSize(10, 200, 1, [8, 16, 32]), 8);
  // 40 px: 32 needs 2 × 2 tiles of 1024 (4096 px), 8 needs 7 × 7 of 64 (3136): larger is not always cheaper.
  assert.equal(cheapestTileSize(40, 40, 1, [8, 32]), 8);
  // Equal cost (25 · 64 = 16 · 100 at 30 px) goes to the larger side.
  assert.equal(cheapestTileSize(30, 30, 1, [8, 10]), 10);
});
