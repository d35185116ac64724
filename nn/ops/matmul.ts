/**
 * Differentiable matrix products: batched `matmul` with optional transposes, and `linear`
 * (PyTorch's x·Wᵀ + b). Both run on the GEMM kernels of `kernels/matmul.ts`; their gradients are
 * products of the same kernel with the transposes rearranged, so no transpose is ever materialised.
 * @module
 */
import * as kernels from "../../kernels/matmul.ts";
import { formatShape, ShapeError } from "../../base/errors.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";
import { sumTo } from "./reduce.ts";

export type { MatmulOptions } from "../../kernels/matmul.ts";

/** op(A)·op(B) (+ bias over columns) without recording: the forward and every gradient product. */
function product(a: Tensor, b: Tensor, options: kernels.MatmulOptions, bias: Tensor | null = null): Tensor {
  const out = Tensor.empty(kernels.matmulGeometry(a.shape, b.shape, options).outShape);
  kernels.matmul(getRuntime(), out, a, b, options, bias);
  return out;
}

/** A gradient computed per batch element, summed down to a 2-D operand that every element shared. */
function reduceToShape(grad: Tensor, shape: readonly number[]): Tensor {
  if (grad.shape.length === shape.length) return grad;
  const reduced = sumTo(grad, shape);
  grad.dispose();
  return reduced;
}

/**
 * op(A)·op(B) for a [M, K] or [B, M, K] and b [K, N] or [B, K, N] (transposed storage with
 * `transA`/`transB`); a 2-D operand is shared by every batch element.
 * @throws {ShapeError} naming both shapes when they do not multiply, before any work is queued
 */
export function matmul(a: Tensor, b: Tensor, options: kernels.MatmulOptions = {}): Tensor {
  const { transA = false, transB = false } = options;
  return record("matmul", [a, b], product(a, b, options), (gy, needs) => {
    // With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC, then undo the transposes.
    const gradA = (): Tensor =>
      transA ? product(b, gy, { transA: transB, transB: true }) : product(gy, b, { transB: !transB });
    const gradB = (): Tensor =>
      transB ? product(gy, a, { transA: true, transB: transA }) : product(a, gy, { transA: !transA });
    return [
      needs[0] ? reduceToShape(gradA(), a.shape) : null,
      needs[1] ? reduceToShape(gradB(), b.shape) : null,
    ];
  });
}

/**
 * x·Wᵀ + b for x [N, in], weight [out, in] and bias [out] (PyTorch's `nn.Linear` layout), with the
 * bias added in the product's epilogue.
 * @throws {ShapeError} naming the shapes that do not fit, before any work is queued
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (x.shape.length !== 2 || weight.shape.length !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new ShapeError(
      `linear: input ${formatShape(x.shape)} and weight ${
        formatShape(weight.shape)
      } must be [N, in] and [out, in]`,
    );
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(
      `linear: bias ${formatShape(bias.shape)} must be [${weight.shape[0]}] for weight ${
        formatShape(weight.shape)
      }`,
    );
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record("linear", inputs, product(x, weight, { transB: true }, bias), (gy, needs) => [
    needs[0] ? product(gy, weight, {}) : null,
    needs[1] ? product(gy, x, { transA: true }) : null,
    needs[2] ? sumTo(gy, [weight.shape[0]!]) : null,
  ]);
}
