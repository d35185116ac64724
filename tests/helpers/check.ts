/**
 * Forward and gradient checks of GPU ops against plain TypeScript references in float64.
 */
import assert from "node:assert/strict";
import { Tensor } from "../../nn/tensor.ts";
import { backward } from "../../nn/autodiff.ts";
import { randomArray } from "./random.ts";

/** A host tensor: values and shape. */
export interface HostTensor {
  data: Float64Array | Float32Array;
  shape: number[];
}

/** Asserts |actual − expected| ≤ rtol·max(1, max|expected|) elementwise, naming the worst index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!(err <= worst)) {
      worst = err;
      worstAt = i;
    }
  }
  assert.ok(
    worst <= rtol * scale,
    `${what}: max error ${worst} at ${worstAt} (got ${actual[worstAt]}, want ${expected[worstAt]}) > ${
      rtol * scale
    }`,
  );
}

/** Options for {@link checkOp}. */
export interface CheckOptions {
  /** Relative tolerance of the forward check (default 1e-4). */
  forwardTol?: number;
  /** Relative tolerance of the gradient check (default 2e-3). */
  gradTol?: number;
  /** Finite-difference step (default 1e-3). */
  step?: number;
  /** Indices of inputs whose gradients are checked (default all). */
  gradInputs?: number[];
  /** Seed for the output weighting. */
  seed?: number;
}

/**
 * Checks a GPU op against its reference: the forward output, then the gradient of
 * L = Σ w·op(inputs) for random w, against central finite differences of the reference in float64.
 */
export async function checkOp(
  name: string,
  inputs: HostTensor[],
  gpuOp: (...xs: Tensor[]) => Tensor,
  reference: (...xs: HostTensor[]) => HostTensor,
  options: CheckOptions = {},
): Promise<void> {
  const expected = reference(...inputs.map((x) => ({ data: Float64Array.from(x.data), shape: x.shape })));
  const xs = inputs.map((x) => Tensor.fromArray(Float32Array.from(x.data), x.shape, { requiresGrad: true }));
  const y = gpuOp(...xs);
  assert.deepEqual([...y.shape], expected.shape, `${name}: output shape`);
  assertClose(await y.read(), expected.data, options.forwardTol ?? 1e-4, `${name} forward`);

  const weights = randomArray(y.size, options.seed ?? 7);
  const weightTensor = Tensor.fromArray(weights, y.shape);
  backward(y, weightTensor);
  const h = options.step ?? 1e-3;
  const loss = (xsHost: HostTensor[]): number => {
    const out = reference(...xsHost).data;
    let total = 0;
    for (let i = 0; i < out.length; i++) total += weights[i]! * out[i]!;
    return total;
  };
  for (const k of options.gradInputs ?? inputs.map((_, i) => i)) {
    const grad = xs[k]!.grad;
    assert.ok(grad, `${name}: input ${k} got no gradient`);
    const numeric = new Float64Array(inputs[k]!.data.length);
    const hosts = inputs.map((x) => ({ data: Float64Array.from(x.data), shape: x.shape }));
    for (let i = 0; i < numeric.length; i++) {
      const original = hosts[k]!.data[i]!;
      hosts[k]!.data[i] = original + h;
      const plus = loss(hosts);
      hosts[k]!.data[i] = original - h;
      const minus = loss(hosts);
      hosts[k]!.data[i] = original;
      numeric[i] = (plus - minus) / (2 * h);
    }
    assertClose(await grad.read(), numeric, options.gradTol ?? 2e-3, `${name} gradient of input ${k}`);
  }
  for (const x of xs) {
    x.grad?.dispose();
    x.dispose();
  }
  y.dispose();
  weightTensor.dispose();
}

/** A random host tensor of `shape` with values in [lo, hi). */
export function randomHost(shape: number[], seed: number, lo = -1, hi = 1): HostTensor {
  return { data: Float64Array.from(randomArray(shape.reduce((a, b) => a * b, 1), seed, lo, hi)), shape };
}
