import assert from "node:assert/strict";
import { mixSeed, permutation, randomInt, SeededRandom } from "../../data/random.ts";

Deno.test("SeededRandom: same seed same sequence, state save/restore, values in [0, 1)", () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const first = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(first, Array.from({ length: 5 }, () => b.next()));
  const saved = a.state;
  const next = Array.from({ length: 5 }, () => a.next());
  const restored = new SeededRandom(0);
  restored.state = saved;
  assert.deepEqual(Array.from({ length: 5 }, () => restored.next()), next);
  const many = Array.from({ length: 10000 }, () => a.next());
  assert.ok(many.every((v) => v >= 0 && v < 1));
  const mean = many.reduce((s, v) => s + v, 0) / many.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02);
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 8000; i++) counts[randomInt(a, 8)]++;
  assert.ok(counts.every((c) => c > 850 && c < 1150), `${counts}`);
});

Deno.test("permutation is a seeded shuffle of 0..n-1; mixSeed separates streams", () => {
  const p = permutation(50, 9);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(permutation(50, 9), p);
  assert.notDeepEqual(permutation(50, 10), p);
  assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  assert.equal(mixSeed(1, 2), mixSeed(1, 2));
});
