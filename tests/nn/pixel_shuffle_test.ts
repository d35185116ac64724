import assert from "node:assert/strict";
import { pixelShuffle, pixelUnshuffle } from "../../nn/ops/pixel_shuffle.ts";
import { Tensor } from "../../nn/tensor.ts";
import { backward } from "../../nn/autodiff.ts";
import { ShapeError } from "../../base/errors.ts";
import { assertClose, checkOp, type HostTensor, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";

/** PyTorch's pixel_shuffle in float64: out[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w]. */
function pixelShuffleReference(x: HostTensor, r: number): HostTensor {
  const [n, cr2, h, w] = x.shape as [number, number, number, number];
  const c = cr2 / (r * r);
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < r; j++) {
          for (let y = 0; y < h; y++) {
            for (let v = 0; v < w; v++) {
              const from = ((b * cr2 + k * r * r + i * r + j) * h + y) * w + v;
              const to = ((b * c + k) * h * r + y * r + i) * w * r + v * r + j;
              out[to] = x.data[from]!;
            }
          }
        }
      }
    }
  }
  return { data: out, shape: [n, c, h * r, w * r] };
}

/** PyTorch's pixel_unshuffle in float64: out[n, c·r² + i·r + j, h, w] = x[n, c, h·r + i, w·r + j]. */
function pixelUnshuffleReference(x: HostTensor, r: number): HostTensor {
  const [n, c, hr, wr] = x.shape as [number, number, number, number];
  const [h, w] = [hr / r, wr / r];
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < r; j++) {
          for (let y = 0; y < h; y++) {
            for (let v = 0; v < w; v++) {
              const to = ((b * c * r * r + k * r * r + i * r + j) * h + y) * w + v;
              const from = ((b * c + k) * hr + y * r + i) * wr + v * r + j;
              out[to] = x.data[from]!;
            }
          }
        }
      }
    }
  }
  return { data: out, shape: [n, c * r * r, h, w] };
}

// [input shape, r]: batches above 1, odd H and W, C·r² not a multiple of 4, r = 1 (a copy). Output rows
// (W·r for the shuffle, W for the unshuffle) of a multiple of 4 take the vec4 path, the others the
// per-float one; the last cases of each list are a few thousand floats.
const shuffleCases: [number[], number][] = [
  [[2, 12, 5, 7], 2],
  [[1, 18, 3, 5], 3],
  [[3, 9, 4, 1], 3],
  [[2, 16, 3, 2], 4],
  [[1, 48, 5, 3], 4],
  [[2, 3, 5, 7], 1],
  [[2, 12, 6, 8], 2],
  [[2, 12, 17, 19], 2],
  [[2, 12, 17, 20], 2],
];
const unshuffleCases: [number[], number][] = [
  [[2, 3, 10, 14], 2],
  [[1, 2, 9, 15], 3],
  [[3, 5, 6, 3], 3],
  [[2, 1, 12, 8], 4],
  [[2, 3, 5, 7], 1],
  [[2, 3, 8, 16], 2],
  [[1, 2, 6, 12], 3],
  [[2, 1, 16, 16], 4],
  [[2, 3, 34, 38], 2],
  [[2, 3, 34, 40], 2],
];

/** Uploads `host` as a leaf tensor that requires a gradient. */
function leaf(host: HostTensor): Tensor {
  return Tensor.fromArray(Float32Array.from(host.data), host.shape, { requiresGrad: true });
}

Deno.test("pixelShuffle and pixelUnshuffle match PyTorch's index formulas", gpuTest, async () => {
  await withRuntime(async () => {
    let seed = 1;
    for (const [shape, r] of shuffleCases) {
      const x = randomHost(shape, seed++);
      const expected = pixelShuffleReference(x, r);
      const y = pixelShuffle(leaf(x), r);
      assert.deepEqual([...y.shape], expected.shape, `pixelShuffle ${shape} r=${r}: shape`);
      // A permutation moves bits: exact.
      assertClose(await y.read(), expected.data, 0, `pixelShuffle ${shape} r=${r}`);
    }
    for (const [shape, r] of unshuffleCases) {
      const x = randomHost(shape, seed++);
      const expected = pixelUnshuffleReference(x, r);
      const y = pixelUnshuffle(leaf(x), r);
      assert.deepEqual([...y.shape], expected.shape, `pixelUnshuffle ${shape} r=${r}: shape`);
      assertClose(await y.read(), expected.data, 0, `pixelUnshuffle ${shape} r=${r}`);
    }
  });
});

