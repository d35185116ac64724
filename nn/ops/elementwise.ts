/**
 * Differentiable elementwise ops: broadcasting binary arithmetic, scalar affine maps, and the
 * unary functions the UNet and losses use. Each op runs its forward kernel and records a backward
 * built from kernels (`unaryGrad`, `binary`, and `sumTo` for broadcast operands).
 * @module
 */
import * as kernels from "../../kernels/elementwise.ts";
import { broadcastShapes } from "../../kernels/shape_math.ts";
import { record } from "../autodiff.ts";
import { getRuntime, Tensor } from "../tensor.ts";
import { sumTo } from "./reduce.ts";

function binaryRaw(op: kernels.BinaryOp, a: Tensor, b: Tensor, scale = 1): Tensor {
  const out = Tensor.empty(broadcastShapes(a.shape, b.shape, op));
  kernels.binary(getRuntime(), op, out, a, b, scale);
  return out;
}

function unaryRaw(op: kernels.UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  const out = Tensor.empty(x.shape);
  kernels.unary(getRuntime(), op, out, x, alpha, beta);
  return out;
}

/** a + b with broadcasting. */
export function add(a: Tensor, b: Tensor): Tensor {
  return record("add", [a, b], binaryRaw("add", a, b), (gy, needs) => [
    needs[0] ? sumTo(gy, a.shape) : null,
    needs[1] ? sumTo(gy, b.shape) : null,
  ]);
}

/**
 * (a + b) · scale with broadcasting, in one pass: the rescaled residual sums of SR3's blocks,
 * (h + skip)/√2, without a second pass over the sum.
 */
export function addScaled(a: Tensor, b: Tensor, scale: number): Tensor {
  return record("addScaled", [a, b], binaryRaw("add", a, b, scale), (gy, needs) => {
    const scaled = unaryRaw("affine", gy, scale, 0);
    const ga = needs[0] ? sumTo(scaled, a.shape) : null;
    const gb = needs[1] ? sumTo(scaled, b.shape) : null;
    scaled.dispose(); // views from sumTo keep its storage alive
    return [ga, gb];
  });
}

/** a − b with broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return record("sub", [a, b], binaryRaw("sub", a, b), (gy, needs) => {
    let gb: Tensor | null = null;
    if (needs[1]) {
      const negated = unaryRaw("affine", gy, -1, 0);
      gb = sumTo(negated, b.shape);
      negated.dispose();
    }
    return [needs[0] ? sumTo(gy, a.shape) : null, gb];
  });
}

/** a · b with broadcasting. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return record("mul", [a, b], binaryRaw("mul", a, b), (gy, needs) => {
    const grad = (other: Tensor, shape: readonly number[]): Tensor => {
      const full = binaryRaw("mul", gy, other);
      const reduced = sumTo(full, shape);
      full.dispose();
      return reduced;
    };
    return [needs[0] ? grad(b, a.shape) : null, needs[1] ? grad(a, b.shape) : null];
  });
}

/** a / b with broadcasting. */
export function div(a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw("div", a, b);
  return record("div", [a, b], out, (gy, needs) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      const full = binaryRaw("div", gy, b);
      ga = sumTo(full, a.shape);
      full.dispose();
    }
    if (needs[1]) {
      // d(a/b)/db = −(a/b)/b, so gb = −Σ gy · out / b.
      const quotient = binaryRaw("div", out, b);
      const product = binaryRaw("mul", gy, quotient);
      const negated = unaryRaw("affine", product, -1, 0);
      gb = sumTo(negated, b.shape);
      for (const t of [quotient, product, negated]) t.dispose();
    }
    return [ga, gb];
  });
}

/** alpha · x + beta (scalar multiply, scalar add, negation). */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  return record(
    "affine",
    [x],
    unaryRaw("affine", x, alpha, beta),
    (gy) => [unaryRaw("affine", gy, alpha, 0)],
  );
}

/** x + s for a scalar s. */
export function addScalar(x: Tensor, s: number): Tensor {
  return affine(x, 1, s);
}

/** x · s for a scalar s. */
export function mulScalar(x: Tensor, s: number): Tensor {
  return affine(x, s, 0);
}

/** −x. */
export function neg(x: Tensor): Tensor {
  return affine(x, -1, 0);
}

function unaryOp(op: Exclude<kernels.UnaryOp, "affine">, x: Tensor, alpha = 0, beta = 0): Tensor {
  const y = unaryRaw(op, x, alpha, beta);
  return record(op, [x], y, (gy) => {
    const gx = Tensor.empty(x.shape);
    kernels.unaryGrad(getRuntime(), op, gx, gy, kernels.gradUsesOutput(op) ? y : x, alpha, beta);
    return [gx];
  });
}

/** eˣ. */
export function exp(x: Tensor): Tensor {
  return unaryOp("exp", x);
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unaryOp("log", x);
}

/** √x. */
export function sqrt(x: Tensor): Tensor {
  return unaryOp("sqrt", x);
}

/** |x| (gradient sign(x), 0 at 0). */
export function abs(x: Tensor): Tensor {
  return unaryOp("abs", x);
}

/** x². */
export function square(x: Tensor): Tensor {
  return unaryOp("square", x);
}

/** SiLU / Swish: x · σ(x). */
export function silu(x: Tensor): Tensor {
  return unaryOp("silu", x);
}

/** Logistic sigmoid σ(x) = 1 / (1 + e⁻ˣ). */
export function sigmoid(x: Tensor): Tensor {
  return unaryOp("sigmoid", x);
}

/** Clamps to [lo, hi] (gradient 1 inside, 0 outside). */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  return unaryOp("clamp", x, lo, hi);
}
