/**
 * Adam/AdamW with state in persistent device buffers, and global gradient-norm clipping that never
 * reads back to the host.
 * @module
 */
import { adamStep } from "../kernels/adam.ts";
import { finalizeNorm, partialSlots, scaleByDeviceFactor, sumSquares } from "../kernels/grad_norm.ts";
import { formatShape, ShapeError } from "../base/errors.ts";
import { getRuntime, Tensor } from "./tensor.ts";
import type { EMA } from "./ema.ts";

/** Options of {@link Adam}; the defaults are PyTorch's. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** First-moment decay β1 (default 0.9). */
  beta1?: number;
  /** Second-moment decay β2 (default 0.999). */
  beta2?: number;
  /** Denominator term ε (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay as in AdamW (default 0: plain Adam). */
  weightDecay?: number;
}

/** Adam's state on the host, for checkpoints: the step count and m, v per parameter, in order. */
export interface AdamState {
  /** Steps taken. */
  step: number;
  /** First moments, one per parameter. */
  m: Float32Array[];
  /** Second moments, one per parameter. */
  v: Float32Array[];
}

/**
 * Adam (Kingma & Ba 2015) with bias correction and optional decoupled weight decay, one fused kernel
 * per parameter tensor per step. Moments live in persistent buffers; nothing is read back.
 */
export class Adam {
  /** Learning rate; may be changed between steps (schedules, warm-up). */
  lr: number;
  /** First-moment decay. */
  readonly beta1: number;
  /** Second-moment decay. */
  readonly beta2: number;
  /** Denominator term. */
  readonly eps: number;
  /** Decoupled weight decay. */
  readonly weightDecay: number;
  private steps = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  /** The tensors optimised, in the order of the exported state. */
  readonly params: readonly Tensor[];

  /**
   * Allocates zeroed moments for each parameter.
   * @param params the tensors to optimise (persistent, `requiresGrad`), in a fixed order
   */
  constructor(params: readonly Tensor[], options: AdamOptions = {}) {
    this.params = params;
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.m = params.map((p) =>
      Tensor.zeros(p.shape, { persistent: true, name: `${p.name ?? "param"}.adam_m` })
    );
    this.v = params.map((p) =>
      Tensor.zeros(p.shape, { persistent: true, name: `${p.name ?? "param"}.adam_v` })
    );
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * One update of every parameter that has a gradient (those without one are left untouched).
   * Optionally fused into the same pass: a `guard` from `finiteGuard` (the GPU skips the update when the
   * step's loss was not finite), a `gradScale` from {@link gradNorm} (clipping), and an `ema` to update.
   */
  step(options: { guard?: Tensor | null; gradScale?: Tensor | null; ema?: EMA | null } = {}): void {
    this.steps++;
    const rt = getRuntime();
    const hp = {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      step: this.steps,
    };
    const emaDecay = options.ema?.nextDecay();
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      adamStep(rt, p, this.m[i]!, this.v[i]!, p.grad, hp, {
        guard: options.guard,
        gradScale: options.gradScale,
        emaShadow: options.ema?.shadowOf(i),
        emaDecay,
      });
    });
  }

  /** Drops every parameter's gradient (the next `backward()` starts from nothing). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Copies the state to the host (one round trip for all tensors). */
  async exportState(): Promise<AdamState> {
    const [m, v] = await Promise.all([
      Promise.all(this.m.map((t) => t.read())),
      Promise.all(this.v.map((t) => t.read())),
    ]);
    return { step: this.steps, m, v };
  }

  /** Restores state from {@link exportState}. @throws {ShapeError} when sizes differ from the parameters */
  importState(state: AdamState): void {
    const rt = getRuntime();
    if (state.m.length !== this.params.length || state.v.length !== this.params.length) {
      throw new ShapeError(
        `Adam state holds ${state.m.length}/${state.v.length} moments for ${this.params.length} parameters`,
      );
    }
    this.params.forEach((p, i) => {
      for (
        const [name, values, target] of [["m", state.m[i]!, this.m[i]!], [
          "v",
          state.v[i]!,
          this.v[i]!,
        ]] as const
      ) {
        if (values.length !== p.size) {
          throw new ShapeError(
            `Adam ${name} for ${p.name ?? `parameter ${i}`} ${formatShape(p.shape)}: ${values.length} values`,
          );
        }
        rt.write(target.buffer, values as Float32Array<ArrayBuffer>);
      }
    });
    this.steps = state.step;
  }

  /** Frees the moment buffers. */
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** The global gradient norm and the clip factor, both on the GPU. */
export interface GradNorm {
  /** ‖g‖ over all gradients, [1]. */
  norm: Tensor;
  /** min(1, maxNorm / (‖g‖ + 1e-6)), [1]: multiply gradients by it (or pass it to `Adam.step`). */
  factor: Tensor;
}

/**
 * ‖g‖, the L2 norm over every parameter's gradient, and the clip factor of
 * `torch.nn.utils.clip_grad_norm_`, computed on the GPU without a readback and without touching the
 * gradients (Adam applies the factor in its own pass).
 */
export function gradNorm(params: readonly Tensor[], maxNorm: number): GradNorm {
  const rt = getRuntime();
  const grads = params.flatMap((p) => (p.grad ? [p.grad] : []));
  const norm = Tensor.zeros([1]);
  const factor = Tensor.full([1], 1);
  if (grads.length === 0) return { norm, factor };
  const slots = grads.reduce((total, g) => total + partialSlots(g.size), 0);
  const partials = Tensor.empty([slots]);
  let offset = 0;
  for (const g of grads) {
    sumSquares(rt, partials, offset, g);
    offset += partialSlots(g.size);
  }
  finalizeNorm(rt, norm, factor, partials, slots, maxNorm);
  partials.dispose();
  return { norm, factor };
}

/**
 * Scales every gradient by min(1, maxNorm / (‖g‖ + 1e-6)), ‖g‖ the L2 norm over all of them
 * (`torch.nn.utils.clip_grad_norm_`), entirely on the GPU. Returns ‖g‖ before clipping as a
 * 1-element tensor, to read at logging time (reading it costs a round trip).
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): Tensor {
  const rt = getRuntime();
  const { norm, factor } = gradNorm(params, maxNorm);
  for (const p of params) if (p.grad) scaleByDeviceFactor(rt, p.grad, factor);
  factor.dispose();
  return norm;
}
