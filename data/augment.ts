/**
 * Crops and the eight flips/rotations of a square image (the dihedral group D4), applied identically to a
 * high-resolution chip, its condition and its mask so the pair stays aligned.
 * @module
 */

/** One of the 8 symmetries of a square: rotation by `quarterTurns`·90° (counter-clockwise), then a flip. */
export interface Symmetry {
  /** 0–3 quarter turns. */
  quarterTurns: number;
  /** Mirror left–right after rotating. */
  flip: boolean;
}

/** The symmetry with index 0–7 (0 is the identity). */
export function symmetry(index: number): Symmetry {
  return { quarterTurns: index & 3, flip: (index & 4) !== 0 };
}

/**
 * Applies a symmetry to a band-sequential square image of side `size`, writing into `out` at `outOffset`.
 * Output pixel (x, y) takes the input pixel that the inverse transform maps it to.
 */
export function transformSquare(
  image: Float32Array,
  size: number,
  { quarterTurns, flip }: Symmetry,
  out: Float32Array,
  outOffset = 0,
): void {
  const pixels = size * size;
  const bands = image.length / pixels;
  const last = size - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const fx = flip ? last - x : x;
      let sx = fx;
      let sy = y;
      // Undo the counter-clockwise rotation: each quarter turn maps (x, y) ← (last − y, x).
      for (let t = 0; t < quarterTurns; t++) [sx, sy] = [last - sy, sx];
      const from = sy * size + sx;
      const to = outOffset + y * size + x;
      for (let b = 0; b < bands; b++) out[to + b * pixels] = image[b * pixels + from]!;
    }
  }
}

/** Copies the `size`×`size` window at (x, y) of a band-sequential image of width × height. */
export function cropSquare(
  image: Float32Array,
  width: number,
  height: number,
  x: number,
  y: number,
  size: number,
): Float32Array {
  if (x < 0 || y < 0 || x + size > width || y + size > height) {
    throw new RangeError(`crop ${size}×${size} at (${x}, ${y}) leaves the ${width}×${height} image`);
  }
  const bands = image.length / (width * height);
  const out = new Float32Array(bands * size * size);
  for (let b = 0; b < bands; b++) {
    for (let row = 0; row < size; row++) {
      const from = (b * height + y + row) * width + x;
      out.set(image.subarray(from, from + size), (b * size + row) * size);
    }
  }
  return out;
}