Deno.test("pixelUnshuffle inverts pixelShuffle and vice versa", gpuTest, async () => {
  await withRuntime(async () => {
    let seed = 31;
    for (const [shape, r] of shuffleCases) {
      const x = randomHost(shape, seed++);
      const roundTrip = pixelUnshuffle(pixelShuffle(leaf(x), r), r);
      assert.deepEqual(
        await roundTrip.read(),
        Float32Array.from(x.data),
        `unshuffle(shuffle) ${shape} r=${r}`,
      );
    }
    for (const [shape, r] of unshuffleCases) {
      const x = randomHost(shape, seed++);
      const roundTrip = pixelShuffle(pixelUnshuffle(leaf(x), r), r);
      assert.deepEqual(
        await roundTrip.read(),
        Float32Array.from(x.data),
        `shuffle(unshuffle) ${shape} r=${r}`,
      );
    }
  });
});

Deno.test("gradients: each op's backward is the other applied to the output gradient", gpuTest, async () => {
  await withRuntime(async () => {
    let seed = 61;
    // d/dx Σ pixelShuffle(x)·g = pixelUnshuffle(g), and d/dx Σ pixelUnshuffle(x)·g = pixelShuffle(g).
    const cases = [
      ...shuffleCases.map(([shape, r]) => ({ op: pixelShuffle, shape, r, adjoint: pixelUnshuffleReference })),
      ...unshuffleCases.map(([shape, r]) => ({
        op: pixelUnshuffle,
        shape,
        r,
        adjoint: pixelShuffleReference,
      })),
    ];
    for (const { op, shape, r, adjoint } of cases) {
      const x = leaf(randomHost(shape, seed++));
      const y = op(x, r);
      const g = randomHost([...y.shape], seed++);
      backward(y, Tensor.fromArray(Float32Array.from(g.data), g.shape));
      assert.ok(x.grad, `${op.name} ${shape} r=${r}: no gradient`);
      assert.deepEqual([...x.grad.shape], shape);
      assertClose(await x.grad.read(), adjoint(g, r).data, 0, `${op.name} ${shape} r=${r} gradient`);
    }
    // The repo-wide finite-difference check on tiny shapes, through a chain of both ops.
    await checkOp(
      "pixelShuffle",
      [randomHost([2, 8, 3, 2], seed++)],
      (t) => pixelShuffle(t, 2),
      (h) => pixelShuffleReference(h, 2),
    );
    await checkOp(
      "pixelUnshuffle(pixelShuffle)",
      [randomHost([1, 9, 2, 3], seed++)],
      (t) => pixelUnshuffle(pixelShuffle(t, 3), 3),
      (h) => h,
    );
  });
});

Deno.test("pixelShuffle and pixelUnshuffle reject bad shapes before queueing work", gpuTest, async () => {
  await withRuntime((rt) => {
    const before = rt.counters().dispatches;
    const throwsShape = (fn: () => unknown, pattern: RegExp): void =>
      assert.throws(fn, (e: unknown) => e instanceof ShapeError && pattern.test(e.message));
    throwsShape(() => pixelShuffle(Tensor.empty([1, 6, 2, 2]), 2), /pixelShuffle.*\[1, 6, 2, 2\].*r² = 4/);
    throwsShape(() => pixelShuffle(Tensor.empty([6, 2, 2]), 1), /pixelShuffle.*\[N, C, H, W\].*\[6, 2, 2\]/);
    throwsShape(() => pixelShuffle(Tensor.empty([1, 4, 2, 2]), 0), /positive integer, got 0/);
    throwsShape(() => pixelShuffle(Tensor.empty([1, 4, 2, 2]), 1.5), /positive integer, got 1.5/);
    throwsShape(() => pixelUnshuffle(Tensor.empty([1, 1, 4, 6]), 4), /pixelUnshuffle.*\[1, 1, 4, 6\].*r = 4/);
    throwsShape(() => pixelUnshuffle(Tensor.empty([1, 1, 6, 4]), 4), /multiples of r = 4/);
    assert.equal(rt.counters().dispatches, before);
  });
});
