import assert from "node:assert/strict";
import { avgPool2x, concat, split, upsampleNearest2x } from "../../nn/ops/shape.ts";
import { Tensor } from "../../nn/tensor.ts";
import { ShapeError } from "../../base/errors.ts";
import { type OperandAccess, setOperandAccess } from "../../kernels/staging.ts";
import { checkOp, randomHost } from "../helpers/check.ts";
import { gpuTest, withRuntime } from "../helpers/gpu.ts";
import {
  avgPool2xReference,
  concatReference,
  sliceReference,
  upsampleNearest2xReference,
} from "../helpers/reference_layers.ts";

Deno.test("concat along channels and other axes, with gradients for every input", gpuTest, async () => {
  await withRuntime(async () => {
    const cases: [number[][], number][] = [
      [[[2, 3, 5, 7], [2, 5, 5, 7], [2, 1, 5, 7]], 1],
      [[[1, 3, 5, 7], [2, 3, 5, 7]], 0],
      [[[2, 3, 5, 7], [2, 3, 5, 2]], 3],
      [[[2, 3, 5, 7], [2, 3, 5, 2]], -1],
      [[[4, 6], [4, 3]], 1],
      // 70 runs per slab: more than buffer-to-buffer copies take, so the copy kernel runs.
      [[[70, 3], [70, 2]], 1],
    ];
    let seed = 1;
    for (const [shapes, axis] of cases) {
      const inputs = shapes.map((s) => randomHost(s, seed++));
      const a = axis < 0 ? axis + shapes[0]!.length : axis;
      await checkOp(
        `concat axis ${axis}`,
        inputs,
        (...xs) => concat(xs, axis),
        (...xs) => concatReference(xs, a),
      );
    }
  });
});

Deno.test("split is the inverse of concat, and its pieces' gradients accumulate", gpuTest, async () => {
  await withRuntime(async () => {
    const x = randomHost([2, 6, 5, 7], 11);
    const sizes = [2, 1, 3];
    const starts = [0, 2, 3];
    for (let k = 0; k < sizes.length; k++) {
      await checkOp(
        `split piece ${k}`,
        [x],
        (t) => split(t, sizes)[k]!,
        (h) => sliceReference(h, 1, starts[k]!, sizes[k]!),
      );
    }
    // All pieces feed one output (in reverse order), so x's gradient sums three padded pieces.
    await checkOp(
      "concat(reverse(split))",
      [x],
      (t) => concat(split(t, sizes).reverse()),
      (h) => concatReference([2, 1, 0].map((k) => sliceReference(h, 1, starts[k]!, sizes[k]!)), 1),
    );
    const y = randomHost([3, 10], 12);
    await checkOp(
      "split axis 1 of a matrix",
      [y],
      (t) => split(t, [7, 3], -1)[1]!,
      (h) => sliceReference(h, 1, 7, 3),
    );
  });
});

Deno.test("upsampleNearest2x and avgPool2x match references, with gradients", gpuTest, async () => {
  // Both operand accesses; odd widths take the float loop, widths with whole output texels the texel one.
  for (const access of ["texture", "storage"] as OperandAccess[]) {
    await withRuntime(async (rt) => {
      setOperandAccess(rt, access);
      let seed = 21;
      for (const shape of [[2, 3, 5, 7], [2, 3, 3, 4], [1, 2, 2, 6]]) {
        await checkOp(
          `${access} upsample ${shape}`,
          [randomHost(shape, seed++)],
          upsampleNearest2x,
          (h) => upsampleNearest2xReference(h!),
        );
      }
      for (const shape of [[2, 3, 6, 10], [2, 3, 4, 8], [1, 2, 2, 16]]) {
        await checkOp(
          `${access} avgPool2x ${shape}`,
          [randomHost(shape, seed++)],
          avgPool2x,
          (h) => avgPool2xReference(h!),
        );
      }
    });
  }
});

Deno.test("shape ops reject mismatched shapes before queueing work", gpuTest, async () => {
  await withRuntime((rt) => {
    const a = Tensor.zeros([2, 3, 4, 4]);
    const b = Tensor.zeros([2, 3, 5, 4]);
    const before = rt.counters().dispatches;
    assert.throws(
      () => concat([a, b]),
      (e: unknown) => e instanceof ShapeError && /\[2, 3, 5, 4\].*\[2, 3, 4, 4\]/.test(e.message),
    );
    assert.throws(() => split(a, [1, 1]), ShapeError);
    assert.throws(() => concat([a], 4), ShapeError);
    assert.throws(() => avgPool2x(Tensor.empty([1, 1, 3, 4])), ShapeError);
    assert.throws(() => upsampleNearest2x(Tensor.empty([3, 4])), ShapeError);
    assert.equal(rt.counters().dispatches, before);
  });
});
