/**
 * Reverse-mode automatic differentiation over a tape of recorded operations.
 *
 * Each differentiable op records a {@link TapeNode} on its output: the inputs and a `backward`
 * that maps the output's gradient to the inputs' gradients (only those `needsGrad` asks for).
 * `backward()` walks the graph once in reverse topological order, found iteratively: a UNet's
 * skip connections would make a recursive per-path walk exponential (micrograd's `engine.py` is the
 * idea; Burn's `burn-autodiff` the shape).
 * @module
 */
import { binary } from "../kernels/elementwise.ts";
import { getRuntime, Tensor, tidy } from "./tensor.ts";
import { formatShape, ShapeError } from "../base/errors.ts";

/** Gradient rule of one recorded operation. */
export interface TapeNode {
  /** Op name, for messages. */
  readonly name: string;
  /** The op's tensor inputs, in the order `backward` returns their gradients. */
  readonly inputs: readonly Tensor[];
  /**
   * Maps the output gradient to one gradient per input (`null` where `needsGrad[i]` is false).
   * Returned tensors are new; the engine owns and disposes them.
   */
  readonly backward: (gradOutput: Tensor, needsGrad: readonly boolean[]) => (Tensor | null)[];
}

let gradEnabled = true;

/** Whether new ops are recorded on the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording anything on the tape (sampling, evaluation, optimizer steps). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * Attaches a gradient rule to `output` when recording is on and some input requires a gradient.
 * Ops call this after computing their forward result; it returns `output` for chaining.
 */
export function record(
  name: string,
  inputs: readonly Tensor[],
  output: Tensor,
  backward: TapeNode["backward"],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.node = { name, inputs, backward };
  }
  return output;
}

/** Tensors reachable from `root` through recorded nodes, producers before consumers. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: { tensor: Tensor; next: number }[] = [{ tensor: root, next: 0 }];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const inputs = top.tensor.node?.inputs ?? [];
    if (top.next < inputs.length) {
      const input = inputs[top.next++]!;
      if (input.requiresGrad && !visited.has(input)) {
        visited.add(input);
        stack.push({ tensor: input, next: 0 });
      }
    } else {
      order.push(top.tensor);
      stack.pop();
    }
  }
  return order;
}

function accumulate(into: Map<Tensor, Tensor>, tensor: Tensor, grad: Tensor, add: AddFn): void {
  const previous = into.get(tensor);
  if (!previous) {
    into.set(tensor, grad);
    return;
  }
  into.set(tensor, add(previous, grad));
  previous.dispose();
  grad.dispose();
}

/** Elementwise sum of two same-shaped tensors. */
type AddFn = (a: Tensor, b: Tensor) => Tensor;

/** Sums gradients that meet at a tensor: the elementwise kernel itself, so nothing is recorded. */
function addGradients(a: Tensor, b: Tensor): Tensor {
  const out = Tensor.empty(a.shape);
  binary(getRuntime(), "add", out, a, b, 1);
  return out;
}

/**
 * Computes gradients of `output` (a scalar unless `gradOutput` is given) with respect to every leaf
 * tensor with `requiresGrad`, adding them into each leaf's `.grad` (which the caller owns and clears).
 * Intermediate gradients are disposed as soon as they are consumed.
 */
export function backward(output: Tensor, gradOutput?: Tensor): void {
  const add = addGradients;
  if (!output.requiresGrad) {
    throw new ShapeError(`backward(): ${output} does not depend on any tensor that requires a gradient`);
  }
  if (gradOutput && gradOutput.shape.join() !== output.shape.join()) {
    throw new ShapeError(
      `backward(): gradient ${formatShape(gradOutput.shape)} does not match output ${
        formatShape(output.shape)
      }`,
    );
  }
  if (!gradOutput && output.size !== 1) {
    throw new ShapeError(
      `backward(): output ${formatShape(output.shape)} is not a scalar; pass its gradient`,
    );
  }
  noGradTidy(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(output, gradOutput ? gradOutput.view(gradOutput.shape) : Tensor.full(output.shape, 1));
    const order = topologicalOrder(output);
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i]!;
      const grad = grads.get(tensor);
      if (!grad) continue;
      grads.delete(tensor);
      const node = tensor.node;
      if (!node) {
        const leafGrad = tensor.grad ? add(tensor.grad, grad) : grad.view(grad.shape);
        tensor.grad?.dispose();
        tensor.grad = leafGrad.keep();
        grad.dispose();
        continue;
      }
      const needs = node.inputs.map((t) => t.requiresGrad);
      const inputGrads = node.backward(grad, needs);
      const seen = new Set<Tensor>();
      node.inputs.forEach((input, k) => {
        let g = inputGrads[k];
        if (!g || !needs[k]) return;
        if (g.shape.join() !== input.shape.join()) {
          throw new ShapeError(
            `backward of ${node.name} gave a gradient ${formatShape(g.shape)} for input ${
              formatShape(input.shape)
            }`,
          );
        }
        // The same tensor may be handed to several inputs (or be the incoming gradient): give each a view.
        if (seen.has(g) || g === grad) g = g.view(g.shape);
        seen.add(g);
        accumulate(grads, input, g, add);
      });
      grad.dispose();
    }
  });
}

function noGradTidy(fn: () => void): void {
  noGrad(() => tidy(fn));
}
