import assert from "node:assert/strict";
import { cropSquare, symmetry, transformSquare } from "../../data/augment.ts";

const size = 3;
// Two bands: 0..8 and 10..18, row-major.
const image = Float32Array.from({ length: 18 }, (_, i) => (i < 9 ? i : i + 1));

function apply(index: number, input: Float32Array = image): Float32Array {
  const out = new Float32Array(input.length);
  transformSquare(input, size, symmetry(index), out);
  return out;
}

Deno.test("the 8 symmetries are distinct, the identity is index 0, and bands move together", () => {
  assert.deepEqual(apply(0), image);
  const seen = new Set(Array.from({ length: 8 }, (_, t) => Array.from(apply(t)).join(",")));
  assert.equal(seen.size, 8);
  for (let t = 0; t < 8; t++) {
    const out = apply(t);
    for (let p = 0; p < 9; p++) assert.equal(out[9 + p], out[p]! + 10);
  }
});

Deno.test("a quarter turn is counter-clockwise, four turns are the identity, the flip mirrors left-right", () => {
  assert.deepEqual(Array.from(apply(1).subarray(0, 9)), [2, 5, 8, 1, 4, 7, 0, 3, 6]);
  assert.deepEqual(apply(1, apply(1, apply(1, apply(1)))), image);
  assert.deepEqual(Array.from(apply(4).subarray(0, 9)), [2, 1, 0, 5, 4, 3, 8, 7, 6]);
});

Deno.test("cropSquare copies a window of every band and refuses windows outside the image", () => {
  assert.deepEqual(Array.from(cropSquare(image, 3, 3, 1, 1, 2)), [4, 5, 7, 8, 14, 15, 17, 18]);
  assert.throws(() => cropSquare(image, 3, 3, 2, 0, 2), RangeError);
});
